"""Independent model of a Linux IOAM *encapsulating* node (an `encap ioam6`
lightweight tunnel on a route), adapted to the ioamfwd appliance.

Written from shared/reference/linux-ioam-behaviour.md only:
  * section 1.2 / 3.2  the Hop-by-Hop block (PadN(2), option 0x31, trace
                       header with NodeLen recomputed from the type, zeroed
                       data, PadN(4) when size % 8 == 4);
  * section 3.3        frequency k/n, inline / encap / auto, outer header
                       copied from the inner one, re-routing on tundst;
  * section 2.2 - 2.4  the fill the encap node does on its own fresh trace
                       (output path: hop limit written as it is);
and from the appliance's documented adaptations (issue text):
  * the packet is forwarded first (hop limit check + decrement), then the
    route's encap transforms it;
  * ingress interface id = the port the frame arrived on, so timestamps are
    real; egress id / queue depth belong to the port it finally leaves by
    (after the encap re-routing on tundst);
  * default tunnel source = first ``addresses`` entry of the tunnel's port;
  * MTU: result larger than the egress port's L3 MTU -> drop
    (``ioam_mtu_exceeded``), plain packets -> ``mtu_exceeded``;
  * tundst without route / neighbour -> ``ioam_tunnel_unreachable``;
  * the header is prepended in the mbuf headroom (128 octets), otherwise the
    payload is shifted (``ioam_insert_shift``): the bytes are identical.

The HbH builder and the fill are implemented here from the text and do not
call the transit model's helpers, so the tests can cross-check the two. The
only shared piece is ``ioam_scapy.linux_transit`` for what happens to the
received packet *before* the encap (RFC 8200 forwarding, an existing HbH
seen by a transit node), which is the transit model's job.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import ioam_scapy as ioam
import pcaptest as pt

MBUF_HEADROOM = 128          # RTE_PKTMBUF_HEADROOM: room to prepend in place

# Counter names (issue text; src/dataplane/counters.hpp names are the API).
EV_INSERTED = "ioam_inserted"
EV_FILLED = "ioam_filled"
EV_OVERFLOW = "ioam_overflow_set"
EV_UNKNOWN_NS = "ioam_skip_unknown_ns"
EV_SAMPLED_OUT = "ioam_sampled_out"
EV_HAS_HBH = "ioam_inline_has_hbh"
EV_SHIFT = "ioam_insert_shift"
DROP_IOAM_MTU = "ioam_mtu_exceeded"
DROP_MTU = "mtu_exceeded"
DROP_TUNNEL = "ioam_tunnel_unreachable"

# Placeholder words for what the model cannot know (same markers as the
# transit model so pcaptest.check_variables understands them).
PH = {ioam.VAR_TS_SEC: 0x7E57_0001, ioam.VAR_TS_FRAC: 0x000F_423F,
      ioam.VAR_QDEPTH: 0x7E57_0006}


# ----------------------------------------------------------------------------
# The pre-allocated Hop-by-Hop block (reference 1.2, 3.2)
# ----------------------------------------------------------------------------

def words_for_type(type24: int) -> int:
    """NodeLen as the encap node recomputes it (reference 2.1 item 7 / 3.1):
    bits 0-7, 11 and 12-21 one word each, bits 8-10 two words, bit 22 (OSS)
    and bit 23 nothing."""
    words = 0
    for b in range(24):
        if not (type24 >> (23 - b)) & 1:
            continue
        if 8 <= b <= 10:
            words += 2
        elif b <= 21:
            words += 1
    return words


def hbh_block(next_header: int, ns: int, type24: int, size: int) -> bytes:
    """The HbH an encap route inserts, byte by byte."""
    if size % 4 or not 4 <= size <= 244:
        raise ValueError(f"trace size {size}")
    aligned = (size + 7) & ~7
    total = 16 + aligned
    out = bytearray()
    out += bytes([next_header, total // 8 - 1])         # HbH next header, hdrlen
    out += b"\x01\x00"                                   # PadN, 2 octets
    out += bytes([0x31, 2 + 8 + size, 0x00, 0x00])       # IOAM, opt_len, rsvd, PREALLOC
    out += ns.to_bytes(2, "big")
    out += bytes([words_for_type(type24) << 3, size // 4])   # NodeLen|O|.., .|RemLen
    out += (type24 << 8).to_bytes(4, "big")              # 24 type bits + reserved octet
    out += bytes(size)
    if size % 8 == 4:
        out += b"\x01\x02\x00\x00"                       # PadN, 4 octets
    assert len(out) == total
    return bytes(out)


TRACE_OPT_OFFSET = 44        # IPv6 40 + HbH nh/len 2 + PadN 2


# ----------------------------------------------------------------------------
# Configuration as the model sees it
# ----------------------------------------------------------------------------

@dataclass
class PortConf:
    name: str
    index: int                    # net_pcapN -> N (the pcap file index)
    mac: str
    addresses: List[ipaddress.IPv6Interface]
    ioam_id: int = ioam.U16_NA
    ioam_id_wide: int = ioam.U32_NA
    enabled: bool = False
    mtu: int = 1500


@dataclass
class NsConf:
    data: int = ioam.U32_NA
    wide: int = ioam.U64_NA
    schema_id: Optional[int] = None
    schema: Optional[bytes] = None


@dataclass
class EncapConf:
    mode: str                     # inline | encap | auto
    ns: int
    type24: int
    size: int
    tundst: Optional[str] = None
    tunsrc: Optional[str] = None
    k: int = 1
    n: int = 1


@dataclass
class RouteConf:
    prefix: ipaddress.IPv6Network
    port: str
    via: Optional[str]
    encap: Optional[EncapConf]


@dataclass
class Outcome:
    """What the appliance should do with one received frame."""
    verdict: str                                  # "forward", "drop" or "held" (ND)
    drop: Optional[str] = None
    events: List[str] = field(default_factory=list)
    port: Optional[str] = None                    # egress port name
    frame: bytes = b""                            # expected frame on that port
    variables: List[Tuple[int, str]] = field(default_factory=list)  # frame offsets
    instrumented: bool = False
    mode: Optional[str] = None                    # inline / encap when instrumented


def _freq(text) -> Tuple[int, int]:
    k, n = str(text).split("/")
    return int(k), int(n)


class EncapNode:
    """The appliance configured by a YAML text, as the reference predicts it.

    ``process`` is stateful (per-route frequency counters), so frames must
    be fed in the order the appliance receives them (one worker)."""

    def __init__(self, config_text: str):
        cfg = pt.load_config(config_text)
        self.node_id = cfg.get("node", {}).get("id", ioam.NODE_ID_DEFAULT)
        self.node_id_wide = cfg.get("node", {}).get("id_wide", ioam.NODE_ID_WIDE_DEFAULT)
        self.ports: Dict[str, PortConf] = {}
        for p in cfg["ports"]:
            io = p.get("ioam", {}) or {}
            self.ports[p["name"]] = PortConf(
                p["name"], int(p["device"].replace("net_pcap", "")), p["mac"],
                [ipaddress.IPv6Interface(a) for a in p.get("addresses", [])],
                io.get("id", ioam.U16_NA), io.get("id_wide", ioam.U32_NA),
                bool(io.get("enabled", False)), p.get("mtu", 1500))
        schemas = {s["id"]: s["data"].encode() for s in cfg.get("schemas", []) or []}
        self.namespaces: Dict[int, NsConf] = {}
        for n in cfg.get("namespaces", []) or []:
            sid = n.get("schema")
            self.namespaces[n["id"]] = NsConf(n.get("data", ioam.U32_NA),
                                              n.get("wide", ioam.U64_NA), sid,
                                              None if sid is None else schemas[sid])
        self.routes: List[RouteConf] = []
        for r in cfg.get("routes", []) or []:
            e = r.get("encap")
            enc = None
            if e is not None:
                tr = e["trace"]
                k, n = _freq(e.get("freq", "1/1"))
                enc = EncapConf(e.get("mode", "inline"), tr["ns"], tr["type"], tr["size"],
                                e.get("tundst"), e.get("tunsrc"), k, n)
            self.routes.append(RouteConf(ipaddress.IPv6Network(r["prefix"]), r["port"],
                                         r.get("via"), enc))
        self.neighbors: Dict[Tuple[str, ipaddress.IPv6Address], str] = {
            (nb["port"], ipaddress.IPv6Address(nb["address"])): nb["mac"]
            for nb in cfg.get("neighbors", []) or []}
        self.counters: Dict[int, int] = {}

    # --- routing ---------------------------------------------------------------

    def lookup(self, dst: str):
        """Longest prefix match: ("local", None, None), or
        (port, next-hop address, route index or None for connected), or None."""
        a = ipaddress.IPv6Address(dst)
        best = None          # (prefixlen, port, nexthop, route index)
        for p in self.ports.values():
            for iface in p.addresses:
                if iface.ip == a:
                    return ("local", None, None)
                if a in iface.network and (best is None or iface.network.prefixlen > best[0]):
                    best = (iface.network.prefixlen, p.name, a, None)
        for i, r in enumerate(self.routes):
            if a in r.prefix and (best is None or r.prefix.prefixlen > best[0]):
                nh = ipaddress.IPv6Address(r.via) if r.via else a
                best = (r.prefix.prefixlen, r.port, nh, i)
        return None if best is None else best[1:]

    def neighbor(self, port: str, addr) -> Optional[str]:
        return self.neighbors.get((port, ipaddress.IPv6Address(addr)))

    # --- the fill (reference 2.2 / 2.3, output path) ---------------------------

    def fill(self, pkt: bytearray, opt_off: int, ingress: PortConf, egress: PortConf,
             variables: List[Tuple[int, str]]) -> str:
        """Fill this node's data into the fresh trace whose option type octet
        is at ``opt_off``; returns the IOAM event."""
        th = opt_off + 4
        ns_id = int.from_bytes(pkt[th:th + 2], "big")
        nodelen, remlen = pkt[th + 2] >> 3, pkt[th + 3] & 0x7F
        type24 = int.from_bytes(pkt[th + 4:th + 8], "big") >> 8
        ns = self.namespaces.get(ns_id)
        if ns is None:
            return EV_UNKNOWN_NS                       # trace stays empty
        sclen = 0
        schema = b""
        if type24 & 0x000002:                          # bit 22: OSS
            if ns.schema is None:
                sclen = 1
            else:
                schema = ns.schema + bytes(-len(ns.schema) % 4)
                sclen = 1 + len(schema) // 4
        if remlen == 0 or remlen < nodelen + sclen:
            pkt[th + 2] |= 0x04                        # Overflow
            return EV_OVERFLOW
        hlim = pkt[7]                                  # output path: not decremented
        w = bytearray()
        local_vars: List[Tuple[int, str]] = []

        def put(value: int, nbytes: int = 4, kind: Optional[str] = None) -> None:
            if kind:
                local_vars.append((len(w), kind))
            w.extend(value.to_bytes(nbytes, "big"))

        for b in range(24):
            if not (type24 >> (23 - b)) & 1:
                continue
            if b == 0:
                put((hlim << 24) | (self.node_id & 0xFFFFFF))
            elif b == 1:
                put(((ingress.ioam_id & 0xFFFF) << 16) | (egress.ioam_id & 0xFFFF))
            elif b == 2:
                put(PH[ioam.VAR_TS_SEC], kind=ioam.VAR_TS_SEC)
            elif b == 3:
                put(PH[ioam.VAR_TS_FRAC], kind=ioam.VAR_TS_FRAC)
            elif b == 5:
                put(ns.data & 0xFFFFFFFF)
            elif b == 6:
                put(PH[ioam.VAR_QDEPTH], kind=ioam.VAR_QDEPTH)
            elif b == 8:
                put((hlim << 56) | (self.node_id_wide & ((1 << 56) - 1)), 8)
            elif b == 9:
                put(ingress.ioam_id_wide & 0xFFFFFFFF)
                put(egress.ioam_id_wide & 0xFFFFFFFF)
            elif b == 10:
                put(ns.wide & ((1 << 64) - 1), 8)
            elif b == 22:
                if ns.schema is None:
                    put(0x00FFFFFF)
                else:
                    put(((len(schema) // 4) << 24) | (ns.schema_id & 0xFFFFFF))
                    w.extend(schema)
            elif b == 23:
                pass
            else:                                      # 4, 7, 11 (12-21 refused)
                put(0xFFFFFFFF)
        assert len(w) == (nodelen + sclen) * 4
        start = th + 8 + (remlen - nodelen - sclen) * 4
        pkt[start:start + len(w)] = w
        pkt[th + 3] = (pkt[th + 3] & 0x80) | (remlen - nodelen - sclen)
        variables.extend((start + o, k) for o, k in local_vars)
        return EV_FILLED

    # --- one frame -------------------------------------------------------------

    def _emit(self, out: Outcome, pkt: bytes, port: str, nexthop, plain_mtu_drop: str
              ) -> Outcome:
        mac = self.neighbor(port, nexthop)
        if mac is None:
            # Held for neighbour discovery (RFC 4861 7.2.2): solicited, not
            # sent, and in these short runs never answered.
            out.verdict, out.drop = "held", None
            return out
        if len(pkt) > self.ports[port].mtu:
            out.verdict, out.drop = "drop", plain_mtu_drop
            return out
        out.verdict, out.port = "forward", port
        out.frame = ioam.ether(mac, self.ports[port].mac, pkt)
        out.variables = [(o + 14, k) for o, k in out.variables]
        return out

    def process(self, frame: bytes, ingress: str) -> Outcome:
        inp = self.ports[ingress]
        pkt = frame[14:]
        dst = str(ipaddress.IPv6Address(pkt[24:40]))
        hit = self.lookup(dst)
        out = Outcome("drop")
        # Forwarding first (RFC 8200 / ip6_forward): the transit model does
        # the receive checks, any existing HbH, and the hop-limit decrement.
        egress_name = hit[0] if hit and hit[0] != "local" else None
        egr = self.ports.get(egress_name) if egress_name else None
        prof = ioam.NodeProfile(
            node_id=self.node_id, node_id_wide=self.node_id_wide,
            namespaces={i: ioam.Namespace(n.data, n.wide, n.schema_id, n.schema)
                        for i, n in self.namespaces.items()},
            enabled=inp.enabled, ingress_id=inp.ioam_id, ingress_id_wide=inp.ioam_id_wide,
            egress_id=egr.ioam_id if egr else ioam.U16_NA,
            egress_id_wide=egr.ioam_id_wide if egr else ioam.U32_NA,
            local=bool(hit) and hit[0] == "local", no_route=hit is None)
        m = ioam.linux_transit(pkt, prof)
        out.events += m.events
        if m.verdict != "forward":
            out.drop = m.drop
            return out
        pkt = m.packet
        out.variables = list(m.variables)
        port, nexthop, ridx = hit
        route = self.routes[ridx] if ridx is not None else None
        enc = route.encap if route else None
        if enc is None:
            return self._emit(out, pkt, port, nexthop, DROP_MTU)
        # Frequency (reference 3.3 step 2): counter before increment.
        c = self.counters.get(ridx, 0)
        self.counters[ridx] = c + 1
        if c % enc.n >= enc.k:
            out.events.append(EV_SAMPLED_OUT)
            return self._emit(out, pkt, port, nexthop, DROP_MTU)
        mode = "inline" if enc.mode == "inline" else "encap"   # forwarded: auto = encap
        if mode == "inline" and pkt[6] == ioam.NH_HOPOPTS:
            out.events.append(EV_HAS_HBH)
            return self._emit(out, pkt, port, nexthop, DROP_MTU)
        out.instrumented, out.mode = True, mode
        if mode == "inline":
            hbh = hbh_block(pkt[6], enc.ns, enc.type24, enc.size)
            new = bytearray(pkt[:40] + hbh + pkt[40:])
            new[6] = ioam.NH_HOPOPTS
            new[4:6] = (len(new) - 40).to_bytes(2, "big")
            added = len(hbh)
        else:
            t = self.lookup(enc.tundst)
            if t is None or t[0] == "local":
                out.verdict, out.drop = "drop", DROP_TUNNEL
                return out
            port, nexthop, _ = t
            src = enc.tunsrc or str(self.ports[port].addresses[0].ip)
            hbh = hbh_block(ioam.NH_IPV6, enc.ns, enc.type24, enc.size)
            new = bytearray(pkt[0:4])                  # version, TC, flow label
            new += (len(hbh) + len(pkt)).to_bytes(2, "big")
            new += bytes([ioam.NH_HOPOPTS, pkt[7]])    # hop limit: already decremented
            new += ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(enc.tundst).packed
            new += hbh + pkt
            added = 40 + len(hbh)
            # the transit model's variables (none expected) move with the inner packet
            out.variables = [(o + added, k) for o, k in out.variables]
        if self.neighbor(port, nexthop) is None:
            out.verdict, out.drop = "held", None  # as in _emit: neighbour discovery holds it
            return out
        if len(new) > self.ports[port].mtu:
            out.verdict, out.drop = "drop", DROP_IOAM_MTU
            return out
        out.events.append(EV_INSERTED)
        if added > MBUF_HEADROOM:
            out.events.append(EV_SHIFT)
        fill_vars: List[Tuple[int, str]] = []
        ev = self.fill(new, TRACE_OPT_OFFSET, inp, self.ports[port], fill_vars)
        out.events.append(ev)
        out.variables += fill_vars
        return self._emit(out, bytes(new), port, nexthop, DROP_IOAM_MTU)
