"""The order gateway: a QuickFIX initiator on the order session.

- Commands from `orders.commands` become 35=D/F/G (`OrderGateway.command_send`).
- 35=8/9 are normalized into ExecutionReport in the QuickFIX callback and handed to worker
  threads (one queue per account shard, so one order's reports keep their order) that call the
  trading core's `execution_apply`, which is idempotent by ExecID. The session thread never waits
  on the database.
- Orders in flight are kept in Redis (`fix:gateway:inflight`) before their NewOrderSingle is sent,
  so a restarted gateway still knows them. On every logon the gateway asks the venue for the
  status of each (35=H). A message the venue asks to be resent is never resent as it was
  (toApp raises DoNotSend, QuickFIX sends a gap fill): an order the venue reports unknown is sent
  again as a new message while it is fresh, and rejected once it is older than
  FIX_STALE_ORDER_SECONDS.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import quickfix as fix
from django.db import InterfaceError as DjangoInterfaceError
from django.db import OperationalError, close_old_connections, connections

from apps.fix import messages as m
from apps.fix.sessions import Endpoint, SessionSpec, session_settings
from apps.ops.clients import redis_client
from apps.orders.types import ExecutionReport

logger = logging.getLogger(__name__)

INFLIGHT_KEY = "fix:gateway:inflight:{session}"
SENT_KEY = "fix:gateway:sent:{key}"
SENT_TTL_SECONDS = 7 * 24 * 3600
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OperationalError, DjangoInterfaceError)
APPLY_ATTEMPTS = 5


ApplyReport = Callable[[ExecutionReport], Any]


def execution_apply_default(report: ExecutionReport) -> Any:
    from apps.orders.services import execution_apply

    return execution_apply(report=report)


@dataclass
class GatewayStats:
    sent: int = 0
    reports_received: int = 0
    reports_applied: int = 0
    reports_failed: int = 0
    duplicates_suppressed: int = 0
    gap_filled: int = 0
    resent_after_reconcile: int = 0
    stale_rejected: int = 0


class GatewayApplication(fix.Application):
    def __init__(self, gateway: OrderGateway) -> None:
        super().__init__()
        self.gateway = gateway

    def onCreate(self, sessionID: fix.SessionID) -> None:
        self.gateway.session_id = sessionID

    def onLogon(self, sessionID: fix.SessionID) -> None:
        self.gateway.on_logon()

    def onLogout(self, sessionID: fix.SessionID) -> None:
        self.gateway.on_logout()

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        return

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        self.gateway.last_inbound_at = time.time()

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        header = message.getHeader()
        if header.isSetField(m.POSS_DUP) and header.getField(m.POSS_DUP) == "Y":
            # A resend of an order message could reach the market late: never. Reconciliation
            # (35=H after logon) decides what happens to the order instead.
            self.gateway.stats.gap_filled += 1
            self.gateway.gap_filled(message)
            raise fix.DoNotSend()

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        self.gateway.last_inbound_at = time.time()
        kind = m.msg_type(message)
        if kind not in ("8", "9"):
            raise fix.UnsupportedMessageType()
        try:
            report = m.execution_report_from_fix(message)
        except m.MessageError:
            logger.exception("gateway: unreadable report %s", message.toString().replace("\x01", "|"))
            return
        self.gateway.report_received(report, symbol=m.get(message, m.SYMBOL), account=m.get(message, m.ACCOUNT),
                                     reject_code=m.get(message, m.ORD_REJ_REASON))


@dataclass(frozen=True)
class _Received:
    report: ExecutionReport
    symbol: str
    reject_code: str
    received_at: float


class OrderGateway:
    def __init__(self, *, spec: SessionSpec, endpoint: Endpoint, apply_report: ApplyReport | None = None,
                 workers: int = 4, stale_after_seconds: float = 60.0, name: str = "gateway") -> None:
        self.spec = spec
        self.endpoint = endpoint
        self.apply_report = apply_report or execution_apply_default
        self.stale_after_seconds = stale_after_seconds
        self.session_id: fix.SessionID = spec.session_id
        self.inflight_key = INFLIGHT_KEY.format(session=self.session_id.toString())
        self.stats = GatewayStats()
        self.logged_on = threading.Event()
        self.last_inbound_at = 0.0
        self.last_logon_at = 0.0
        self.applied_callbacks: list[Callable[[ExecutionReport], None]] = []
        self._shards: list[queue.Queue[_Received | None]] = [queue.Queue() for _ in range(max(1, workers))]
        self._control: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._send_lock = threading.Lock()
        self.application = GatewayApplication(self)
        self.settings = session_settings(role="initiator", sessions=[spec], endpoint=endpoint, name=name)
        # QuickFIX keeps references to the factories: they must live as long as the initiator.
        self.store_factory = fix.FileStoreFactory(self.settings)
        self.log_factory = fix.FileLogFactory(self.settings)
        self.initiator: Any = fix.SocketInitiator(self.application, self.store_factory, self.settings,
                                                  self.log_factory)

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        for index, shard in enumerate(self._shards):
            thread = threading.Thread(target=self._apply_loop, args=(shard,), name=f"gateway-apply-{index}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        control = threading.Thread(target=self._control_loop, name="gateway-control", daemon=True)
        control.start()
        self._threads.append(control)
        self.initiator.start()

    def stop(self, *, drain_seconds: float = 5.0) -> None:
        # 1. The control thread sends through QuickFIX sessions: it must be gone before the
        #    initiator destroys them (a send into a destroyed session crashes the process).
        control = self._threads[-1] if self._threads else None
        self._control.put(None)
        if control is not None:
            control.join(timeout=10)
        # 2. No more inbound reports after this. Destroy the initiator now (its sessions leave
        #    QuickFIX's global registry), so a new one for the same session can be created here.
        with contextlib.suppress(Exception):
            self.initiator.stop()
        self.initiator = None
        # 3. Apply what already arrived, then stop the appliers. Anything not applied is found
        #    again by the reconciliation on the next logon.
        deadline = time.monotonic() + drain_seconds
        while self.report_backlog() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        for shard in self._shards:
            shard.put(None)
        for thread in self._threads:
            thread.join(timeout=5)

    def sequence_numbers(self) -> tuple[int, int]:
        """(next outgoing, next expected incoming) MsgSeqNum of the order session, as persisted.

        Read from the FileStore rather than the live Session object, which QuickFIX may be
        destroying on another thread.
        """
        store = self.endpoint.store_dir / "store"
        name = f"{self.session_id.getBeginString().getString()}-{self.spec.sender}-{self.spec.target}.seqnums"
        try:
            sender, _, target = (store / name).read_text().partition(":")
            return (int(sender), int(target))
        except (OSError, ValueError):
            return (0, 0)

    def report_backlog(self) -> int:
        return sum(shard.qsize() for shard in self._shards)

    def state(self) -> dict[str, Any]:
        sender, target = self.sequence_numbers()
        return {
            "session": self.session_id.toString(), "logged_on": self.logged_on.is_set(),
            "last_inbound_at": self.last_inbound_at, "last_logon_at": self.last_logon_at,
            "next_sender_seq": sender, "next_target_seq": target, "report_backlog": self.report_backlog(),
            "in_flight": redis_client().hlen(self.inflight_key), **self.stats.__dict__,
        }

    # --- session events -----------------------------------------------------------------------
    def on_logon(self) -> None:
        self.last_logon_at = time.time()
        self.logged_on.set()
        self._control.put("reconcile")

    def on_logout(self) -> None:
        self.logged_on.clear()

    # --- commands (orders.commands) -----------------------------------------------------------
    def command_send(self, envelope: dict[str, Any]) -> bool:
        """Send the FIX message for one orders.commands envelope, at most once per command.

        Returns False when the session is not logged on (the caller retries later, without
        committing its Kafka offset). Unknown command types raise ValueError.
        """
        if not self.logged_on.is_set():
            return False
        self.dispatch(envelope)
        return True

    def dispatch(self, envelope: dict[str, Any]) -> None:
        """Record and hand one command to QuickFIX whatever the session state (see command_send)."""
        kind = envelope.get("type")
        payload = envelope["payload"]
        redis = redis_client()
        if kind == "PlaceOrder" or kind == "ReplaceOrder":
            order_id = str(payload["order_id"])
            if not redis.set(SENT_KEY.format(key=order_id), envelope.get("event_id", ""), nx=True,
                             ex=SENT_TTL_SECONDS):
                self.stats.duplicates_suppressed += 1
                return
            entry = {"payload": payload, "type": kind, "sent_at": time.time()}
            redis.hset(self.inflight_key, order_id, json.dumps(entry, default=str))
            message = (m.new_order_single(payload) if kind == "PlaceOrder"
                       else m.order_cancel_replace_request(payload))
        elif kind == "CancelOrder":
            marker = f"cancel:{payload['order_id']}:{envelope.get('event_id', '')}"
            if not redis.set(SENT_KEY.format(key=marker), "1", nx=True, ex=SENT_TTL_SECONDS):
                self.stats.duplicates_suppressed += 1
                return
            message = m.order_cancel_request(payload, cancel_id=m.cancel_request_id())
        else:
            raise ValueError(f"unknown orders.commands type {kind!r}")
        self._send(message)

    def _send(self, message: fix.Message) -> None:
        with self._send_lock:
            # Even when the session dropped in between, QuickFIX stores the message under its
            # sequence number; the venue's resend request then gets a gap fill (toApp) and the
            # order is reconciled after the next logon.
            fix.Session.sendToTarget(message, self.session_id)
            self.stats.sent += 1

    # --- reports ------------------------------------------------------------------------------
    def report_received(self, report: ExecutionReport, *, symbol: str, reject_code: str, account: str = "") -> None:
        """Queue a report for the apply threads. One account's reports (so every order and its
        replacements) always go to the same thread, in arrival order; accounts apply in parallel."""
        self.stats.reports_received += 1
        shard = zlib.crc32((account or symbol).encode()) % len(self._shards)
        self._shards[shard].put(_Received(report, symbol, reject_code, time.time()))

    def _apply_loop(self, shard: queue.Queue[_Received | None]) -> None:
        try:
            self._apply_until_stopped(shard)
        finally:
            connections.close_all()  # this thread's connection goes back to the pool

    def _apply_until_stopped(self, shard: queue.Queue[_Received | None]) -> None:
        while True:
            item = shard.get()
            if item is None:
                return
            try:
                self._process(item)
            except Exception:
                self.stats.reports_failed += 1
                logger.exception("gateway: report %s for order %s not applied", item.report.exec_id,
                                 item.report.order_id)

    def _process(self, item: _Received) -> None:
        report = item.report
        order_key = str(report.order_id)
        if report.exec_type == "rejected" and item.reject_code == m.REJ_DUPLICATE_ORDER:
            # The venue already has this ClOrdID: the order is live there, this is no verdict.
            self._control.put(f"status:{order_key}")
            return
        if report.exec_type == "status":
            self._reconcile_answer(report)
            return
        self._apply(report)
        if report.exec_type in ("fill", "canceled", "rejected", "expired"):
            redis_client().hdel(self.inflight_key, order_key)
        elif report.exec_type == "replaced" and report.orig_order_id is not None:
            redis_client().hdel(self.inflight_key, str(report.orig_order_id))
        elif report.exec_type == "cancel_rejected" and report.orig_order_id is not None:
            # A refused replace: the replacement order never went live.
            redis_client().hdel(self.inflight_key, order_key)

    def _apply(self, report: ExecutionReport) -> None:
        for attempt in range(1, APPLY_ATTEMPTS + 1):
            try:
                self.apply_report(report)
                break
            except TRANSIENT_ERRORS:
                if attempt == APPLY_ATTEMPTS:
                    raise
                close_old_connections()
                time.sleep(0.05 * 2**attempt)
        self.stats.reports_applied += 1
        for callback in self.applied_callbacks:
            callback(report)

    # --- reconciliation -----------------------------------------------------------------------
    GAP_FILL_RECHECK_SECONDS = 0.5

    def gap_filled(self, message: fix.Message) -> None:
        """A message was not resent (gap fill): decide again from the venue's answer, later.

        An order message (D/G) or status request (H) leads to a fresh status request; a cancel
        (F) is sent again as a new request, since the venue never saw it.
        """
        kind = m.msg_type(message)
        if kind in ("D", "G", "H"):
            command = f"status:{m.get(message, m.CL_ORD_ID)}"
        elif kind == "F":
            payload = {"order_id": m.get(message, m.ORIG_CL_ORD_ID), "account_id": m.get(message, m.ACCOUNT),
                       "symbol": m.get(message, m.SYMBOL), "side": m.SIDE_NAMES.get(m.get(message, m.SIDE), "buy"),
                       "qty": m.get(message, m.ORDER_QTY)}
            command = f"cancel:{json.dumps(payload)}"
        else:
            return
        timer = threading.Timer(self.GAP_FILL_RECHECK_SECONDS, self._control.put, args=(command,))
        timer.daemon = True
        timer.start()

    def _control_loop(self) -> None:
        try:
            self._control_until_stopped()
        finally:
            connections.close_all()

    def _control_until_stopped(self) -> None:
        while True:
            command = self._control.get()
            if command is None:
                return
            try:
                if command == "reconcile":
                    self.reconcile()
                elif command.startswith("status:"):
                    self._status_request(command.split(":", 1)[1])
                elif command.startswith("cancel:"):
                    payload = json.loads(command.split(":", 1)[1])
                    self._send(m.order_cancel_request(payload, cancel_id=m.cancel_request_id()))
            except Exception:
                logger.exception("gateway: %s failed", command)

    def in_flight(self) -> dict[str, dict[str, Any]]:
        return {key: json.loads(raw) for key, raw in redis_client().hgetall(self.inflight_key).items()}

    def reconcile(self) -> int:
        """Ask the venue for the status of every order in flight; returns how many were asked."""
        asked = 0
        for order_key in self.in_flight():
            if not self.logged_on.is_set():
                break
            self._status_request(order_key)
            asked += 1
        return asked

    def _status_request(self, order_key: str) -> None:
        raw = redis_client().hget(self.inflight_key, order_key)
        if raw is None:
            return
        payload = json.loads(raw)["payload"]
        self._send(m.order_status_request(order_id=order_key, symbol=payload["symbol"], side=payload["side"]))

    def _reconcile_answer(self, report: ExecutionReport) -> None:
        order_key = str(report.order_id)
        redis = redis_client()
        raw = redis.hget(self.inflight_key, order_key)
        unknown = report.order_status == m.ORD_STATUS_REJECTED and report.exchange_order_id in ("", "NONE")
        if not unknown:
            # The venue knows the order: its resent reports came first (sequence order); the core
            # books anything still missing from the venue's totals.
            self._apply(report)
            if report.order_status in m.TERMINAL_ORD_STATUSES:
                redis.hdel(self.inflight_key, order_key)
            return
        if raw is None:
            return
        entry = json.loads(raw)
        age = time.time() - float(entry["sent_at"])
        if age <= self.stale_after_seconds:
            # Never reached the venue and still fresh: send it now as a new message (not a resend).
            payload = entry["payload"]
            message = (m.new_order_single(payload) if entry["type"] == "PlaceOrder"
                       else m.order_cancel_replace_request(payload))
            self.stats.resent_after_reconcile += 1
            self._send(message)
            return
        self.stats.stale_rejected += 1
        self._apply(ExecutionReport(
            order_id=uuid.UUID(order_key), exec_id=f"gateway-stale:{order_key}", exec_type="rejected",
            order_status=m.ORD_STATUS_REJECTED,
            reject_reason=f"not received by the venue within {int(self.stale_after_seconds)}s; not resent",
        ))
        redis.hdel(self.inflight_key, order_key)
