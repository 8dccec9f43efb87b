"""The ``Actor`` base class and the ``@handler`` decorator.

Dispatch is decided when a class is created: ``__init_subclass__`` reads each
``@handler`` method's message annotation and builds a table from message type
to function. At run time the cell looks a message's exact type up in that
table (one dict lookup); a type seen for the first time is resolved once
through its MRO and the answer is cached on the class.
"""

from __future__ import annotations

import inspect
import sys
import threading
import types
import typing
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from trouper._text import class_label

if TYPE_CHECKING:
    from trouper.actors._context import Context
    from trouper.runtime.lowlevel import MailboxFactory
    from trouper.supervision import Strategy

__all__ = ["Actor", "HandlerFunction", "handler", "instantiate"]

HandlerFunction = Callable[[Any, Any], Awaitable[object]]
"""An unbound handler: ``await fn(actor, message)``."""

F = TypeVar("F", bound=Callable[..., Awaitable[object]])

_HANDLER_MARK = "__trouper_handler__"
# The methods the cell awaits besides handlers (receive takes unhandled messages).
_HOOK_NAMES = ("on_start", "on_stop", "on_restart", "receive")
# The context of the actor being constructed, so that ``self.ctx`` works in
# ``__init__``. Construction is synchronous, so a thread-local suffices (and,
# unlike a ContextVar, costs no allocation per spawn).
_constructing = threading.local()
_constructing.context = None
# Message types resolved through their MRO (or to ``receive``) and cached per
# class, at most this many: past it the cache starts again from the declared
# handlers, so that message classes made at run time are not kept for ever.
_RESOLVED_LIMIT = 1024


def handler(fn: F) -> F:
    """Mark an ``async def`` method as the handler for the messages its annotation names.

    The method takes one parameter besides ``self``; its annotation is a class
    or a union of classes, and messages of those classes (or their subclasses,
    registered ones included: a ``collections.abc.Mapping`` handler takes a
    ``dict``, the most specific abstract class winning) are dispatched to it.
    The return value is the reply to an ``ask``. The
    method stays an ordinary method: it can still be called directly.

    Handlers are inherited, from mixins that are not actors too; the nearest
    class's handler for a type wins. A subclass that overrides a handler
    method without ``@handler`` takes over its message types; one that marks
    the override ``@handler`` handles the types its own annotation names, and
    only those. Setting the name to ``None`` drops an inherited handler.

    Misuse (not ``async``, no annotation, an annotation that is not a class or
    union of classes, two handlers for one type in one class, a static or
    class method, a plain ``def`` overriding a handler) raises ``TypeError``
    naming the class and the method when the class is created.
    """
    setattr(fn, _HANDLER_MARK, True)
    return fn


