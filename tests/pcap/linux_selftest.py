"""The transit half (INPUT) of the Linux IOAM selftest matrix, as data.

Source: shared/reference/linux-ioam-behaviour.md section 11.3 (and 6.1 for
the Beta profile). Each entry says what trace Alpha sends (ns, type, size,
Overflow) and what Gamma must see after Beta: the (Overflow, NodeLen,
RemLen) header and Beta's fields. These expectations are written from the
table, independently of the reference model in ioam_scapy.py, so the tests
can check the appliance against both.

Field expectations use a few markers for values that cannot be predicted:
  TS_SEC   seconds of "now": != 0 and != 0xFFFFFFFF (plausibility in pcaptest)
  TS_FRAC  sub-seconds: != 0xFFFFFFFF and < 1 000 000 (microseconds)
  NOT_NA   anything but 0xFFFFFFFF (queue depth of a forwarded packet)
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import ioam_scapy as ioam

TS_SEC = "<ts-seconds>"
TS_FRAC = "<ts-microseconds>"
NOT_NA = "<not-0xFFFFFFFF>"

HLIM_SENT = 64       # Alpha pings with -t 64; the encap copies it
HLIM_WRITTEN = 63    # Beta writes hop limit - 1

# Beta's per-field values (reference 11.3 "B:" column; namespace 123 has no
# data and no schema on Beta).
BETA_FIELDS: Dict[int, Dict[str, object]] = {
    0: {"hop_limit": HLIM_WRITTEN, "node_id": 2},
    1: {"ingress_id": 201, "egress_id": 202},
    2: {"ts_sec": TS_SEC},
    3: {"ts_frac": TS_FRAC},
    4: {"transit_delay": ioam.U32_NA},
    5: {"ns_data": ioam.U32_NA},
    6: {"queue_depth": NOT_NA},
    7: {"checksum_complement": ioam.U32_NA},
    8: {"hop_limit_wide": HLIM_WRITTEN, "node_id_wide": 22222222},
    9: {"ingress_id_wide": 201201, "egress_id_wide": 202202},
    10: {"ns_data_wide": ioam.U64_NA},
    11: {"buffer_occupancy": ioam.U32_NA},
    22: {"oss": {"length": 0, "schema_id": 0xFFFFFF, "data": b""}},
}

# Porthos (seed 002): same node/interface ids as Beta, but namespace 123 has
# data 0xdeadbee1 / 0xcafec0caf11dc0de and schema 666 "Hello there -Obi".
PORTHOS_FIELDS: Dict[int, Dict[str, object]] = {
    **BETA_FIELDS,
    5: {"ns_data": 0xDEADBEE1},
    10: {"ns_data_wide": 0xCAFEC0CAF11DC0DE},
    22: {"oss": {"length": 4, "schema_id": 666, "data": b"Hello there -Obi"}},
}


def fields_for(type24: int, table: Dict[int, Dict[str, object]]) -> Dict[str, object]:
    out: Dict[str, object] = {}
    for n in ioam.bits_of(type24):
        if 12 <= n <= 21:
            out.setdefault("undefined", {})[n] = ioam.U32_NA
        else:
            out.update(table.get(n, {}))
    return out


@dataclass
class InputTest:
    name: str
    ns: int
    type24: int
    size: int
    header: Tuple[int, int, int]           # (Overflow, NodeLen, RemLen) after Beta
    fields: Optional[Dict[str, object]]    # Beta's node, None = nothing written
    overflow_in: bool = False              # Overflow already set by Alpha
    disabled: bool = False                 # Beta's ingress has IOAM disabled
    event: str = ioam.EV_FILLED            # appliance counter expected
    written_size: int = 0                  # octets Beta writes (NodeLen + OSS)


def _single_bit_tests(table) -> List[InputTest]:
    tests = []
    for n in list(range(12)) + [22]:
        t = ioam.bit(n)
        nl = ioam.nodelen_for(t)
        size = 4 if nl <= 1 else 8
        tests.append(InputTest(f"input_bit{n}", 123, t, size, (0, nl, 0),
                               fields_for(t, table), written_size=size))
    return tests


def input_matrix() -> List[InputTest]:
    """The 80 INPUT tests of section 11.3 (one mode)."""
    tests = [
        InputTest("input_undef_ns", 0, 0x800000, 4, (0, 1, 1), None,
                  event=ioam.EV_SKIP_UNKNOWN_NS),
        InputTest("input_no_room", 123, 0xC00000, 4, (1, 2, 1), None,
                  event=ioam.EV_OVERFLOW_SET),
        InputTest("input_no_room_oss", 123, 0x000002, 4, (0, 0, 0),
                  {"oss": {"length": 0, "schema_id": 0xFFFFFF, "data": b""}},
                  written_size=4),
        InputTest("input_disabled", 123, 0x800000, 4, (0, 1, 1), None, disabled=True,
                  event=ioam.EV_SKIP_DISABLED),
        InputTest("input_oflag", 123, 0xC00000, 4, (1, 2, 1), None, overflow_in=True,
                  event=ioam.EV_SKIP_OVERFLOW),
    ]
    tests += _single_bit_tests(BETA_FIELDS)
    for size in range(4, ioam.TRACE_DATA_SIZE_MAX + 1, 4):
        tests.append(InputTest(f"input_size{size}", 123, 0x800000, size,
                               (0, 1, size // 4 - 1), dict(BETA_FIELDS[0]), written_size=4))
    tests.append(InputTest("input_full_supp_trace", 123, 0xFFF002, 64, (0, 15, 0),
                           fields_for(0xFFF002, BETA_FIELDS), written_size=64))
    return tests


def porthos_matrix() -> List[InputTest]:
    """Single bits and the full trace with Porthos's namespace data and
    schema bound (bit 22 then needs 1 + 4 words)."""
    tests = []
    for t in _single_bit_tests(PORTHOS_FIELDS):
        if t.type24 == ioam.bit(22):
            t = InputTest("porthos_bit22", 123, t.type24, 20, (0, 0, 0), t.fields,
                          written_size=20)
        else:
            t.name = t.name.replace("input_", "porthos_")
        tests.append(t)
    tests += [
        # With a 16-octet schema bound, OSS needs 5 words: 4 octets overflow.
        InputTest("porthos_no_room_oss", 123, 0x000002, 4, (1, 0, 1), None,
                  event=ioam.EV_OVERFLOW_SET),
        InputTest("porthos_oss_exact_minus_4", 123, 0x000002, 16, (1, 0, 4), None,
                  event=ioam.EV_OVERFLOW_SET),
        InputTest("porthos_oss_room_left", 123, 0x000002, 28, (0, 0, 2),
                  fields_for(0x000002, PORTHOS_FIELDS), written_size=20),
        InputTest("porthos_full_supp_trace", 123, 0xFFF002, 80, (0, 15, 0),
                  fields_for(0xFFF002, PORTHOS_FIELDS), written_size=80),
        InputTest("porthos_full_supp_trace_244", 123, 0xFFF002, 244, (0, 15, 41),
                  fields_for(0xFFF002, PORTHOS_FIELDS), written_size=80),
    ]
    return tests


def extra_bits_matrix() -> List[InputTest]:
    """Bits the encap node refuses but a transit node must handle:
    12..21 (each 0xFFFFFFFF), 23 (ignored, nothing written)."""
    tests = []
    for n in range(12, 22):
        t = ioam.bit(n)
        tests.append(InputTest(f"input_undef_bit{n}", 123, t, 4, (0, 1, 0),
                               fields_for(t, BETA_FIELDS), written_size=4))
    t = 0x800000 | 0x000FFC   # bit 0 + all of 12..21
    tests.append(InputTest("input_undef_bits12_21", 123, t, 44, (0, 11, 0),
                           fields_for(t, BETA_FIELDS), written_size=44))
    tests.append(InputTest("input_bit23_ignored", 123, 0x800001, 4, (0, 1, 0),
                           fields_for(0x800000, BETA_FIELDS), written_size=4))
    # Nothing to write at all: Linux still "fills" (zero octets, RemLen kept).
    tests.append(InputTest("input_bit23_alone", 123, 0x000001, 4, (0, 0, 1), {},
                           written_size=0))
    tests.append(InputTest("input_type0", 123, 0x000000, 4, (0, 0, 1), {},
                           written_size=0))
    return tests


def check_fields(node: dict, expected: Dict[str, object]) -> List[str]:
    """Differences between a decoded node and the expectations (markers
    allowed); [] when everything matches."""
    problems = []
    keys = set(node) | set(expected)
    for k in sorted(keys):
        if k not in expected:
            problems.append(f"unexpected field {k}={node[k]!r}")
            continue
        if k not in node:
            problems.append(f"missing field {k}")
            continue
        want, got = expected[k], node[k]
        if want == TS_SEC:
            if got in (0, ioam.U32_NA):
                problems.append(f"{k}={got:#x}: must be != 0 and != 0xFFFFFFFF")
        elif want == TS_FRAC:
            if got == ioam.U32_NA or got >= 1_000_000:
                problems.append(f"{k}={got:#x}: must be microseconds (< 1000000)")
        elif want == NOT_NA:
            if got == ioam.U32_NA:
                problems.append(f"{k}=0xFFFFFFFF: must be a real value")
        elif want != got:
            def fmt(v):
                return hex(v) if isinstance(v, int) else repr(v)
            problems.append(f"{k}: expected {fmt(want)}, got {fmt(got)}")
    return problems


def input_hbh(t: InputTest, mode: str) -> bytes:
    """The HbH Alpha's encap node sends for test ``t`` (its namespace 123 is
    deleted during INPUT, so the trace is empty; input_oflag: Overflow set)."""
    nh = ioam.NH_ICMPV6 if mode == "inline" else ioam.NH_IPV6
    return ioam.linux_hbh(nh, t.ns, t.type24, t.size, overflow=t.overflow_in)


def verify_output(t: InputTest, pkt: bytes, mode: str) -> List[str]:
    """What ioam6_parser checks on Gamma (reference 6.2), every byte strict.
    ``pkt`` is the IPv6 packet that left the transit node."""
    p: List[str] = []
    if pkt[6] != ioam.NH_HOPOPTS:
        return [f"no HbH after the IPv6 header (next header {pkt[6]})"]
    want_nh = ioam.NH_ICMPV6 if mode == "inline" else ioam.NH_IPV6
    if pkt[40] != want_nh:
        p.append(f"HbH next header {pkt[40]}, expected {want_nh}")
    hbh_len = (pkt[41] + 1) * 8
    if hbh_len != ioam.linux_hbh_len(t.size):
        p.append(f"HbH length {hbh_len}, expected {ioam.linux_hbh_len(t.size)}")
    if pkt[42:44] != b"\x01\x00":
        p.append(f"leading PadN(2) is {pkt[42:44].hex()}")
    if pkt[44] != ioam.OPT_IOAM or pkt[45] != 10 + t.size or pkt[46:48] != b"\x00\x00":
        p.append(f"IOAM option header {pkt[44:48].hex()}, expected "
                 f"31{10 + t.size:02x}0000")
    tail = pkt[48 + 8 + t.size:40 + hbh_len]
    want_tail = b"\x01\x02\x00\x00" if t.size % 8 == 4 else b""
    if tail != want_tail:
        p.append(f"trailing padding {tail.hex()}, expected {want_tail.hex()}")
    tr = ioam.ioam_trace(pkt)
    if tr.ns != t.ns or tr.type24 != t.type24 or tr.type_low != 0:
        p.append(f"ns/type {tr.ns}/{tr.type24:#08x}/{tr.type_low:#x} changed")
    if tr.header_tuple() != t.header:
        p.append(f"(Overflow, NodeLen, RemLen) = {tr.header_tuple()}, expected {t.header}")
    if tr.flags & ~ioam.FLAG_OVERFLOW:
        p.append(f"unexpected flags {tr.flags:#x}")
    if any(tr.data[:tr.remlen * 4]):
        p.append(f"free area not zero: {tr.data[:tr.remlen * 4].hex()}")
    if t.fields is None:
        if any(tr.data):
            p.append(f"node data written although nothing should be: {tr.data.hex()}")
        return p
    try:
        nodes = ioam.decode_nodes(tr)
    except ValueError as exc:
        return p + [f"cannot decode node data: {exc}"]
    want_nodes = 1 if t.written_size else 0
    if len(nodes) != want_nodes:
        return p + [f"{len(nodes)} nodes in the trace, expected {want_nodes}: {nodes}"]
    if nodes:
        p += check_fields(nodes[0], t.fields)
    return p
