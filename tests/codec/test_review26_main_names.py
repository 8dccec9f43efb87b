"""A class defined in ``__main__`` is named after the module it runs as, when Python knows it."""

from __future__ import annotations

import importlib.machinery
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import attrs
import msgpack  # type: ignore[import-untyped]
import pytest

from trouper.codec import Codec, MessageRegistry, default_name


def main_class(name: str = "Ping") -> type:
    """An attrs class whose module is ``__main__``, as a class in a script or ``-m`` run is."""
    cls = types.new_class(name, exec_body=lambda ns: ns.update(__module__="__main__"))
    return attrs.frozen(cls)


def as_main(monkeypatch: pytest.MonkeyPatch, spec_name: str | None) -> None:
    """Make ``__main__`` a module run by that name (``python -m name``), or a plain script."""
    module = types.ModuleType("__main__")
    module.__spec__ = None if spec_name is None else importlib.machinery.ModuleSpec(spec_name, None)
    monkeypatch.setitem(sys.modules, "__main__", module)


def test_a_class_of_a_module_run_with_dash_m_is_named_after_the_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run as ``python -m shop.orders``, a class is ``shop.orders.Ping``, as when imported."""
    as_main(monkeypatch, "shop.orders")
    cls = main_class()
    assert default_name(cls) == "shop.orders.Ping"
    registry = MessageRegistry()
    registry.register(cls)
    assert registry.name_of(cls) == "shop.orders.Ping"


def test_a_class_of_a_plain_script_keeps_main_in_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A script run by its path has no module name to give: the class stays ``__main__.Ping``."""
    as_main(monkeypatch, None)
    assert default_name(main_class()) == "__main__.Ping"


def test_run_as_main_and_imported_the_class_has_one_name(tmp_path: Path) -> None:
    """``python -m pkg.mod`` names the class as importing ``pkg.mod`` does."""
    package = tmp_path / "review26pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text(
        textwrap.dedent(
            """
            import attrs

            from trouper.codec import default_name


            @attrs.frozen
            class Ping:
                pass


            if __name__ == "__main__":
                import review26pkg.mod

                print(default_name(Ping), default_name(review26pkg.mod.Ping))
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "review26pkg.mod"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "review26pkg.mod.Ping review26pkg.mod.Ping\n"


def test_an_unregistered_union_member_of_a_dash_m_module_is_tagged_after_the_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ``$type`` of an unregistered member follows the same rule as a default name."""
    as_main(monkeypatch, "shop.orders")
    circle = main_class()
    square = main_class("Square")
    shape: Any = circle | square  # a union of classes made at run time
    drawing = attrs.make_class("Drawing", {"shape": attrs.field(type=shape)})
    registry = MessageRegistry()
    registry.register(drawing, "review26.drawing")
    codec = Codec(registry)
    payload = codec.encode(drawing(circle())).payload
    assert msgpack.unpackb(payload) == {"shape": {"$type": "shop.orders.Ping"}}
    assert codec.decode("review26.drawing", payload) == drawing(circle())
