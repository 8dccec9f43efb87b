"""A Starlette app on uvicorn whose request handlers ask and tell actors (``trouper.aio``).

The runtime opens in the app's lifespan, as a Trio guest on uvicorn's asyncio loop.
``GET /visit/{page}`` asks a counter actor and publishes the visit on a topic an auditor
follows; ``POST /reset/{page}`` tells the counter; ``GET /visit/crash`` makes the counter's
handler raise: the client gets a 500 with a JSON error, and the supervisor restarts the
counter. Serve it with ``uvicorn asyncio_web:app`` from ``examples/``; run directly, it
serves scripted requests to itself on a free loopback port, then stops.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request as HTTPRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

import trouper.aio
from trouper import Actor, ActorError, Request, handler


@attrs.frozen
class Hit(Request[int]):
    page: str


@attrs.frozen
class Reset:
    page: str


class Counter(Actor):
    def __init__(self) -> None:
        self.hits: dict[str, int] = {}

    @handler
    async def hit(self, message: Hit) -> int:
        if message.page == "crash":
            raise RuntimeError("asked to crash")
        self.hits[message.page] = self.hits.get(message.page, 0) + 1
        return self.hits[message.page]

    @handler
    async def reset(self, message: Reset) -> None:
        self.hits.pop(message.page, None)


class Auditor(Actor):
    @handler
    async def visited(self, message: Hit) -> None:
        pass  # a real one would keep an audit trail; rt.tree() counts what it handled

    async def on_stop(self) -> None:
        print("auditor stopped")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
    async with trouper.aio.open_runtime() as rt:
        await rt.subscribe(await rt.spawn(Auditor, name="auditor"), "visits.>")
        yield {"rt": rt, "counter": await rt.spawn(Counter, name="counter")}
    print("runtime stopped")


async def visit(request: HTTPRequest) -> JSONResponse:
    page = request.path_params["page"]
    hits = await request.state.counter.ask(Hit(page))
    await request.state.rt.publish(f"visits.{page}", Hit(page))
    return JSONResponse({"page": page, "hits": hits})


async def reset(request: HTTPRequest) -> JSONResponse:
    await request.state.counter.tell(Reset(request.path_params["page"]))
    return JSONResponse({"reset": request.path_params["page"]}, status_code=202)


async def stats(request: HTTPRequest) -> JSONResponse:
    tree = request.state.rt.tree()
    return JSONResponse({a.path: [a.handled, a.restart_count] for a in tree.walk()})


async def actor_error(request: HTTPRequest, error: Exception) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=500)


app = Starlette(
    routes=[
        Route("/visit/{page}", visit),
        Route("/reset/{page}", reset, methods=["POST"]),
        Route("/stats", stats),
    ],
    lifespan=lifespan,
    exception_handlers={ActorError: actor_error},
)
SCRIPT = ["GET /visit/home", "GET /visit/crash", "GET /visit/home", "POST /reset/docs"]


async def main() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # listening: early requests queue
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    host, port = listener.getsockname()
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=10) as client:
        replies = await asyncio.gather(*(client.get("/visit/docs") for _ in range(50)))
        hits = sorted(reply.json()["hits"] for reply in replies)
        print(f"50 concurrent GET /visit/docs -> hits {hits[0]}..{hits[-1]}, all distinct")
        for line in [*SCRIPT, "GET /visit/docs", "GET /stats"]:
            response = await client.request(*line.split())
            print(f"{line} -> {response.status_code} {response.text}")
    server.should_exit = True
    await serving


if __name__ == "__main__":
    asyncio.run(main())
