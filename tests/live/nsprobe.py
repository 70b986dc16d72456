#!/usr/bin/python3
"""Scapy traffic run *inside* a host's network namespace by the live tests
(``ip netns exec <ns> /usr/bin/python3 nsprobe.py COMMAND ...``).  Each
command prints one JSON object as its last line of output.

  flood IFACE SRC_MAC DST_MAC SRC DST_PREFIX COUNT SECONDS
      COUNT echo requests (L2, to DST_MAC, so no ND is involved) to
      COUNT different addresses of DST_PREFIX, spread evenly over SECONDS
      (0: as fast as the socket takes them); reads the ICMPv6 errors that
      come back on a raw socket opened before sending.  Reports the send
      window and every error's type, code, source and kernel arrival time.
  udp-send IFACE SRC_MAC DST_MAC SRC DST FLOWS PER_FLOW
      FLOWS UDP flows (source ports 20000+i) of PER_FLOW datagrams each,
      interleaved; each payload is "flow seq" (sequence number per flow).
  udp-recv IFACE FLOWS SECONDS EXPECTED
      Reads the UDP datagrams of those flows arriving on IFACE (AF_PACKET)
      until EXPECTED arrived or SECONDS passed; prints "ready" once
      listening, then per flow the sequence numbers in arrival order.
  capture IFACE SECONDS EXPECTED
      Incoming IPv6 frames (hex) until EXPECTED echo requests (with or
      without a Hop-by-Hop header) arrived or SECONDS passed.
"""

import json
import socket
import struct
import sys
import time


SO_TIMESTAMPNS = 35            # Linux; also the cmsg type of the stamp


def _icmp_errors(sock, quiet=1.0, limit=10.0):
    """ICMPv6 errors read from a raw socket opened before the traffic,
    with their kernel arrival time; stops after ``quiet`` s without one."""
    out = []
    start = last = time.time()
    sock.settimeout(0.1)
    while time.time() - start < limit and time.time() - last < quiet:
        try:
            data, anc, _flags, addr = sock.recvmsg(2048, 64)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING or len(data) < 14 + 40 + 4:
            continue
        ip = data[14:]
        if data[12:14] != b"\x86\xdd" or ip[6] != 58 or ip[40] not in (1, 2, 3):
            continue
        stamp = time.time()
        for level, kind, value in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", value[:16])
                stamp = sec + nsec / 1e9
        out.append({"type": ip[40], "code": ip[41],
                    "src": socket.inet_ntop(socket.AF_INET6, ip[8:24]),
                    "dst": socket.inet_ntop(socket.AF_INET6, ip[24:40]),
                    "time": stamp})
        last = time.time()
    return out


def flood(iface, src_mac, dst_mac, src, dst_prefix, count, seconds):
    from scapy.all import Ether, IPv6, ICMPv6EchoRequest
    count, seconds = int(count), float(seconds)
    base = dst_prefix.split("/")[0].rstrip(":")
    raw = [bytes(Ether(src=src_mac, dst=dst_mac)
                 / IPv6(src=src, dst=f"{base}::{i + 1:x}", hlim=64)
                 / ICMPv6EchoRequest(id=0x4C56, seq=i, data=b"flood" * 4))
           for i in range(count)]
    # The receiving socket exists before the first packet leaves, so no
    # answer can be missed; the kernel stamps each arrival.
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86DD))
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    rx.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    rx.bind((iface, 0x86DD))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    t0 = time.time()
    for i, f in enumerate(raw):
        wait = t0 + seconds * i / count - time.time()
        if wait > 0:
            time.sleep(wait)
        while True:
            try:
                s.send(f)
                break
            except OSError:              # ENOBUFS: the veth queue is full
                time.sleep(0.0005)
    t1 = time.time()
    s.close()
    errors = _icmp_errors(rx)
    rx.close()
    return {"sent": count, "t_send_start": t0, "t_send_end": t1,
            "errors": errors}


def udp_send(iface, src_mac, dst_mac, src, dst, flows, per_flow):
    from scapy.all import Ether, IPv6, UDP
    flows, per_flow = int(flows), int(per_flow)
    frames = []
    for seq in range(per_flow):
        for fl in range(flows):
            frames.append(bytes(
                Ether(src=src_mac, dst=dst_mac) / IPv6(src=src, dst=dst)
                / UDP(sport=20000 + fl, dport=30000 + fl)
                / f"{fl} {seq} ".encode().ljust(64, b".")))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    t0 = time.time()
    for i, f in enumerate(frames):
        while True:
            try:
                s.send(f)
                break
            except OSError:
                time.sleep(0.0005)
        if i % 64 == 63:
            time.sleep(0.002)            # stay under the af_packet ring size
    t1 = time.time()
    s.close()
    return {"sent": len(frames), "t_send_start": t0, "t_send_end": t1}


def udp_recv(iface, flows, seconds, expected):
    """Read every UDP datagram arriving on IFACE (AF_PACKET, so no socket per
    port is needed) for up to SECONDS, or until EXPECTED have arrived; report
    per flow the sequence numbers in arrival order."""
    flows, seconds, expected = int(flows), float(seconds), int(expected)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86DD))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 23)
    s.bind((iface, 0x86DD))
    print("ready", flush=True)
    seqs = {str(f): [] for f in range(flows)}
    got, bad = 0, 0
    deadline = time.time() + seconds
    s.settimeout(0.2)
    while got < expected and time.time() < deadline:
        try:
            data, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        ip = data[14:]
        if len(ip) < 48 or ip[6] != 17:
            continue
        dport = int.from_bytes(ip[42:44], "big")
        if not 30000 <= dport < 30000 + flows:
            continue
        words = ip[48:].split(b" ")
        try:
            fl, seq = int(words[0]), int(words[1])
        except (ValueError, IndexError):
            bad += 1
            continue
        if fl != dport - 30000:
            bad += 1
            continue
        seqs[str(fl)].append(seq)
        got += 1
    return {"received": got, "bad": bad, "seqs": seqs}


def capture(iface, seconds, expected):
    """Incoming IPv6 frames on IFACE for up to SECONDS, or until EXPECTED
    echo requests arrived; prints "ready" once listening."""
    seconds, expected = float(seconds), int(expected)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86DD))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.bind((iface, 0x86DD))
    s.settimeout(0.2)
    print("ready", flush=True)
    frames, requests = [], 0
    deadline = time.time() + seconds
    while requests < expected and time.time() < deadline:
        try:
            data, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        frames.append(data.hex())
        # an echo request, wherever its ICMPv6 header is: type 128 right
        # after the IPv6 header or after a Hop-by-Hop header
        ip = data[14:]
        if (ip[6] == 58 and ip[40:41] == b"\x80") or ip[6] == 0:
            requests += 1
    return {"frames": frames}


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "flood":
        out = flood(*args)
    elif cmd == "udp-send":
        out = udp_send(*args)
    elif cmd == "udp-recv":
        out = udp_recv(*args)
    elif cmd == "capture":
        out = capture(*args)
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
