"""The FIX 4.4 data dictionary the sessions validate against, generated from the quickfix package.

The `quickfix` wheel ships no FIX44.xml, and the project copies no third-party files in. QuickFIX
needs a dictionary to parse repeating groups (market-data entries, symbol lists), so this module
writes one: field numbers and types come from the package's own field classes (quickfix.<Name>),
and the message layouts below list the messages the venue link uses. The file is regenerated
on every start (it is derived data under var/fix).
"""

from __future__ import annotations

import functools
from pathlib import Path
from xml.etree import ElementTree as ET

import quickfix as fix

HEADER = [
    ("BeginString", True), ("BodyLength", True), ("MsgType", True), ("SenderCompID", True),
    ("TargetCompID", True), ("OnBehalfOfCompID", False), ("DeliverToCompID", False),
    ("SecureDataLen", False), ("SecureData", False), ("MsgSeqNum", True), ("SenderSubID", False),
    ("TargetSubID", False), ("PossDupFlag", False), ("PossResend", False), ("SendingTime", True),
    ("OrigSendingTime", False), ("LastMsgSeqNumProcessed", False),
]
TRAILER = [("SignatureLength", False), ("Signature", False), ("CheckSum", True)]

# A group is (counter field, [member fields...]); the first member is the delimiter.
Group = tuple[str, list[str]]
Member = str | Group
MD_ENTRIES: Group = ("NoMDEntries", [
    "MDEntryType", "MDEntryPx", "Currency", "MDEntrySize", "MDEntryDate", "MDEntryTime",
    "TickDirection", "QuoteCondition", "TradeCondition", "MDEntryOriginator", "NumberOfOrders",
    "MDEntryPositionNo", "Text",
])
MD_INC_ENTRIES: Group = ("NoMDEntries", [
    "MDUpdateAction", "DeleteReason", "MDEntryType", "MDEntryID", "MDEntryRefID", "Symbol",
    "MDEntryPx", "Currency", "MDEntrySize", "MDEntryDate", "MDEntryTime", "TickDirection",
    "QuoteCondition", "TradeCondition", "MDEntryOriginator", "NumberOfOrders", "MDEntryPositionNo",
    "Text",
])
ORDER_FIELDS = [
    "Account", "Symbol", "Side", "TransactTime", "OrderQty", "CashOrderQty", "OrdType", "Price",
    "StopPx", "Currency", "TimeInForce", "ExecInst", "HandlInst", "Text",
]

# name, msgtype, category, [(member, required)]
MESSAGES: list[tuple[str, str, str, list[tuple[Member, bool]]]] = [
    ("Heartbeat", "0", "admin", [("TestReqID", False)]),
    ("TestRequest", "1", "admin", [("TestReqID", True)]),
    ("ResendRequest", "2", "admin", [("BeginSeqNo", True), ("EndSeqNo", True)]),
    ("Reject", "3", "admin", [("RefSeqNum", True), ("RefTagID", False), ("RefMsgType", False),
                              ("SessionRejectReason", False), ("Text", False)]),
    ("SequenceReset", "4", "admin", [("GapFillFlag", False), ("NewSeqNo", True)]),
    ("Logout", "5", "admin", [("Text", False)]),
    ("Logon", "A", "admin", [("EncryptMethod", True), ("HeartBtInt", True), ("RawDataLength", False),
                             ("RawData", False), ("ResetSeqNumFlag", False),
                             ("NextExpectedMsgSeqNum", False), ("Username", False), ("Password", False)]),
    ("ExecutionReport", "8", "app", [
        ("OrderID", True), ("ClOrdID", False), ("OrigClOrdID", False), ("ExecID", True),
        ("ExecType", True), ("OrdStatus", True), ("OrdRejReason", False), ("Account", False),
        ("Symbol", True), ("Side", True), ("OrdType", False), ("OrderQty", False), ("Price", False),
        ("StopPx", False), ("TimeInForce", False), ("LastQty", False), ("LastPx", False),
        ("LeavesQty", True), ("CumQty", True), ("AvgPx", True), ("TransactTime", False),
        ("ExecRestatementReason", False), ("Text", False),
    ]),
    ("OrderCancelReject", "9", "app", [
        ("OrderID", True), ("ClOrdID", True), ("OrigClOrdID", False), ("OrdStatus", True), ("Account", False),
        ("CxlRejResponseTo", True), ("CxlRejReason", False), ("TransactTime", False), ("Text", False),
    ]),
    ("NewOrderSingle", "D", "app", [("ClOrdID", True), *[(f, False) for f in ORDER_FIELDS]]),
    ("OrderCancelRequest", "F", "app", [
        ("OrigClOrdID", True), ("OrderID", False), ("ClOrdID", True), ("Account", False), ("Symbol", True),
        ("Side", True), ("TransactTime", True), ("OrderQty", False), ("Text", False),
    ]),
    ("OrderCancelReplaceRequest", "G", "app", [
        ("OrderID", False), ("OrigClOrdID", True), ("ClOrdID", True), *[(f, False) for f in ORDER_FIELDS],
    ]),
    ("OrderStatusRequest", "H", "app", [
        ("OrderID", False), ("ClOrdID", True), ("Account", False), ("Symbol", True), ("Side", True),
    ]),
    ("MarketDataRequest", "V", "app", [
        ("MDReqID", True), ("SubscriptionRequestType", True), ("MarketDepth", True),
        ("MDUpdateType", False), ("AggregatedBook", False),
        (("NoMDEntryTypes", ["MDEntryType"]), True),
        (("NoRelatedSym", ["Symbol", "SecurityID", "SecurityIDSource"]), True),
    ]),
    ("MarketDataSnapshotFullRefresh", "W", "app", [
        ("MDReqID", False), ("Symbol", True), (MD_ENTRIES, True),
    ]),
    ("MarketDataIncrementalRefresh", "X", "app", [
        ("MDReqID", False), (MD_INC_ENTRIES, True),
    ]),
    ("MarketDataRequestReject", "Y", "app", [
        ("MDReqID", True), ("MDReqRejReason", False), ("Text", False),
    ]),
]