class Actor:
    """Base class for actors: subclass it, write ``@handler`` methods.

    An actor owns its state and is driven by one task: its handlers never run
    concurrently with each other, so they need no locks. Lifecycle hooks:
    ``on_start`` (before the first message), ``on_stop`` (after the last one)
    and ``on_restart(error)`` (on the fresh instance, before its ``on_start``,
    when a supervisor restarts the actor after ``error``). Hooks and
    ``receive`` are ``async def``; a plain ``def`` raises ``TypeError`` when
    the class is created.

    Define ``async def receive(self, message)`` to take every message no
    handler takes. Set ``supervisor_strategy`` to choose how this actor
    supervises its children, and ``trap_exits = True`` to receive ``Exited``
    messages from linked actors instead of failing with them.
    """

    supervisor_strategy: Strategy | None = None
    """How this actor supervises its children; ``None`` means the runtime's default.

    Read when the actor first has children in an incarnation, so an instance
    may set its own in ``__init__`` (``Supervisor`` does).
    """
    trap_exits: ClassVar[bool] = False
    """Receive ``Exited`` from linked actors instead of failing when they fail."""
    default_mailbox: ClassVar[MailboxFactory | None] = None
    """The mailbox factory used when ``spawn`` is given none (``None``: in memory)."""

    _trouper_declared: ClassVar[Mapping[str, tuple[type, ...]]] = {}
    _trouper_handlers: ClassVar[Mapping[type, HandlerFunction]] = {}
    _trouper_dispatch: ClassVar[dict[type, HandlerFunction | None]] = {}
    _trouper_unmarked: ClassVar[tuple[tuple[type, str], ...]] = ()
    _trouper_ctx: Context | None = None

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        caller = sys._getframe(1)
        # The frame creating the class holds its local names: message classes
        # defined in a function body must resolve too.
        while caller.f_code.co_name == "__init_subclass__" and caller.f_back is not None:
            caller = caller.f_back
        localns = dict(caller.f_locals)
        cls._trouper_handlers = _build_handler_table(cls, localns)
        cls._trouper_dispatch = dict(cls._trouper_handlers)
        cls._trouper_unmarked = _unmarked_methods(cls, localns)
        _check_hooks(cls)

    @property
    def ctx(self) -> Context:
        """This actor's context: its ref, the runtime, children, timers, stop."""
        ctx = self._trouper_ctx
        if ctx is None:
            # Inside __init__, before instantiate() has set it.
            ctx = getattr(_constructing, "context", None)
        if ctx is None:
            raise RuntimeError(
                f"{class_label(type(self))} is not running in a runtime: "
                "ctx exists only for actors created by spawn"
            )
        return ctx

    async def on_start(self) -> None:
        """Run before the first message; ``spawn`` returns once it has completed."""

    async def on_stop(self) -> None:
        """Run after the last message, when the actor stops or before it restarts.

        An error it raises is logged and reported as a failure (``EventKind.FAILED``);
        the stop or restart goes on.
        """

    async def on_restart(self, error: BaseException) -> None:
        """Run on the new instance, before ``on_start``, when it replaces a failed one."""

    @classmethod
    def _trouper_resolve(cls, message_type: type) -> HandlerFunction | None:
        """Find (once) the handler for a type with no exact entry; cache the answer.

        The cache holds at most ``_RESOLVED_LIMIT`` such answers: when it is
        full it is emptied back to the declared handlers (in place: a cell
        serving an actor holds the dict).
        """
        found: HandlerFunction | None = None
        for base in message_type.__mro__[1:]:
            found = cls._trouper_handlers.get(base)
            if found is not None:
                break
        else:
            found = _virtual_handler(cls._trouper_handlers, message_type)
            if found is None:
                found = getattr(cls, "receive", None)
        dispatch = cls._trouper_dispatch
        if len(dispatch) >= len(cls._trouper_handlers) + _RESOLVED_LIMIT:
            dispatch.clear()
            dispatch.update(cls._trouper_handlers)
        dispatch[message_type] = found
        return found

    @classmethod
    def unmarked_hint(cls, message_type: type) -> str:
        """Name a method that would take ``message_type`` but lacks ``@handler`` (or ``""``)."""
        for taken, name in cls._trouper_unmarked:
            if issubclass(message_type, taken):
                return (
                    f"{class_label(cls)}.{name} takes {taken.__qualname__} "
                    "but is not marked @handler"
                )
        return ""

    @classmethod
    def handler_for(cls, message_type: type) -> HandlerFunction | None:
        """The function that handles messages of ``message_type``, or ``None``.

        The exact type's handler, else the nearest base class's along the
        message type's MRO, else the most specific abstract class's it is
        registered with (``dict`` for a ``collections.abc.Mapping`` handler),
        else ``receive`` if the class defines one.

        Raises:
            TypeError: ``message_type`` is not a class (a message itself, say).
        """
        try:
            return cls._trouper_dispatch[message_type]
        except (KeyError, TypeError):
            if not isinstance(message_type, type):
                raise TypeError(
                    f"message_type must be a class (type(message) for a message), "
                    f"got {message_type!r}"
                ) from None
            return cls._trouper_resolve(message_type)

    @classmethod
    def handles(cls, message_type: type) -> bool:
        """Tell whether instances of this class take messages of ``message_type``.

        Raises:
            TypeError: ``message_type`` is not a class (a message itself, say).
        """
        return cls.handler_for(message_type) is not None


