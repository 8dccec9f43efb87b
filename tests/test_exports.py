"""The public surface, pinned: a change here is a change of public API (and of CHANGELOG.md)."""

from __future__ import annotations

import importlib
import inspect

import pytest

import trouper

SURFACE = {
    "trouper": {
        "Actor", "ActorError", "ActorEvent", "ActorRef", "ActorState", "ActorStopped", "Address",
        "AskCycle", "RuntimeClosed",
        "Backoff", "ChildFailed", "ChildNotFound", "ChildSpec", "Context", "DeadLetter",
        "Directive", "DuplicateChild", "EventKind", "Exited", "HandlerError", "InvalidSubject",
        "LinkedActorFailed", "MailboxFull", "NameTaken", "OneForAll", "OneForOne", "Reject",
        "Request", "RestForOne", "Restart", "RestartIntensityExceeded", "Runtime", "StartFailed",
        "Strategy", "Supervisor", "Terminated", "Timer", "UnhandledMessage", "handler",
        "message", "open_runtime", "register", "start_runtime",
    },
    "trouper.errors": {
        "ActorError", "ActorStopped", "AskCycle", "CallbackAskUnsupported", "ChildFailed",
        "ChildNotFound",
        "DuplicateChild", "HandlerError", "InvalidSubject", "LinkedActorFailed", "MailboxFull",
        "MalformedPayload", "MessageMismatch", "MessageTypeConflict", "NameTaken",
        "NodeNameTaken", "NodeUnreachable", "NotAStore", "RemoteError",
        "RestartIntensityExceeded", "RuntimeClosed", "StartFailed", "StoreCorrupt",
        "StoreError", "StoreFailed", "StoreLocked", "StoreRefused", "StoreVersionTooNew",
        "UndecodableMessage",
        "UnencodableMessage", "UnhandledMessage", "UnknownMessageType",
        "UnregisteredMessageType", "UnresolvableRef",
    },
    "trouper.actors": {
        "IN_MEMORY_DELIVERY", "Actor", "ActorRef", "ActorState", "Address", "Context",
        "DeliveryInfo", "Exited",
        "HandlerFunction", "Reject", "Request", "Tell", "TellNowait", "Terminated", "Timer",
        "handler", "instantiate",
    },
    "trouper.supervision": {
        "Backoff", "ChildInfo", "ChildSpec", "Decision", "Directive", "OneForAll", "OneForOne",
        "RestForOne", "Restart", "Strategy", "Supervision", "check_unique_ids", "within_intensity",
    },
    "trouper.runtime": {
        "ActorEvent", "ActorInfo", "ActorTree", "DeadLetter", "DeadLetterOffice",
        "DeadLetterReason", "DeleteChild", "EventKind", "EventLog", "Listener", "Portal",
        "RestartChild", "Runtime", "StartChild", "StopChild", "Supervisor", "WhichChildren",
        "open_runtime", "start_runtime",
    },
    "trouper.runtime.lowlevel": {
        "ACCEPTS", "PUBLIC_STATE", "RANK", "Ask", "Cell", "Command",
        "Consumer", "Endpoint",
        "EndpointFactory", "Guardian", "HandlerOutcome", "Instrument", "Instruments",
        "Interception", "LateDelivery", "Mailbox", "MailboxEnding", "MailboxFactory",
        "MemoryMailbox", "Phase",
        "ReplyCallback", "SendKind", "SharingEndpoint", "Transaction", "Transport", "Verdict",
        "Watcher",
        "WithMsgId", "admit", "cell_of", "check_reachable", "current_cell",
        "message_of", "register_extension", "release_frames", "release_frames_unless_failing",
        "running", "spawn_cell",
        "stage_if_in_transaction",
    },
    "trouper.aio": {"AioRef", "AioRuntime", "open_runtime"},
    "trouper.codec": {
        "Codec", "DEFAULT_REGISTRY", "Encoded", "MAX_NAME_LENGTH", "MessageRegistry",
        "RefResolver", "check_message_name", "default_name", "message", "name_of", "register",
        "type_named",
    },
    "trouper.durable": {
        "Append", "DeadLetterRecord", "Delivery", "Durable", "DurableQueue", "EncodedMessage",
        "ExponentialJitter", "GiveUp", "MailboxListener", "MailboxOpening", "MailboxStatistics",
        "MessageCodec", "Retry", "RetryBackoff", "SqliteStore", "Store", "StoreStatistics",
        "StoredMessage", "WriteBatch", "DeliveringStore", "Feed", "JetStreamStore", "PolledStore",
        "Receipt", "Received", "ServedQueue", "durable_ref", "retry_delay",
        "set_wall_clock",
    },
    "trouper.nats": {
        "AckPolicy", "AlreadyAcknowledged", "AsyncError", "AuthorizationError", "Client",
        "ClientEvent", "ClientStatistics", "Closed", "ConnectError", "ConnectionClosed",
        "ConnectionLost", "ConsumerConfig", "ConsumerInfo", "DeliverPolicy", "DiscardPolicy",
        "Disconnected", "Headers", "HeadersLike", "JetStream", "JetStreamError", "JsMsg",
        "LameDuck", "MaxPayloadExceeded", "MessageStream", "Msg", "MsgMetadata", "NatsError",
        "NoResponders", "OutboundBufferFull", "PermissionsViolation", "ProtocolError",
        "ProtocolViolation", "PubAck", "PublishPipeline", "PullConsumer", "PullFeed",
        "Reconnected", "ReplayPolicy", "ReplyTimeout", "RetentionPolicy", "SequenceInfo",
        "ServerError",
        "SlowConsumer", "StaleConnection", "Status", "StorageType", "StreamConfig", "StreamInfo",
        "StreamMsg", "StreamState",
        "Subscription", "SubscriptionClosed", "SubscriptionStatistics", "connect",
    },
    "trouper.remote": {
        "Cluster", "ClusterStatistics", "Nats", "RemoteEndpoint", "cluster_of", "locate",
    },
    "trouper.observe": {
        "ActorDetails", "ActorLogFilter", "ActorRow", "BUCKETS", "CONTROL_HEADER", "ClassMetrics",
        "Collector", "Failure", "Feed", "FeedItem", "HistogramData", "LevelSummary", "Metrics",
        "MetricsSnapshot", "Observer", "PoolInfo", "ServedView", "Summary", "TopicInfo",
        "Tracing", "TreeView", "current_actor", "open_view", "serve",
    },
    "trouper.topics": {
        "IndexStatistics", "Overflow", "Published", "SYSTEM_DEAD_LETTERS", "SYSTEM_PREFIX",
        "SubjectIndex",
        "Subscription", "TopicRegistry", "parse_pattern", "parse_subject", "pattern_matches",
        "system_subject",
    },
    "trouper.routing": {
        "Balancing", "Broadcast", "ConsistentHash", "HashRing", "Members", "PoolFactory",
        "Resize", "RoundRobin", "Router", "key_hash", "members", "pool", "resize", "spawn_pool",
    },
    "trouper.nats.protocol": {
        "PING", "PONG", "ErrEvent", "Event", "InfoEvent", "MsgEvent", "OkEvent", "Parser",
        "PingEvent", "PongEvent", "check_subject", "connect_command", "encode_headers", "is_fatal",
        "pub_command", "server_error", "sub_command", "unsub_command",
    },
    "trouper.remote.wire": {
        "ENTRY", "FAILED", "FRAME_HEAD", "NO_INCARNATION", "OK", "REF", "WireError",
        "actor_subject", "check_token", "error_from_wire", "error_to_wire", "frame", "pack",
        "path_of_token", "read_entries", "unpack",
    },
    "trouper.testing": {
        "Crash", "Deadlock", "Delay", "Drop", "Duplicate", "Exploration", "Exponential",
        "DurableExploration", "DurableSimulation", "DurableSimulationResult", "FaultPlan",
        "InjectedCrash", "MaxTimeExceeded", "NatsServer", "NatsServerError", "Pause", "Received",
        "Simulation", "TlsFiles", "find_nats_server",
        "SimulationResult", "TestProbe", "Trace", "TraceEvent", "TraceKind", "Uniform", "explore",
        "explore_durable", "run_durable_simulation", "run_on_virtual_time", "run_simulation",
        "simulate",
    },
}  # fmt: skip


