"""Show each public name where users import it from, not the private module it lives in."""

from __future__ import annotations

import inspect
from collections.abc import Mapping

__all__ = ["publish"]


def publish(
    module_name: str, namespace: Mapping[str, object], *, private_package: str | None = None
) -> None:
    """Set ``__module__`` of the classes and functions in ``__all__`` to ``module_name``.

    Only for objects defined in the package's own private modules
    (``trouper.runtime._cell`` becomes ``trouper.runtime``), as trio's
    ``fixup_module_metadata`` does: reprs, docs and pickles then name the
    public path. Objects re-exported from another package keep theirs.
    ``private_package`` names whose private modules count as this module's
    (``trouper.runtime`` for ``trouper.runtime.lowlevel``).
    """
    private_prefix = (private_package or module_name) + "._"
    for name in namespace["__all__"]:  # type: ignore[attr-defined]
        obj = namespace[name]
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if obj.__module__.startswith(private_prefix):
            obj.__module__ = module_name
