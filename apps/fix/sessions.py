"""QuickFIX session configuration, generated from Django settings (or explicit test values).

Every session persists its sequence numbers and messages in a FileStore and logs every message in
a FileLog, both under FIX_STORE_DIR (var/fix by default), so a restarted process continues the
session where it stopped and compliance can read the trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import quickfix as fix
from django.conf import settings

from apps.fix.dictionary import dictionary_path

BEGIN_STRING = "FIX.4.4"


@dataclass(frozen=True)
class SessionSpec:
    """One FIX session as seen from our side of the config (sender = us)."""

    sender: str
    target: str
    port: int
    host: str = "127.0.0.1"
    persist_messages: bool = True

    @property
    def session_id(self) -> fix.SessionID:
        return fix.SessionID(BEGIN_STRING, self.sender, self.target)


@dataclass(frozen=True)
class Endpoint:
    """Where a process keeps its FIX state, and how its sessions behave."""

    store_dir: Path
    heartbeat_seconds: int = 5
    reconnect_seconds: int = 2
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.store_dir / "log"


def order_session_spec(*, port: int | None = None, host: str | None = None) -> SessionSpec:
    return SessionSpec(sender=settings.FIX_SENDER_COMP_ID, target=settings.FIX_TARGET_COMP_ID,
                       port=port or settings.FIX_ORDER_PORT, host=host or settings.FIX_HOST)


def md_session_spec(*, port: int | None = None, host: str | None = None) -> SessionSpec:
    return SessionSpec(sender=settings.FIX_SENDER_COMP_ID, target=settings.FIX_MD_TARGET_COMP_ID,
                       port=port or settings.FIX_MD_PORT, host=host or settings.FIX_HOST,
                       persist_messages=False)


def venue_side(spec: SessionSpec) -> SessionSpec:
    """The same session as the venue configures it (sender and target swapped)."""
    return SessionSpec(sender=spec.target, target=spec.sender, port=spec.port, host=spec.host,
                       persist_messages=spec.persist_messages)


def default_endpoint(name: str) -> Endpoint:
    return Endpoint(store_dir=Path(settings.FIX_STORE_DIR) / name,
                    heartbeat_seconds=settings.FIX_HEARTBEAT_SECONDS,
                    reconnect_seconds=settings.FIX_RECONNECT_SECONDS)


def config_text(*, role: str, sessions: list[SessionSpec], endpoint: Endpoint) -> str:
    if role not in ("initiator", "acceptor"):
        raise ValueError(f"role must be initiator or acceptor, not {role!r}")
    endpoint.log_dir.mkdir(parents=True, exist_ok=True)
    (endpoint.store_dir / "store").mkdir(parents=True, exist_ok=True)
    dictionary = dictionary_path(endpoint.store_dir)
    defaults = {
        "ConnectionType": role,
        "BeginString": BEGIN_STRING,
        "FileStorePath": str(endpoint.store_dir / "store"),
        "FileLogPath": str(endpoint.log_dir),
        "UseDataDictionary": "Y",
        "DataDictionary": str(dictionary),
        "NonStopSession": "Y",  # sequence numbers never reset on a schedule; they persist
        "HeartBtInt": str(endpoint.heartbeat_seconds),
        "ReconnectInterval": str(endpoint.reconnect_seconds),
        "SocketNodelay": "Y",
        "ResetOnLogon": "N",
        "ResetOnLogout": "N",
        "ResetOnDisconnect": "N",
        "ValidateUserDefinedFields": "N",
        "ValidateFieldsOutOfOrder": "N",
        "AllowUnknownMsgFields": "Y",
        "CheckLatency": "N",
        "LogonTimeout": "5",
        "LogoutTimeout": "2",
        **endpoint.extra,
    }
    lines = ["[DEFAULT]", *(f"{k}={v}" for k, v in defaults.items())]
    for spec in sessions:
        lines += ["", "[SESSION]", f"BeginString={BEGIN_STRING}", f"SenderCompID={spec.sender}",
                  f"TargetCompID={spec.target}", f"PersistMessages={'Y' if spec.persist_messages else 'N'}"]
        if role == "initiator":
            lines += [f"SocketConnectHost={spec.host}", f"SocketConnectPort={spec.port}"]
        else:
            lines += [f"SocketAcceptPort={spec.port}"]
    return "\n".join(lines) + "\n"


def session_settings(*, role: str, sessions: list[SessionSpec], endpoint: Endpoint, name: str) -> fix.SessionSettings:
    """Write the generated config next to the store (for operators to read) and load it."""
    text = config_text(role=role, sessions=sessions, endpoint=endpoint)
    path = endpoint.store_dir / f"{name}.cfg"
    path.write_text(text)
    return fix.SessionSettings(str(path))
