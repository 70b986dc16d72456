# In mqsmoke-B: capture on b0 until nothing came for IDLE seconds (at most
# 90 s), then check per flow: every sequence number once, in order, and this
# node's IOAM data (node id 2) in the trace.
import struct, sys, time
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "tests" / "pcap"))
from scapy.all import AsyncSniffer
import ioam_scapy as ioam
FLOWS, PER, IDLE, READY = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
got = []
sn = AsyncSniffer(iface="b0", store=False, prn=lambda p: got.append(bytes(p)))
sn.start()
time.sleep(1)
open(READY, "w").close()
start, seen, last = time.time(), 0, time.time()
while time.time() - start < 90:
    time.sleep(0.5)
    n = len(got)
    if n != seen:
        seen, last = n, time.time()
    elif seen and time.time() - last > IDLE:
        break
sn.stop()
seqs = {}
hbh = ioam.linux_hbh_len(4)
for raw in got:
    if raw[12:14] != b"\x86\xdd" or raw[14 + 6] != 0:
        continue
    pkt = raw[14:]
    nodes = ioam.decode_nodes(ioam.ioam_trace(pkt))
    assert nodes and nodes[0]["node_id"] == 2 and nodes[0]["hop_limit"] == 63, nodes
    sport = struct.unpack_from("!H", pkt, 40 + hbh)[0]
    seq = struct.unpack_from("!I", pkt, 40 + hbh + 8)[0]
    seqs.setdefault(sport, []).append(seq)
ok = len(seqs) == FLOWS
for sport, s in sorted(seqs.items()):
    good = s == list(range(1, PER + 1))
    ok = ok and good
    print(f"flow sport {sport}: {len(s)} packets, "
          f"{'all, in order, each once' if good else 'BAD ' + str(s[:30])}")
print("RESULT", "OK" if ok else "FAIL")