@pytest.mark.parametrize("module_name", sorted(SURFACE))
def test_public_names_are_pinned(module_name: str) -> None:
    """Each module's ``__all__`` is exactly the pinned set, and every name exists."""
    module = importlib.import_module(module_name)
    assert set(module.__all__) == SURFACE[module_name]
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name} is in __all__ but missing"


@pytest.mark.parametrize("module_name", sorted(SURFACE))
def test_public_names_have_docstrings(module_name: str) -> None:
    """Every public class and function says what it does."""
    module = importlib.import_module(module_name)
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert (obj.__doc__ or "").strip(), f"{module_name}.{name} has no docstring"


def test_top_level_names_are_the_subpackages_objects() -> None:
    """``trouper.X`` is the same object as in its subpackage (re-exports, not copies)."""
    from trouper import actors, runtime, supervision

    assert trouper.Actor is actors.Actor
    assert trouper.open_runtime is runtime.open_runtime
    assert trouper.OneForOne is supervision.OneForOne


@pytest.mark.parametrize("module_name", sorted(SURFACE))
def test_public_classes_show_their_public_module(module_name: str) -> None:
    """A public class or function names a public module, never the private one it lives in."""
    module = importlib.import_module(module_name)
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            shown = obj.__module__
            assert not any(part.startswith("_") for part in shown.split(".")), (name, shown)


def test_no_name_is_exported_from_two_subpackages() -> None:
    """Each public object has one home: only ``trouper`` itself re-exports others' names."""
    homes: dict[int, str] = {}
    for module_name in sorted(SURFACE):
        if module_name == "trouper":
            continue
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            where = f"{module_name}.{name}"
            assert id(obj) not in homes, f"{where} is also {homes[id(obj)]}"
            homes[id(obj)] = where


def test_callback_ask_unsupported_lives_in_errors_and_stays_in_lowlevel() -> None:
    """``CallbackAskUnsupported`` is a ``trouper.errors`` error, the same class in ``lowlevel``."""
    from trouper import errors
    from trouper.runtime import lowlevel

    assert lowlevel.CallbackAskUnsupported is errors.CallbackAskUnsupported
    assert errors.CallbackAskUnsupported.__module__ == "trouper.errors"
    assert issubclass(errors.CallbackAskUnsupported, errors.ActorError)
    assert issubclass(errors.CallbackAskUnsupported, TypeError)
