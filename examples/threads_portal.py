"""A Flask app on a threaded WSGI server whose request handlers reach actors through the portal.

Trio runs the actors in the main thread; werkzeug answers requests on threads of its own,
where nothing is async: each handler reaches the runtime with ``rt.portal``. ``portal.spawn``
opens a cart (an actor), ``portal.tell`` adds to it, ``portal.ask(..., timeout=)`` reads or
checks it out (a cart too slow to answer is a 504), and a trouper error is a 500. Run
directly, it serves scripted requests to itself from eight client threads, then stops.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import attrs
import httpx
import trio
from flask import Flask
from werkzeug.serving import make_server

import trouper
from trouper import Actor, ActorError, ActorRef, Request, handler
from trouper.runtime import Portal


@attrs.frozen
class Add:
    item: str


@attrs.frozen
class Contents(Request[list[str]]):
    pass


@attrs.frozen
class Checkout(Request[int]):
    pass


class Cart(Actor):
    def __init__(self, charge_seconds: float = 0.0) -> None:
        self.items: list[str] = []
        self.charge_seconds = charge_seconds  # how long the payment takes

    @handler
    async def add(self, message: Add) -> None:
        self.items.append(message.item)

    @handler
    async def contents(self, message: Contents) -> list[str]:
        return sorted(self.items)

    @handler
    async def checkout(self, message: Checkout) -> int:
        await trio.sleep(self.charge_seconds)
        return len(self.items)


def create_app(portal: Portal, *, charge_seconds: float = 0.0) -> Flask:
    app = Flask(__name__)
    carts: dict[str, ActorRef[object]] = {}  # request threads share it (under the GIL)

    @app.post("/carts/<name>")
    def open_cart(name: str) -> tuple[dict[str, str], int]:
        carts[name] = portal.spawn(Cart, charge_seconds=charge_seconds, name=f"cart-{name}")
        return {"opened": name}, 201

    @app.post("/carts/<name>/items/<item>")
    def add(name: str, item: str) -> tuple[dict[str, str], int]:
        portal.tell(carts[name], Add(item))
        return {"added": item}, 202

    @app.get("/carts/<name>")
    def show(name: str) -> dict[str, object]:
        return {"items": portal.ask(carts[name], Contents(), timeout=2)}

    @app.post("/carts/<name>/checkout")
    def checkout(name: str) -> dict[str, object]:
        return {"paid_for": portal.ask(carts[name], Checkout(), timeout=1)}

    app.register_error_handler(trio.TooSlowError, lambda _: ({"error": "too slow"}, 504))
    app.register_error_handler(ActorError, lambda error: ({"error": str(error)}, 500))
    return app


def script(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client, ThreadPoolExecutor(8) as threads:
        print("POST /carts/a ->", client.post("/carts/a").status_code)
        added = threads.map(lambda i: client.post(f"/carts/a/items/x{i:02}"), range(40))
        print("40 adds from 8 threads ->", sorted({reply.status_code for reply in added}))
        print("GET /carts/a ->", len(client.get("/carts/a").json()["items"]), "items")
        print("POST /carts/a again ->", client.post("/carts/a").text.strip())
        print("POST /carts/a/checkout ->", client.post("/carts/a/checkout").text.strip())


async def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    async with trouper.open_runtime() as rt:
        server = make_server("127.0.0.1", 0, create_app(rt.portal), threaded=True)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.to_thread.run_sync, lambda: server.serve_forever(0.05))
            try:
                await trio.to_thread.run_sync(script, f"http://127.0.0.1:{server.port}")
            finally:  # the serving thread ends only when told to, even if the script failed
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(server.shutdown)


if __name__ == "__main__":
    trio.run(main)
