#pragma once
// The three roles of the seed's IOAM domain as inline YAML for the dataplane
// tests and the packet fuzzers, on the net_null ports of dp_env.hpp. They
// follow config/porthos.yaml, config/athos.yaml and config/aramis.yaml, with
// a few additions so one configuration reaches more of the dataplane:
//   transit: a second namespace whose schema makes the OSS long, eth1 MTU 9000;
//   encap:   the seed's encap route with the largest trace (size 244, every
//            fillable bit), an inline route, an auto route with freq 1/2 and
//            tunsrc, IOAM enabled on eth1 for the reverse direction;
//   decap:   edge_policy strip on eth1 (IOAM from outside is removed on
//            ingress and the domain's IOAM on egress), eth1 MTU 1280.
// And one more for the neighbour discovery fuzzer (fuzz_nd), whose next hops
// are mostly unknown until an advertisement names them:
//   nd:      eth0 db04::5/64 (IOAM, decap), eth1 db02::5/64 and db06::5/64
//            (MTU 1280); db03::/64 via db02::3 (to resolve), db01::/64 via
//            db04::1 (static), db09::/64 encapsulated to db02::7 (the tunnel's
//            next hop to resolve), db0a::/64 with an inline trace via db02::a.

namespace ioamfwd::testenv {

inline constexpr const char* kTransitYaml = R"(# Porthos
node: {id: 2, id_wide: 22222222}
ports:
  - name: eth0
    device: net_null0
    mac: 02:00:00:00:02:00
    addresses: [db04::2/64]
    ioam: {enabled: true, id: 201, id_wide: 201201}
  - name: eth1
    device: net_null1
    mac: 02:00:00:00:02:01
    mtu: 9000
    addresses: [db02::1/64]
    ioam: {enabled: false, id: 202, id_wide: 202202}
namespaces:
  - {id: 123, data: 0xdeadbee1, wide: 0xcafec0caf11dc0de, schema: 666}
  - {id: 124, schema: 667}
  - {id: 0}
schemas:
  - {id: 666, data: "Hello there -Obi"}
  - {id: 667, data: "long enough that the opaque state snapshot takes many words"}
routes:
  - {prefix: db03::/64, via: db02::2, port: eth1}
  - {prefix: db01::/64, via: db04::1, port: eth0}
  - {prefix: db09::/64, via: db02::9, port: eth1}
neighbors:
  - {address: db04::1, mac: 02:00:00:00:01:01, port: eth0}
  - {address: db02::2, mac: 02:00:00:00:03:00, port: eth1}
)";

inline constexpr const char* kEncapYaml = R"(# Athos
node: {id: 1, id_wide: 11111111}
ports:
  - name: eth0
    device: net_null0
    mac: 02:00:00:00:01:00
    addresses: [db01::2/64]
    edge: true
    ioam: {enabled: false, id: 101, id_wide: 101101}
  - name: eth1
    device: net_null1
    mac: 02:00:00:00:01:01
    addresses: [db04::1/64]
    ioam: {enabled: true, id: 102, id_wide: 102102}
namespaces:
  - {id: 123, data: 0xdeadbee0, wide: 0xcafec0caf00dc0de, schema: 777}
schemas:
  - {id: 777, data: "something that will be 4n-aligned"}
routes:
  - prefix: db03::/64
    via: db04::2
    port: eth1
    encap:
      mode: encap
      tundst: db02::2
      trace: {type: 0xfff002, ns: 123, size: 244}
  - prefix: db05::/64
    via: db04::2
    port: eth1
    encap:
      trace: {type: 0x800000, ns: 123, size: 12}
  - prefix: db06::/64
    via: db04::2
    port: eth1
    encap:
      mode: auto
      freq: 1/2
      tundst: db02::2
      tunsrc: db01::2
      trace: {type: 0xc00000, ns: 9, size: 64}
  - {prefix: db02::/64, via: db04::2, port: eth1}
neighbors:
  - {address: db01::1, mac: 02:00:00:00:00:01, port: eth0}
  - {address: db04::2, mac: 02:00:00:00:02:00, port: eth1}
)";

inline constexpr const char* kDecapYaml = R"(# Aramis
node: {id: 3, id_wide: 33333333}
ports:
  - name: eth0
    device: net_null0
    mac: 02:00:00:00:03:00
    addresses: [db02::2/64]
    decap: true
    ioam: {enabled: true, id: 301, id_wide: 301301}
  - name: eth1
    device: net_null1
    mac: 02:00:00:00:03:01
    mtu: 1280
    addresses: [db03::1/64]
    edge: true
    edge_policy: strip
    ioam: {enabled: false, id: 302, id_wide: 302302}
namespaces:
  - {id: 123, data: 0xdeadbee2, wide: 0xcafec0caf22dc0de}
routes:
  - {prefix: db01::/64, via: db02::1, port: eth0}
  - {prefix: db04::/64, via: db02::1, port: eth0}
neighbors:
  - {address: db02::1, mac: 02:00:00:00:02:01, port: eth0}
  - {address: db03::2, mac: 02:00:00:00:00:04, port: eth1}
)";

inline constexpr const char* kNdYaml = R"(# neighbour discovery
node: {id: 5, id_wide: 55555555}
ports:
  - name: eth0
    device: net_null0
    mac: 02:00:00:00:05:00
    addresses: [db04::5/64]
    decap: true
    ioam: {enabled: true, id: 501, id_wide: 501501}
  - name: eth1
    device: net_null1
    mac: 02:00:00:00:05:01
    mtu: 1280
    addresses: [db02::5/64, db06::5/64]
    ioam: {enabled: false, id: 502, id_wide: 502502}
namespaces:
  - {id: 123, data: 0xdeadbee5, wide: 0xcafec0caf55dc0de}
routes:
  - {prefix: db03::/64, via: db02::3, port: eth1}
  - {prefix: db01::/64, via: db04::1, port: eth0}
  - prefix: db09::/64
    via: db04::9
    port: eth0
    encap:
      mode: encap
      tundst: db02::7
      trace: {type: 0xf00000, ns: 123, size: 32}
  - prefix: db0a::/64
    via: db02::a
    port: eth1
    encap:
      trace: {type: 0x800000, ns: 123, size: 12}
neighbors:
  - {address: db04::1, mac: 02:00:00:00:04:01, port: eth0}
)";

}  // namespace ioamfwd::testenv