def _virtual_handler(
    handlers: Mapping[type, HandlerFunction], message_type: type
) -> HandlerFunction | None:
    """The handler of an abstract class ``message_type`` is registered with, if any.

    ``dict`` is a ``collections.abc.Mapping`` and ``int`` a ``numbers.Integral``
    for ``issubclass`` without either being in its MRO (``ABCMeta.register``,
    ``__subclasshook__``). As ``functools.singledispatch`` does, the most
    specific of the matching classes wins (``Integral`` before ``Real``); among
    unrelated ones, the first declared. A class ``issubclass`` refuses (a
    protocol that is not ``runtime_checkable``, a ``__subclasshook__`` that
    raises) matches nothing: the cell calls this outside any handler, where
    an error would not be the message's.
    """
    matches: list[type] = []
    for declared in handlers:
        try:
            if issubclass(message_type, declared):
                matches.append(declared)
        except Exception:
            continue
    if not matches:
        return None
    best = matches[0]
    for candidate in matches[1:]:
        try:
            if issubclass(candidate, best):
                best = candidate
        except Exception:
            continue
    return handlers[best]


def _check_hooks(cls: type[Actor]) -> None:
    # The cell awaits these: a plain def (or None) would fail only when the actor
    # runs, with Python's "can't be used in 'await' expression". Read through the
    # MRO: a mixin that is not an actor was never checked on its own.
    for name in _HOOK_NAMES:
        hook = getattr(cls, name, None)
        if (hook is None and name == "receive") or inspect.iscoroutinefunction(hook):
            continue  # `receive = None` drops an inherited receive
        owner = next(base for base in cls.__mro__ if name in base.__dict__)
        inherited = "" if owner is cls else f" (it is inherited from {class_label(owner)})"
        raise TypeError(f"{class_label(cls)}.{name} must be an async def{inherited}")


def _build_handler_table(
    cls: type[Actor], localns: dict[str, object]
) -> dict[type, HandlerFunction]:
    # Which attribute handles each message type. Classes are read farthest
    # first along the MRO, so the nearest declaration of a type wins; mixins
    # that are not actors are read here, actors' own declarations were read
    # when they were created. A method marked @handler again under the same
    # name restates what it handles: the types its earlier declarations named
    # do not reach it unless it names them too.
    owner: dict[type, str] = {}
    for base in reversed(cls.__mro__[:-1]):
        declared = base.__dict__.get("_trouper_declared")
        if declared is None:
            declared = _declared_handlers(base, localns)
            if base is cls:
                cls._trouper_declared = declared
        if declared:
            owner = {t: name for t, name in owner.items() if name not in declared}
            for name, message_types in declared.items():
                owner.update(dict.fromkeys(message_types, name))
    # The function that runs is whatever the attribute is on this class, so
    # that a plain override of a handler method (without @handler) runs.
    table: dict[type, HandlerFunction] = {}
    for message_type, name in owner.items():
        current = getattr(cls, name, None)
        if current is None:  # `name = None` drops an inherited handler
            continue
        if not inspect.iscoroutinefunction(current):
            raise TypeError(
                f"{class_label(cls)}.{name} overrides a handler (for "
                f"{message_type.__qualname__}) but is not an async def: make it async, "
                "or set it to None to drop the handler"
            )
        table[message_type] = current
    return table


def _declared_handlers(cls: type, localns: dict[str, object]) -> dict[str, tuple[type, ...]]:
    """The methods ``cls`` itself marks ``@handler``, by attribute name, with their types."""
    declared: dict[str, tuple[type, ...]] = {}
    own: dict[type, str] = {}
    for name, fn in cls.__dict__.items():
        where = f"{class_label(cls)}.{name}"
        if isinstance(fn, staticmethod | classmethod):
            if getattr(fn.__func__, _HANDLER_MARK, False) is True:
                raise TypeError(
                    f"{where} is marked @handler but is a {type(fn).__name__}: a handler "
                    "is an async method taking self and the message"
                )
            continue
        if getattr(fn, _HANDLER_MARK, False) is not True:
            continue
        message_types = _message_types(fn, where, localns)
        for message_type in message_types:
            if message_type in own:
                raise TypeError(
                    f"{where} and {class_label(cls)}.{own[message_type]} both handle "
                    f"{message_type.__qualname__}: one type, one handler"
                )
            own[message_type] = name
        declared[name] = message_types
    return declared


