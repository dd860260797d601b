"""Real QuickFIX sessions on loopback: the venue acceptor against the gateway initiator, up to the
ExecutionReport boundary (the trading core side is covered by test_end_to_end.py)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import quickfix as fix

from apps.fix import messages as m
from apps.fix.tests.conftest import Recorder, place_envelope, wait_for
from apps.ops.clients import redis_client

TERMINAL = {"fill", "canceled", "rejected", "expired"}


def terminal_reports(recorder: Recorder, order_id: uuid.UUID) -> list[str]:
    return [k for k in recorder.kinds(order_id) if k in TERMINAL]


def test_market_order_fills_against_the_market_maker(venue, gateway_factory):
    recorder = Recorder()
    gateway = gateway_factory(apply_report=recorder)
    envelope = place_envelope(symbol="AAPL", qty="150")
    order_id = uuid.UUID(envelope["payload"]["order_id"])
    assert gateway.command_send(envelope)
    wait_for(lambda: "fill" in recorder.kinds(order_id), what="fill")
    reports = recorder.by_order[order_id]
    assert reports[0].exec_type == "new"
    fills = [r for r in reports if r.exec_type in ("partial_fill", "fill")]
    assert sum(r.last_qty for r in fills) == Decimal(150) == fills[-1].cum_qty
    assert all(r.last_price > 0 for r in fills) and fills[-1].leaves_qty == 0
    assert fills[0].last_price >= venue.fair("AAPL")  # a buy lifts offers above fair
    assert len({r.exec_id for r in reports}) == len(reports)
    best_bid, best_ask = venue.top_of_book("AAPL")
    assert best_bid < best_ask
    wait_for(lambda: redis_client().hget(gateway.inflight_key, str(order_id)) is None, what="no longer in flight")


def test_limit_rests_then_cancel_and_replace(venue, gateway_factory):
    recorder = Recorder()
    gateway = gateway_factory(apply_report=recorder)
    low = (venue.fair("MSFT") * Decimal("0.5")).quantize(Decimal("0.01"))
    resting = place_envelope(symbol="MSFT", type="limit", qty="5", limit_price=str(low), tif="gtc")
    resting_id = uuid.UUID(resting["payload"]["order_id"])
    gateway.command_send(resting)
    wait_for(lambda: recorder.kinds(resting_id) == ["new"], what="ack",
             detail=lambda: (recorder.kinds(resting_id), gateway.state(), venue.accepted()))
    # Replace: new order id, higher quantity, still far from the market.
    new_id = uuid.uuid4()
    replace = {"event_id": str(uuid.uuid4()), "type": "ReplaceOrder", "payload": {
        **resting["payload"], "order_id": str(new_id), "orig_order_id": str(resting_id), "qty": "7",
        "limit_price": str(low - 1)}}
    gateway.command_send(replace)
    wait_for(lambda: "replaced" in recorder.kinds(new_id), what="replaced")
    replaced = recorder.by_order[new_id][-1]
    assert replaced.orig_order_id == resting_id and replaced.leaves_qty == 7
    # Cancel the replacement: the report is about the order, not the cancel request.
    cancel = {"event_id": str(uuid.uuid4()), "type": "CancelOrder", "payload": {
        "order_id": str(new_id), "account_id": "acc", "symbol": "MSFT", "side": "buy", "qty": "7"}}
    gateway.command_send(cancel)
    wait_for(lambda: "canceled" in recorder.kinds(new_id), what="canceled")
    assert venue.top_of_book("MSFT")[0] != low - 1
    # A second cancel of the same order is refused by the venue (35=9), nothing else changes.
    again = {**cancel, "event_id": str(uuid.uuid4())}
    gateway.command_send(again)
    wait_for(lambda: "cancel_rejected" in recorder.kinds(new_id), what="cancel reject")
    assert terminal_reports(recorder, new_id) == ["canceled"]


def test_rejections_carry_the_reason(venue, gateway_factory):
    recorder = Recorder()
    gateway = gateway_factory(apply_report=recorder)
    unknown = place_envelope(symbol="NOPE")
    gateway.command_send(unknown)
    venue.set_switches(reject_ratio=1.0)
    switched = place_envelope(symbol="AAPL")
    gateway.command_send(switched)
    for envelope, reason in ((unknown, "unknown symbol"), (switched, "reject switch")):
        order_id = uuid.UUID(envelope["payload"]["order_id"])
        key = str(order_id)

        def rejected(order_id: uuid.UUID = order_id) -> bool:
            return "rejected" in recorder.kinds(order_id)

        def settled(key: str = key) -> bool:
            return redis_client().hget(gateway.inflight_key, key) is None

        wait_for(rejected, what="reject")
        report = recorder.by_order[order_id][-1]
        assert reason in report.reject_reason and report.cum_qty == 0
        wait_for(settled, what="no longer in flight")
    assert sum(venue.accepted().values()) == 0


def test_duplicate_clordid_is_rejected_with_reason_6_and_not_applied(venue, gateway_factory):
    recorder = Recorder()
    gateway = gateway_factory(apply_report=recorder)
    envelope = place_envelope(symbol="SPY", type="limit", qty="1", limit_price="1.00", tif="gtc")
    order_id = uuid.UUID(envelope["payload"]["order_id"])
    gateway.command_send(envelope)
    wait_for(lambda: recorder.kinds(order_id) == ["new"], what="ack")
    # A replayed Kafka command is suppressed by the gateway itself...
    assert gateway.command_send({**envelope, "event_id": str(uuid.uuid4())})
    assert gateway.stats.duplicates_suppressed == 1
    # ...and a raw duplicate NewOrderSingle is refused by the venue with OrdRejReason 6, which the
    # gateway does not take as the order's fate (it asks for the status instead).
    fix.Session.sendToTarget(m.new_order_single(envelope["payload"]), gateway.session_id)
    wait_for(lambda: "status" in recorder.kinds(order_id), what="status after duplicate")
    assert venue.accepted().get(str(order_id)) == 1
    assert "rejected" not in recorder.kinds(order_id)


def test_gateway_restart_continues_sequence_numbers_and_sends_nothing_twice(venue, gateway_factory):
    recorder = Recorder()
    gateway = gateway_factory(apply_report=recorder)
    first = [place_envelope(symbol="AAPL", qty="1") for _ in range(5)]
    for envelope in first:
        gateway.command_send(envelope)
    wait_for(lambda: all("fill" in recorder.kinds(uuid.UUID(e["payload"]["order_id"])) for e in first))
    sender_before, target_before = gateway.sequence_numbers()
    gateway.stop()
    restarted = gateway_factory(apply_report=recorder)
    sender_after, target_after = restarted.sequence_numbers()
    # Logon (and possibly a heartbeat) came after the restart; nothing started again from 1.
    assert sender_after > sender_before and target_after > target_before
    # The same commands delivered again (Kafka at-least-once) are not sent again.
    for envelope in first:
        restarted.command_send(envelope)
    second = [place_envelope(symbol="AAPL", qty="1") for _ in range(5)]
    for envelope in second:
        restarted.command_send(envelope)
    wait_for(lambda: all("fill" in recorder.kinds(uuid.UUID(e["payload"]["order_id"])) for e in second))
    assert restarted.stats.duplicates_suppressed == 5
    assert sorted(venue.accepted().values()) == [1] * 10


def test_cut_session_with_100_orders_in_flight_each_ends_in_exactly_one_state(venue, gateway_factory):
    recorder = Recorder()
    gateway = gateway_factory(apply_report=recorder)
    venue.set_switches(latency_ms=20)  # the venue works through its queue slowly
    envelopes = [place_envelope(symbol="SPY", qty="1") for _ in range(90)]
    for envelope in envelopes:
        assert gateway.command_send(envelope)
    wait_for(lambda: len(recorder.reports) >= 10, what="first reports")
    venue.drop_sessions(1.5)
    wait_for(lambda: not gateway.logged_on.is_set(), what="session cut")
    # Ten more orders race the disconnect: QuickFIX stores them under sequence numbers the venue
    # never received. On reconnect they must be gap-filled, never resent as they were.
    late = [place_envelope(symbol="SPY", qty="1") for _ in range(10)]
    for envelope in late:
        gateway.dispatch(envelope)
    venue.set_switches(latency_ms=0)
    everything = envelopes + late
    ids = [uuid.UUID(e["payload"]["order_id"]) for e in everything]
    try:
        wait_for(lambda: all(terminal_reports(recorder, i) for i in ids), timeout=30, what="all orders final")
    except AssertionError:
        accepted = venue.accepted()
        open_orders = {str(i): (recorder.kinds(i), accepted.get(str(i), 0)) for i in ids
                       if not terminal_reports(recorder, i)}
        raise AssertionError(f"{len(open_orders)} not final: {list(open_orders.items())[:5]}; "
                             f"gateway {gateway.stats}; in flight {gateway.state()['in_flight']}") from None
    for order_id in ids:
        assert terminal_reports(recorder, order_id) == ["fill"], recorder.kinds(order_id)
    accepted = venue.accepted()
    assert sorted(accepted.get(str(i), 0) for i in ids) == [1] * 100
    assert gateway.stats.gap_filled >= 10
    assert gateway.stats.resent_after_reconcile >= 10
    wait_for(lambda: redis_client().hlen(gateway.inflight_key) == 0, what="nothing left in flight")


def test_stale_order_unknown_to_the_venue_is_rejected_not_resent(venue, gateway_factory):
    recorder = Recorder()
    gateway = gateway_factory(apply_report=recorder, stale_after=0.0)
    venue.drop_sessions(1.0)
    wait_for(lambda: not gateway.logged_on.is_set(), what="session cut")
    envelope = place_envelope(symbol="AAPL")
    order_id = uuid.UUID(envelope["payload"]["order_id"])
    gateway.dispatch(envelope)
    wait_for(lambda: "rejected" in recorder.kinds(order_id), what="stale reject")
    assert "not received by the venue" in recorder.by_order[order_id][-1].reject_reason
    assert venue.accepted().get(str(order_id), 0) == 0 and gateway.stats.resent_after_reconcile == 0


def test_day_orders_expire_when_the_trading_day_changes(venue, gateway_factory):
    recorder = Recorder()
    gateway = gateway_factory(apply_report=recorder)
    day = place_envelope(symbol="XYZ", type="limit", qty="2", limit_price="1.00", tif="day")
    gtc = place_envelope(symbol="XYZ", type="limit", qty="2", limit_price="1.01", tif="gtc")
    for envelope in (day, gtc):
        gateway.command_send(envelope)
    day_id, gtc_id = (uuid.UUID(e["payload"]["order_id"]) for e in (day, gtc))
    wait_for(lambda: recorder.kinds(day_id) == ["new"] and recorder.kinds(gtc_id) == ["new"], what="acks")
    assert venue.expire_if_new_day() == 0
    venue.set_trading_day("2000-01-01")  # as if the process had started on an earlier day
    assert venue.expire_if_new_day() == 1
    wait_for(lambda: "expired" in recorder.kinds(day_id), what="expiry")
    assert recorder.kinds(gtc_id) == ["new"]


def test_healthz_reports_the_order_session(venue, gateway_factory, settings):
    from apps.fix.health import GATEWAY_WORKER, check_order_session
    from workers.heartbeat import heartbeat_beat, heartbeat_key

    redis_client().delete(heartbeat_key(GATEWAY_WORKER))
    settings.HEALTH_REQUIRED_WORKERS = []
    assert check_order_session() == {"ok": True, "required": False, "running": False}
    settings.HEALTH_REQUIRED_WORKERS = [GATEWAY_WORKER]
    assert check_order_session()["ok"] is False
    gateway = gateway_factory(apply_report=Recorder())
    wait_for(lambda: gateway.last_inbound_at > 0, what="a message from the venue")
    heartbeat_beat(name=GATEWAY_WORKER, details={**gateway.state(), "lag_messages": 0})
    healthy = check_order_session()
    assert healthy["ok"] and healthy["logged_on"] and healthy["last_heartbeat_age_s"] < 5
    assert healthy["lag_messages"] == 0 and healthy["next_sender_seq"] > 1
    gateway.stop()
    heartbeat_beat(name=GATEWAY_WORKER, details=gateway.state())
    down = check_order_session()
    assert down["ok"] is False and down["logged_on"] is False
    redis_client().delete(heartbeat_key(GATEWAY_WORKER))