_PRICE_WORDS = ("Px", "Price", "Amt")
_QTY_WORDS = ("Qty", "Size")


def _field_type(name: str) -> str:
    cls = getattr(fix, name)
    kinds = {k.__name__ for k in cls.__mro__}
    if name.startswith("No") and "IntField" in kinds:
        return "NUMINGROUP"
    if name in ("MsgSeqNum", "BeginSeqNo", "EndSeqNo", "NewSeqNo", "RefSeqNum", "NextExpectedMsgSeqNum",
                "LastMsgSeqNumProcessed"):
        return "SEQNUM"
    if name in ("BodyLength", "RawDataLength", "SecureDataLen", "SignatureLength"):
        return "LENGTH"
    if "DoubleField" in kinds:
        if any(w in name for w in _PRICE_WORDS):
            return "PRICE"
        if any(w in name for w in _QTY_WORDS):
            return "QTY"
        return "FLOAT"
    for base, fix_type in (("IntField", "INT"), ("CharField", "CHAR"), ("BoolField", "BOOLEAN"),
                           ("UtcTimeStampField", "UTCTIMESTAMP"), ("UtcDateOnlyField", "UTCDATEONLY"),
                           ("UtcTimeOnlyField", "UTCTIMEONLY"), ("CheckSumField", "STRING")):
        if base in kinds:
            return fix_type
    if name in ("RawData", "SecureData", "Signature"):
        return "DATA"
    return "STRING"


def _tag(name: str) -> int:
    return int(getattr(fix, name)().getField())


def _members(parent: ET.Element, members: list[tuple[Member, bool]], used: set[str]) -> None:
    for member, required in members:
        flag = "Y" if required else "N"
        if isinstance(member, tuple):
            counter, fields = member
            used.add(counter)
            group = ET.SubElement(parent, "group", name=counter, required=flag)
            _members(group, [(f, i == 0) for i, f in enumerate(fields)], used)
        else:
            used.add(member)
            ET.SubElement(parent, "field", name=member, required=flag)


def dictionary_xml() -> str:
    root = ET.Element("fix", type="FIX", major="4", minor="4", servicepack="0")
    used: set[str] = set()
    _members(ET.SubElement(root, "header"), list(HEADER), used)
    _members(ET.SubElement(root, "trailer"), list(TRAILER), used)
    messages = ET.SubElement(root, "messages")
    for name, msgtype, category, members in MESSAGES:
        _members(ET.SubElement(messages, "message", name=name, msgtype=msgtype, msgcat=category),
                 members, used)
    ET.SubElement(root, "components")
    fields = ET.SubElement(root, "fields")
    for name in sorted(used, key=_tag):
        ET.SubElement(fields, "field", number=str(_tag(name)), name=name, type=_field_type(name))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def dictionary_path(directory: Path) -> Path:
    """Write the dictionary under `directory` (idempotent) and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "FIX44.xml"
    content = dictionary_xml()
    if not path.exists() or path.read_text() != content:
        tmp = path.with_suffix(f".{id(content)}.tmp")
        tmp.write_text(content)
        tmp.replace(path)
    return path


@functools.cache
def data_dictionary(directory: str) -> fix.DataDictionary:
    """A parsed dictionary object for building / reading messages outside a session."""
    return fix.DataDictionary(str(dictionary_path(Path(directory))))