def _message_types(fn: object, where: str, localns: dict[str, object]) -> tuple[type, ...]:
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"{where} is marked @handler but is not an async def")
    parameters = list(inspect.signature(fn).parameters.values())
    if len(parameters) != 2 or any(
        p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters
    ):
        raise TypeError(f"{where} must take exactly one message parameter besides self")
    parameter = parameters[1]
    if parameter.annotation is inspect.Parameter.empty:
        raise TypeError(
            f"{where} has no annotation on {parameter.name!r}: "
            "annotate it with the message class (or a union of classes) it handles"
        )
    # Resolve the message annotation alone: the return annotation (or a
    # parameter's elsewhere) is not ours to judge.
    only = types.SimpleNamespace(__annotations__={parameter.name: parameter.annotation})
    globalns = getattr(inspect.unwrap(typing.cast(Callable[..., object], fn)), "__globals__", {})
    try:
        hints = typing.get_type_hints(only, globalns=globalns, localns=localns)
    except NameError as error:
        raise TypeError(f"{where}: cannot resolve the message annotation ({error})") from None
    annotation = hints[parameter.name]
    if annotation is typing.Any or annotation is object:
        raise TypeError(
            f"{where}: the message annotation {getattr(annotation, '__name__', annotation)!s} "
            "would take every message: name the message classes it handles, or define "
            "`async def receive(self, message)` to take the messages no handler takes"
        )
    members = _union_members(annotation)
    bad = [m for m in members if not isinstance(m, type)]
    if bad:
        raise TypeError(
            f"{where}: the message annotation must be a class or a union of classes, "
            f"got {annotation!r}"
        )
    return tuple(typing.cast(list[type], members))


def _unmarked_methods(cls: type[Actor], localns: dict[str, object]) -> tuple[tuple[type, str], ...]:
    """Async methods of ``cls`` that look like handlers (one annotated message) but lack the mark.

    Only used to explain an unhandled message; what cannot be resolved is skipped.
    """
    found: list[tuple[type, str]] = []
    for name, fn in cls.__dict__.items():
        if (
            name in _HOOK_NAMES
            or name.startswith("_")
            or getattr(fn, _HANDLER_MARK, False)
            or not inspect.iscoroutinefunction(fn)
        ):
            continue
        try:
            parameters = list(inspect.signature(fn).parameters.values())
            if len(parameters) != 2:
                continue
            hints = typing.get_type_hints(fn, localns=localns)
        except Exception:  # an annotation that does not resolve: not a handler candidate
            continue
        if parameters[1].name not in hints:
            continue
        annotation = hints[parameters[1].name]
        for member in _union_members(annotation):
            if isinstance(member, type) and member is not object:
                found.append((member, name))
    return tuple(found)


def _union_members(annotation: object) -> list[object]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members: list[object] = []
        for arg in typing.get_args(annotation):
            members.extend(_union_members(arg))
        return members
    if annotation is None:
        return [type(None)]
    return [annotation]


def instantiate(
    context: Context,
    factory: Callable[..., Actor],
    args: tuple[object, ...],
    kwargs: Mapping[str, object],
) -> Actor:
    """Call ``factory(*args, **kwargs)`` with ``context`` visible as ``self.ctx`` in ``__init__``.

    For runtimes and test harnesses; applications use ``spawn``.

    Raises:
        TypeError: the factory returned something that is not an ``Actor``.
    """
    outer = getattr(_constructing, "context", None)
    _constructing.context = context
    try:
        instance = factory(*args, **kwargs)
    finally:
        _constructing.context = outer
    if not isinstance(instance, Actor):
        raise TypeError(f"the factory {factory!r} returned {instance!r}, which is not an Actor")
    instance._trouper_ctx = context
    return instance
