"""Large route tables.

The FIB used to be sized with a fixed 14 second-level groups per route and
2-octet next hops, which DPDK refuses above 32 767 groups: a table of more
than 2 322 entries could not be built at all. Then it reserved what
rte_fib6 reserves per prefix (5 groups for every /64, 13 for a /128),
which took 4-octet entries and over 500 MiB for 100 000 /64s. Now the
table gets anchor prefixes that bring the reservation down to the groups
really used (dataplane/fib_plan.hpp), and routes through one gateway share
one next hop: 100 000 routes fit 2-octet entries and these runs' -m 512.
"""

import re

from scapy.layers.inet6 import IPv6, UDP
from scapy.layers.l2 import Ether

import pcaptest

PORTHOS_IN = "02:00:00:00:02:00"
ATHOS = "02:00:00:00:01:01"


def config(n_routes: int, n_hosts: int) -> str:
    lines = [
        "ports:",
        '  - {name: eth0, device: net_pcap0, mac: "02:00:00:00:02:00", addresses: ["db04::2/64"]}',
        '  - {name: eth1, device: net_pcap1, mac: "02:00:00:00:02:01", addresses: ["db02::1/64"]}',
        "neighbors:",
        '  - {address: "db02::2", mac: "02:00:00:00:03:00", port: eth1}',
        "routes:",
    ]
    # /64s under 2001:db8::/32 via Aramis, then /128 host routes.
    lines += [f'  - {{prefix: "2001:db8:{i >> 16:x}:{i & 0xffff:x}::/64", port: eth1, '
              f'via: "db02::2"}}' for i in range(n_routes)]
    lines += [f'  - {{prefix: "2001:db9::{i:x}/128", port: eth1, via: "db02::2"}}'
              for i in range(n_hosts)]
    return "\n".join(lines) + "\n"


def frame(dst: str) -> bytes:
    return bytes(Ether(dst=PORTHOS_IN, src=ATHOS) /
                 IPv6(src="db04::1", dst=dst, hlim=64) / UDP(sport=1, dport=2))


def test_large_table_loads_and_routes(tmp_path):
    # 20 000 /64s and 5 000 /128s: 165 000 groups, far past 32 767, and more
    # next hops than 2-octet entries could index.
    n, h = 20000, 5000
    last64 = f"2001:db8:{(n - 1) >> 16:x}:{(n - 1) & 0xffff:x}::7"
    frames = [frame(last64), frame(f"2001:db9::{h - 1:x}"), frame("2001:db8:ffff::1"),
              frame("2001:db9::ffff")]
    run = pcaptest.run_appliance(tmp_path / "scale", config(n, h), {0: frames})
    out = run.out[1]
    # The first two match the last /64 and the last /128 and leave towards
    # Aramis; the last two match nothing and are dropped as no_route. (Their
    # ICMPv6 errors go nowhere: db04::1 has no neighbour entry here.)
    assert len(out) == 2, run.stdout
    for sent, got in zip(frames[:2], out):
        want = bytearray(sent)
        want[0:6] = bytes.fromhex("020000000300")
        want[6:12] = bytes.fromhex("020000000201")
        want[14 + 7] -= 1
        assert got == bytes(want)
    assert run.drops.get("no_route") == 2, run.drops


def test_100k_routes_load_and_route(tmp_path):
    # 100 000 /64s via one gateway, plus 1 000 /128 host routes: what an
    # operator's full table looks like to the FIB.
    n, h = 100000, 1000
    middle = 54321
    frames = [frame(f"2001:db8:{(n - 1) >> 16:x}:{(n - 1) & 0xffff:x}::1"),
              frame(f"2001:db8:{middle >> 16:x}:{middle & 0xffff:x}:1:2:3:4"),
              frame(f"2001:db9::{h - 1:x}"),
              frame(f"2001:db8:{n >> 16:x}:{n & 0xffff:x}::1"),  # just past the table
              frame("2001:db9::1:0")]
    run = pcaptest.run_appliance(tmp_path / "scale100k", config(n, h), {0: frames})
    table = re.search(r"route table: (\d+) prefixes \(\+(\d+) anchors\); second-level groups: "
                      r"(\d+) used, at most (\d+) reserved, (\d+) allocated; (\d)-octet entries",
                      run.stderr)
    assert table, run.stderr[-3000:]
    prefixes, anchors, groups, reserved, num_tbl8, nh_bytes = map(int, table.groups())
    # The routes, eth0's and eth1's connected /64 and local /128.
    assert prefixes == n + h + 4
    assert nh_bytes == 2
    assert groups <= reserved <= num_tbl8 <= 32767
    out = run.out[1]
    assert len(out) == 3, run.stdout
    for sent, got in zip(frames[:3], out):
        want = bytearray(sent)
        want[0:6] = bytes.fromhex("020000000300")
        want[6:12] = bytes.fromhex("020000000201")
        want[14 + 7] -= 1
        assert got == bytes(want)
    assert run.drops.get("no_route") == 2, run.drops


def test_too_little_memory_is_named(tmp_path):
    # The same table with a 64 MiB EAL heap: refused at start with the file,
    # the size it needs and what the heap has (DPDK itself says only
    # "Invalid argument" whatever the cause).
    run = pcaptest.run_appliance(tmp_path / "small", config(100000, 0), {},
                                 mem_mb=64, check=False)
    assert run.returncode != 0
    assert re.search(r"CONF\.yaml: cannot create the route table \(\d+ entries, \d+ second-level "
                     r"groups\): not enough memory: it needs [\d.]+ MiB, 32\.0 MiB of it in one "
                     r"block, and the EAL heap has [\d.]+ MiB free", run.stderr), run.stderr[-3000:]


def cpu_has_avx512f() -> bool:
    with open("/proc/cpuinfo") as f:
        return any(line.startswith("flags") and " avx512f" in line for line in f)


def test_vector_lookup_only_when_the_eal_allows_it(tmp_path):
    # rte_fib6's AVX-512 lookup is asked for at every table build; DPDK grants
    # it only with --force-max-simd-bitwidth=512 on a CPU that has AVX-512F.
    # Either way the packets take the same routes.
    n, h = 2000, 200
    frames = [frame("2001:db8:0:7cf::1"), frame("2001:db9::c7"), frame("2001:db8:0:7d0::1"),
              frame("2001:db9::c8")]
    outs = {}
    for simd in (None, "512"):
        eal = ("-l", "0-1") + ((f"--force-max-simd-bitwidth={simd}",) if simd else ())
        run = pcaptest.run_appliance(tmp_path / f"simd{simd}", config(n, h), {0: frames},
                                     eal_lcores=eal)
        lookup = re.search(r"of RIB nodes; (\S+) lookup; built in", run.stderr)
        assert lookup, run.stderr[-3000:]
        want = "AVX-512" if simd and cpu_has_avx512f() else "scalar"
        assert lookup.group(1) == want
        outs[simd] = run.out[1]
        assert run.drops.get("no_route") == 2, run.drops
    assert len(outs[None]) == 2
    assert outs[None] == outs["512"]
