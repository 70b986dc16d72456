# In mqsmoke-A: FLOWS UDP flows (source port 5000+flow, flow label 0x100+flow)
# of PER packets each, interleaved; the payload carries the sequence number;
# every packet has a Linux-style Hop-by-Hop header with an IOAM trace.
import struct, sys, time
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "tests" / "pcap"))
from scapy.all import conf
from scapy.layers.inet6 import IPv6, UDP
import ioam_scapy as ioam
import pcaptest as pt
FLOWS, PER = int(sys.argv[1]), int(sys.argv[2])
gap = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
frames = []
for i in range(PER):
    for f in range(FLOWS):
        udp = bytes(IPv6(src=pt.ALPHA, dst=pt.BETA_RX) /
                    UDP(sport=5000 + f, dport=9000) / struct.pack("!I", i + 1))[40:]
        pkt = ioam.ipv6(pt.ALPHA, pt.BETA_RX, ioam.linux_hbh(nh=17) + udp, nh=ioam.NH_HOPOPTS,
                        fl=0x100 + f)
        frames.append(ioam.ether(pt.ETH0_MAC, pt.ATHOS_MAC, pkt))
conf.verb = 0
s = conf.L2socket(iface="a0")
t0 = time.time()
for fr in frames:
    s.send(fr)
    if gap:
        time.sleep(gap)
print(f"sent {len(frames)} in {time.time() - t0:.1f} s")
