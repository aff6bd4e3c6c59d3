#include "twill/net/address.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "twill/error.hpp"

using namespace twill::net;

TEST(Address, ParsesAndFormatsIPv4) {
    auto a = Address::parse("10.244.3.1");
    EXPECT_TRUE(a.is_v4());
    EXPECT_EQ(a.to_string(), "10.244.3.1");
    EXPECT_EQ(a.v4_value(), 0x0af40301u);
    EXPECT_EQ(Address::v4(0x0af40301u), a);
}

TEST(Address, ParsesAndFormatsIPv6) {
    auto a = Address::parse("fd00:0:0::1");
    EXPECT_TRUE(a.is_v6());
    EXPECT_EQ(a.to_string(), "fd00::1");
    EXPECT_EQ(a.bytes().size(), 16u);
    EXPECT_THROW(a.v4_value(), twill::Error);
}

TEST(Address, RejectsMalformedInputNamingTheField) {
    for (auto bad :
         {"", "10.0.0", "10.0.0.256", "10.0.0.1/24", "1.2.3.4.5", "fd00:::1", "abc", " 10.0.0.1"}) {
        EXPECT_FALSE(Address::try_parse(bad)) << bad;
    }
    try {
        Address::parse("10.0.0.300", "PublicIP");
        FAIL() << "no exception";
    } catch (const twill::ParseError& e) {
        EXPECT_EQ(e.field(), "PublicIP");
        EXPECT_NE(std::string(e.what()).find("10.0.0.300"), std::string::npos);
    }
}

TEST(Address, Classifies) {
    EXPECT_TRUE(Address::parse("0.0.0.0").is_unspecified());
    EXPECT_TRUE(Address::parse("127.0.0.5").is_loopback());
    EXPECT_TRUE(Address::parse("::1").is_loopback());
    EXPECT_TRUE(Address::parse("224.0.0.1").is_multicast());
    EXPECT_TRUE(Address::parse("ff02::1").is_multicast());
    EXPECT_TRUE(Address::parse("169.254.1.1").is_link_local());
    EXPECT_TRUE(Address::parse("fe80::1").is_link_local());
    EXPECT_TRUE(Address::parse("255.255.255.255").is_broadcast());
    EXPECT_TRUE(Address::parse("192.168.1.10").is_usable_unicast());
    EXPECT_TRUE(Address::parse("2001:db8::10").is_usable_unicast());
    for (auto bad : {"0.0.0.0", "127.0.0.1", "224.1.1.1", "169.254.0.1", "255.255.255.255",
                     "::", "::1", "ff02::2", "fe80::2"}) {
        EXPECT_FALSE(Address::parse(bad).is_usable_unicast()) << bad;
    }
}

TEST(Address, MasksAndAdds) {
    auto a = Address::parse("10.244.3.77");
    EXPECT_EQ(a.masked(24).to_string(), "10.244.3.0");
    EXPECT_EQ(a.with_host_bits_set(24).to_string(), "10.244.3.255");
    EXPECT_EQ(a.masked(0).to_string(), "0.0.0.0");
    EXPECT_EQ(Address::parse("10.0.0.255").plus(1).to_string(), "10.0.1.0");
    EXPECT_EQ(Address::parse("fd00::ffff").plus(1).to_string(), "fd00::1:0");
    EXPECT_EQ(a.host_index(24), 77u);
    EXPECT_EQ(Address::parse("fd00::1:2").host_index(64), 0x10002u);
}

// Masking a byte at a time is masking a bit at a time, for every prefix length of both
// families (lengths out of range included), to nothing and to all ones.
TEST(Address, MaskingMatchesBitByBitAtEveryLength) {
    for (const char* text : {"10.244.3.77", "255.255.255.255", "fd00:10:244:5:a1b2:c3d4:e5f6:789a",
                             "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
        const auto a = Address::parse(text);
        const auto bytes = [](const Address& x) {
            return std::vector<std::uint8_t>(x.bytes().begin(), x.bytes().end());
        };
        for (int length = -1; length <= a.bits() + 1; ++length) {
            auto low = bytes(a), high = bytes(a);
            for (int bit = std::max(length, 0); bit < a.bits(); ++bit) {
                low[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
                high[bit / 8] |= static_cast<std::uint8_t>(0x80u >> (bit % 8));
            }
            EXPECT_EQ(bytes(a.masked(length)), low) << text << "/" << length;
            EXPECT_EQ(bytes(a.with_host_bits_set(length)), high) << text << "/" << length;
        }
    }
}

TEST(Address, OrdersAndHashes) {
    auto a = Address::parse("10.0.0.1");
    auto b = Address::parse("10.0.0.2");
    EXPECT_LT(a, b);
    EXPECT_NE(std::hash<Address>{}(a), std::hash<Address>{}(b));
    EXPECT_NE(Address::parse("::"), Address::parse("0.0.0.0"));
}

TEST(MacAddress, ParsesAndFormats) {
    auto m = MacAddress::parse("AA-bb-cc-00-11-22");
    EXPECT_EQ(m.to_string(), "aa:bb:cc:00:11:22");
    EXPECT_TRUE(m.is_locally_administered());
    EXPECT_TRUE(m.is_unicast());
}

TEST(MacAddress, ClassifiesUnicast) {
    EXPECT_TRUE(MacAddress::parse("02:00:00:00:00:01").is_unicast());
    EXPECT_FALSE(MacAddress::parse("01:00:5e:00:00:01").is_unicast());
    EXPECT_FALSE(MacAddress::parse("00:00:00:00:00:00").is_unicast());
    EXPECT_FALSE(MacAddress::parse("ff:ff:ff:ff:ff:ff").is_unicast());
}

TEST(MacAddress, RejectsWrongLengthAndCharacters) {
    for (auto bad : {"", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00", "aa:bb:cc:dd:ee:fg",
                     "aa:bb-cc:dd:ee:ff", "aabbccddeeff", "aa:bb:cc:dd:ee:f"}) {
        EXPECT_FALSE(MacAddress::try_parse(bad)) << bad;
    }
    EXPECT_THROW(MacAddress::parse("aa:bb", "VtepMAC"), twill::ParseError);
    std::array<std::uint8_t, 5> five{};
    EXPECT_THROW(MacAddress::from_bytes(five), twill::ParseError);
}
