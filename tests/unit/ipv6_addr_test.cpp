// Unit tests for the address value types: IPv6 text forms (RFC 4291 §2.2 in,
// RFC 5952 canonical out), prefixes, and MAC addresses.

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "common/ipv6_addr.hpp"

namespace ioamfwd {
namespace {

Ipv6Addr addr(std::initializer_list<uint16_t> groups) {
    Ipv6Addr a;
    size_t i = 0;
    for (uint16_t g : groups) {
        a.bytes[i++] = uint8_t(g >> 8);
        a.bytes[i++] = uint8_t(g);
    }
    return a;
}

Ipv6Addr must_parse(std::string_view text) {
    auto a = Ipv6Addr::parse(text);
    EXPECT_TRUE(a.has_value()) << text;
    return a.value_or(Ipv6Addr{});
}

// ---------------------------------------------------------------------------
// Parsing.

TEST(Ipv6AddrParse, FullAndCompressedForms) {
    const Ipv6Addr expected = addr({0x2001, 0x0db8, 0, 0, 0, 0, 0, 1});
    EXPECT_EQ(must_parse("2001:db8::1"), expected);
    EXPECT_EQ(must_parse("2001:0db8:0000:0000:0000:0000:0000:0001"), expected);
    EXPECT_EQ(must_parse("2001:DB8:0:0:0:0:0:1"), expected);
    EXPECT_EQ(must_parse("2001:db8:0::0:1"), expected);
}

TEST(Ipv6AddrParse, SpecialAddresses) {
    EXPECT_EQ(must_parse("::"), Ipv6Addr{});
    EXPECT_EQ(must_parse("::1"), addr({0, 0, 0, 0, 0, 0, 0, 1}));
    EXPECT_EQ(must_parse("1::"), addr({1, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(must_parse("ff02::1:ff00:2"), addr({0xff02, 0, 0, 0, 0, 1, 0xff00, 2}));
    EXPECT_EQ(must_parse("1:2:3:4:5:6:7::"), addr({1, 2, 3, 4, 5, 6, 7, 0}));
    EXPECT_EQ(must_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
              addr({0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff}));
}

TEST(Ipv6AddrParse, EmbeddedIpv4Form) {
    // RFC 4291 §2.2 form 3 is part of the strict textual grammar.
    EXPECT_EQ(must_parse("::ffff:192.0.2.1"), addr({0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201}));
}

TEST(Ipv6AddrParse, RejectsInvalidText) {
    for (std::string_view bad : {
             "",
             "fe80::1%eth0",            // zone id
             "fe80::1%1",               // numeric zone id
             "192.0.2.1",               // IPv4 only
             "1:2:3:4:5:6:7:8:9",       // too many groups
             "1:2:3:4:5:6:7",           // too few groups, no ::
             "1:2:3:4:5:6:7:8::",       // :: with already 8 groups
             "2001:db8::1::2",          // two ::
             ":::",                     // three colons
             ":1::2",                   // lone leading colon
             "1::2:",                   // lone trailing colon
             "2001:db8::g",             // not hex
             "12345::",                 // group of 5 digits
             " ::1",                    // leading blank
             "::1 ",                    // trailing blank
             "2001:db8::/64",           // a prefix is not an address
             "[2001:db8::1]",           // URI brackets
             "2001:db8::1:2:3:4:5:6:7",  // 9 groups with ::
         }) {
        EXPECT_FALSE(Ipv6Addr::parse(bad).has_value()) << '"' << bad << '"';
    }
}

TEST(Ipv6AddrParse, RejectsEmbeddedNul) {
    // A string_view is not NUL-terminated text: "::1" followed by a NUL and
    // junk (e.g. from a YAML "\0" escape) is not a valid address.
    EXPECT_FALSE(Ipv6Addr::parse(std::string_view("::1\0junk", 8)).has_value());
}

TEST(Ipv6AddrParse, ParsesViewNotBeyondIt) {
    // Only the viewed characters count, not what follows in memory.
    const std::string text = "2001:db8::1234";
    const auto a = Ipv6Addr::parse(std::string_view(text).substr(0, 11));  // "2001:db8::1"
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(*a, addr({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}));
}

// ---------------------------------------------------------------------------
// RFC 5952 formatting.

TEST(Ipv6AddrFormat, Rfc5952Canonical) {
    struct Case {
        std::string_view in;
        std::string_view out;
    };
    for (const Case& c : {
             Case{"2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},  // §4.1, 4.2.1, 4.3
             Case{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},  // §4.2.3 first of equal runs
             Case{"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},        // §4.2.3 longest run
             Case{"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},  // §4.2.2 no :: for one group
             Case{"1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"},
             Case{"0:0:0:0:0:0:0:0", "::"},
             Case{"0:0:0:0:0:0:0:1", "::1"},
             Case{"1:0:0:0:0:0:0:0", "1::"},
             Case{"fe80:0:0:0:0200:5eff:fe00:5301", "fe80::200:5eff:fe00:5301"},
             Case{"2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff",
                  "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff"},
             Case{"::ffff:c000:0201", "::ffff:192.0.2.1"},  // §5 IPv4-mapped
         }) {
        SCOPED_TRACE(std::string(c.in));
        EXPECT_EQ(must_parse(c.in).to_string(), c.out);
    }
}

TEST(Ipv6AddrFormat, RoundTrip) {
    for (std::string_view text : {"2001:db8::1", "::", "::1", "fe80::1", "ff02::1:ff00:2",
                                  "2001:db8:1:2:3:4:5:6", "2001:db8::1:0:0:1"}) {
        SCOPED_TRACE(std::string(text));
        const Ipv6Addr a = must_parse(text);
        EXPECT_EQ(a.to_string(), text);
        EXPECT_EQ(must_parse(a.to_string()), a);
    }
}

TEST(Ipv6Addr, Classification) {
    EXPECT_TRUE(must_parse("::").is_unspecified());
    EXPECT_FALSE(must_parse("::1").is_unspecified());
    EXPECT_TRUE(must_parse("::1").is_loopback());
    EXPECT_FALSE(must_parse("1::1").is_loopback());
    EXPECT_FALSE(must_parse("::2").is_loopback());
    EXPECT_FALSE(must_parse("::").is_loopback());
    EXPECT_TRUE(must_parse("ff02::1").is_multicast());
    EXPECT_TRUE(must_parse("ff0e::42").is_multicast());
    EXPECT_FALSE(must_parse("fe80::1").is_multicast());
    EXPECT_TRUE(must_parse("fe80::1").is_link_local());
    EXPECT_TRUE(must_parse("febf:ffff::1").is_link_local());  // fe80::/10 upper end
    EXPECT_FALSE(must_parse("fec0::1").is_link_local());
    EXPECT_FALSE(must_parse("fe00::1").is_link_local());
    EXPECT_FALSE(must_parse("2001:db8::1").is_link_local());
}

TEST(Ipv6Addr, OrderingIsNumeric) {
    EXPECT_LT(must_parse("2001:db8::1"), must_parse("2001:db8::2"));
    EXPECT_LT(must_parse("2001:db8::ffff"), must_parse("2001:db8:0:1::"));
    EXPECT_LT(must_parse("::"), must_parse("ff02::1"));
}

// ---------------------------------------------------------------------------
// Prefixes.

TEST(Ipv6Prefix, ParseLengths) {
    auto p = Ipv6Prefix::parse("2001:db8::/32");
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->addr, must_parse("2001:db8::"));
    EXPECT_EQ(p->length, 32);

    p = Ipv6Prefix::parse("::/0");
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->length, 0);

    p = Ipv6Prefix::parse("2001:db8::1/128");
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->length, 128);
}

TEST(Ipv6Prefix, BareAddressIsHostRoute) {
    auto p = Ipv6Prefix::parse("2001:db8::7");
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->addr, must_parse("2001:db8::7"));
    EXPECT_EQ(p->length, 128);
}

TEST(Ipv6Prefix, RejectsInvalid) {
    for (std::string_view bad : {"2001:db8::/129", "2001:db8::/256", "2001:db8::/", "2001:db8::/-1",
                                 "2001:db8::/abc", "2001:db8::/3 2", "2001:db8::/ 32",
                                 "2001:db8::/32/64", "/64", "192.0.2.0/24", "2001:db8::%eth0/64",
                                 "2001:db8::/1000", ""}) {
        EXPECT_FALSE(Ipv6Prefix::parse(bad).has_value()) << '"' << bad << '"';
    }
}

TEST(Ipv6Prefix, NetworkClearsHostBits) {
    struct Case {
        std::string_view prefix;
        std::string_view network;
    };
    for (const Case& c : {
             Case{"2001:db8:1:2::5/64", "2001:db8:1:2::"},
             Case{"2001:db8:ffff::/33", "2001:db8:8000::"},  // not on an octet boundary
             Case{"2001:db8:ffff::/36", "2001:db8:f000::"},  // not on a group boundary
             Case{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/0", "::"},
             Case{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/1", "8000::"},
             Case{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/127",
                  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"},
             Case{"2001:db8::5/128", "2001:db8::5"},
         }) {
        SCOPED_TRACE(std::string(c.prefix));
        auto p = Ipv6Prefix::parse(c.prefix);
        ASSERT_TRUE(p.has_value());
        EXPECT_EQ(p->network(), must_parse(c.network));
    }
}

TEST(Ipv6Prefix, HasHostBits) {
    EXPECT_TRUE(Ipv6Prefix::parse("2001:db8:1:2::5/64")->has_host_bits());
    EXPECT_FALSE(Ipv6Prefix::parse("2001:db8:1:2::/64")->has_host_bits());
    EXPECT_TRUE(Ipv6Prefix::parse("2001:db8:8000::/32")->has_host_bits());
    EXPECT_FALSE(Ipv6Prefix::parse("2001:db8:8000::/33")->has_host_bits());
    EXPECT_TRUE(Ipv6Prefix::parse("::1/0")->has_host_bits());
    EXPECT_FALSE(Ipv6Prefix::parse("::/0")->has_host_bits());
    EXPECT_FALSE(Ipv6Prefix::parse("2001:db8::5/128")->has_host_bits());
}

TEST(Ipv6Prefix, Contains) {
    const auto p32 = *Ipv6Prefix::parse("2001:db8::/32");
    EXPECT_TRUE(p32.contains(must_parse("2001:db8::")));
    EXPECT_TRUE(p32.contains(must_parse("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
    EXPECT_FALSE(p32.contains(must_parse("2001:db9::")));
    EXPECT_FALSE(p32.contains(must_parse("2001:db7:ffff::")));

    const auto p33 = *Ipv6Prefix::parse("2001:db8:8000::/33");
    EXPECT_TRUE(p33.contains(must_parse("2001:db8:8000::1")));
    EXPECT_TRUE(p33.contains(must_parse("2001:db8:ffff::")));
    EXPECT_FALSE(p33.contains(must_parse("2001:db8:7fff:ffff::")));

    const auto all = *Ipv6Prefix::parse("::/0");
    EXPECT_TRUE(all.contains(must_parse("::")));
    EXPECT_TRUE(all.contains(must_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));

    const auto host = *Ipv6Prefix::parse("2001:db8::5/128");
    EXPECT_TRUE(host.contains(must_parse("2001:db8::5")));
    EXPECT_FALSE(host.contains(must_parse("2001:db8::4")));
    EXPECT_FALSE(host.contains(must_parse("2001:db8::5:0")));

    const auto p127 = *Ipv6Prefix::parse("2001:db8::4/127");
    EXPECT_TRUE(p127.contains(must_parse("2001:db8::5")));
    EXPECT_FALSE(p127.contains(must_parse("2001:db8::6")));
}

TEST(Ipv6Prefix, ToString) {
    EXPECT_EQ(Ipv6Prefix::parse("2001:0db8:0000::/32")->to_string(), "2001:db8::/32");
    EXPECT_EQ(Ipv6Prefix::parse("::/0")->to_string(), "::/0");
    EXPECT_EQ(Ipv6Prefix::parse("2001:db8::1")->to_string(), "2001:db8::1/128");
}

// ---------------------------------------------------------------------------
// MAC addresses.

TEST(MacAddr, ParseAndFormat) {
    auto m = MacAddr::parse("02:00:5e:10:aa:ff");
    ASSERT_TRUE(m.has_value());
    const MacAddr expected{{0x02, 0x00, 0x5e, 0x10, 0xaa, 0xff}};
    EXPECT_EQ(*m, expected);
    EXPECT_EQ(m->to_string(), "02:00:5e:10:aa:ff");
}

TEST(MacAddr, UppercaseAndDashesNormalised) {
    auto m = MacAddr::parse("AA-BB-CC-0D-0E-0F");
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->to_string(), "aa:bb:cc:0d:0e:0f");
    EXPECT_EQ(MacAddr::parse("AA:bb:Cc:0d:0E:0f"), m);
}

TEST(MacAddr, FormatPadsWithZeros) {
    EXPECT_EQ(MacAddr{}.to_string(), "00:00:00:00:00:00");
    EXPECT_EQ((MacAddr{{0x0a, 0x01, 0, 0, 0, 0x0b}}).to_string(), "0a:01:00:00:00:0b");
}

TEST(MacAddr, RejectsInvalid) {
    for (std::string_view bad : {"", "02:00:5e:10:aa", "02:00:5e:10:aa:ff:01", "02:00:5e:10:aa:fg",
                                 "02:00:5e:10:aa:f", "2:0:5e:10:aa:ff", "0200.5e10.aaff",
                                 "02:00:5e:10:aa:ff:", "02.00.5e.10.aa.ff", "02 00 5e 10 aa ff",
                                 "020:0:5e:10:aa:ff", " 2:00:5e:10:aa:ff",
                                 "02:00:5e:10:aa.ff", "02.00:5e:10:aa:ff"}) {
        EXPECT_FALSE(MacAddr::parse(bad).has_value()) << '"' << bad << '"';
    }
}

TEST(MacAddr, Multicast) {
    // The I/G bit is the least significant bit of the first octet.
    EXPECT_TRUE(MacAddr::parse("01:00:5e:00:00:01")->is_multicast());
    EXPECT_TRUE(MacAddr::parse("33:33:00:00:00:01")->is_multicast());  // IPv6 multicast
    EXPECT_TRUE(MacAddr::parse("33:33:ff:00:00:02")->is_multicast());  // solicited-node
    EXPECT_TRUE(MacAddr::parse("ff:ff:ff:ff:ff:ff")->is_multicast());  // broadcast
    EXPECT_TRUE(MacAddr::parse("03:00:00:00:00:00")->is_multicast());
    EXPECT_FALSE(MacAddr::parse("02:00:00:00:00:01")->is_multicast());  // locally administered
    EXPECT_FALSE(MacAddr::parse("00:00:00:00:00:00")->is_multicast());
    EXPECT_FALSE(MacAddr::parse("fe:ff:ff:ff:ff:ff")->is_multicast());
}

}  // namespace
}  // namespace ioamfwd
