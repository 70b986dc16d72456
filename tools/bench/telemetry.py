"""A minimal client for DPDK's telemetry socket (v2, SOCK_SEQPACKET), enough
to read a running process's heap, memzones and mempools. DPDK 22.11 creates
/var/run/dpdk/<file-prefix>/dpdk_telemetry.v2 even with --in-memory or
--no-shconf."""

from __future__ import annotations

import json
import os
import socket
import time


class Telemetry:
    def __init__(self, file_prefix: str, timeout: float = 10.0):
        path = os.path.join("/var/run/dpdk", file_prefix, "dpdk_telemetry.v2")
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        hello = json.loads(self.sock.recv(1 << 16))
        self.max_len = hello.get("max_output_len", 16384)
        self.version = hello.get("version", "?")

    def query(self, cmd: str):
        self.sock.send(cmd.encode())
        reply = json.loads(self.sock.recv(max(self.max_len, 1 << 16)))
        return reply.get(cmd.split(",")[0])

    def close(self) -> None:
        self.sock.close()

    def memory(self) -> dict:
        """Heap totals, every memzone (name -> octets) and every mempool."""
        heaps = {}
        for h in self.query("/eal/heap_list") or []:
            heaps[h] = self.query(f"/eal/heap_info,{h}")
        zones = {}
        for z in self.query("/eal/memzone_list") or []:
            info = self.query(f"/eal/memzone_info,{z}")
            if info:
                zones[info["Name"]] = int(info["Length"])
        pools = {}
        for name in self.query("/mempool/list") or []:
            pools[name] = self.query(f"/mempool/info,{name}")
        return {"heaps": heaps, "memzones": zones, "mempools": pools}


def process_rss_kb(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                out[k] = int(v.split()[0])
    return out
