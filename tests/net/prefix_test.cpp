#include "twill/net/prefix.hpp"

#include <gtest/gtest.h>

#include "twill/error.hpp"

using namespace twill::net;

TEST(Prefix, ParsesAndFormats) {
    auto p = Prefix::parse("10.244.3.1/24");
    EXPECT_EQ(p.length(), 24);
    EXPECT_EQ(p.to_string(), "10.244.3.1/24");
    EXPECT_FALSE(p.is_network());
    EXPECT_EQ(p.network().to_string(), "10.244.3.0/24");
    EXPECT_EQ(p.first().to_string(), "10.244.3.0");
    EXPECT_EQ(p.last().to_string(), "10.244.3.255");
    EXPECT_EQ(Prefix::parse("fd00:1::/64").to_string(), "fd00:1::/64");
    EXPECT_EQ(Prefix::host(Address::parse("10.0.0.1")).to_string(), "10.0.0.1/32");
}

TEST(Prefix, RejectsLengthsOutOfRange) {
    for (auto bad : {"10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0", "10.0.0.0/2x",
                     "fd00::/129", "10.0.0/8", "/8"}) {
        EXPECT_FALSE(Prefix::try_parse(bad)) << bad;
    }
    try {
        Prefix::parse("10.0.0.0/33", "Network");
        FAIL();
    } catch (const twill::ParseError& e) {
        EXPECT_EQ(e.field(), "Network");
        EXPECT_NE(std::string(e.what()).find("out of range 0..32"), std::string::npos) << e.what();
    }
    EXPECT_THROW(Prefix(Address::parse("10.0.0.0"), 40), twill::ParseError);
}

TEST(Prefix, ContainsAndOverlaps) {
    auto net = Prefix::parse("10.244.0.0/16");
    EXPECT_TRUE(net.contains(Address::parse("10.244.255.255")));
    EXPECT_FALSE(net.contains(Address::parse("10.245.0.0")));
    EXPECT_FALSE(net.contains(Address::parse("::")));
    EXPECT_TRUE(net.contains(Prefix::parse("10.244.3.0/24")));
    EXPECT_FALSE(net.contains(Prefix::parse("10.0.0.0/8")));
    EXPECT_TRUE(net.overlaps(Prefix::parse("10.0.0.0/8")));
    EXPECT_TRUE(Prefix::parse("10.244.3.0/24").overlaps(Prefix::parse("10.244.3.128/25")));
    EXPECT_FALSE(Prefix::parse("10.244.3.0/24").overlaps(Prefix::parse("10.244.4.0/24")));
    EXPECT_FALSE(net.overlaps(Prefix::parse("fd00::/8")));
}

TEST(SubnetRange, FlannelDefaults) {
    SubnetRange r(Prefix::parse("10.244.0.0/16"), 24);
    EXPECT_EQ(r.size(), 255u);
    EXPECT_EQ(r.min().to_string(), "10.244.1.0/24");
    EXPECT_EQ(r.max().to_string(), "10.244.255.0/24");
    EXPECT_EQ(r.at(0).to_string(), "10.244.1.0/24");
    EXPECT_EQ(r.at(254).to_string(), "10.244.255.0/24");
    EXPECT_THROW(r.at(255), twill::Error);
    EXPECT_EQ(r.index_of(Prefix::parse("10.244.7.0/24")), 6u);
    EXPECT_FALSE(r.contains(Prefix::parse("10.244.0.0/24")));
    EXPECT_FALSE(r.contains(Prefix::parse("10.244.7.1/24")));
    EXPECT_FALSE(r.contains(Prefix::parse("10.244.7.0/25")));
    EXPECT_FALSE(r.contains(Prefix::parse("10.245.7.0/24")));
}

TEST(SubnetRange, ExplicitMinAndMax) {
    SubnetRange r(Prefix::parse("10.244.0.0/16"), 24, Address::parse("10.244.10.0"),
                  Address::parse("10.244.19.0"));
    EXPECT_EQ(r.size(), 10u);
    EXPECT_EQ(r.at(0).to_string(), "10.244.10.0/24");
    EXPECT_EQ(r.at(9).to_string(), "10.244.19.0/24");
    EXPECT_FALSE(r.contains(Prefix::parse("10.244.20.0/24")));
}

TEST(SubnetRange, IPv6) {
    SubnetRange r(Prefix::parse("fd00:10::/56"), 64);
    EXPECT_EQ(r.size(), 255u);
    EXPECT_EQ(r.at(0).to_string(), "fd00:10:0:1::/64");
    EXPECT_EQ(r.index_of(Prefix::parse("fd00:10:0:ff::/64")), 254u);
}

void expect_field(const std::function<void()>& f, const std::string& field) {
    try {
        f();
        FAIL() << "no exception for field " << field;
    } catch (const twill::ParseError& e) {
        EXPECT_EQ(e.field(), field) << e.what();
    }
}

TEST(SubnetRange, RejectsBadConfiguration) {
    auto net = Prefix::parse("10.244.0.0/16");
    expect_field([&] { SubnetRange(net, 16); }, "SubnetLen");
    expect_field([&] { SubnetRange(net, 8); }, "SubnetLen");
    expect_field([&] { SubnetRange(net, 33); }, "SubnetLen");
    expect_field([&] { SubnetRange(Prefix::parse("10.244.0.0/24"), 24); }, "SubnetLen");
    expect_field([&] { SubnetRange(Prefix::parse("10.244.1.0/16"), 24); }, "Network");
    expect_field([&] { SubnetRange(net, 24, Address::parse("10.0.0.0")); }, "SubnetMin");
    expect_field([&] { SubnetRange(net, 24, Address::parse("10.244.3.1")); }, "SubnetMin");
    expect_field([&] { SubnetRange(net, 24, Address::parse("fd00::")); }, "SubnetMin");
    expect_field([&] { SubnetRange(net, 24, {}, Address::parse("10.245.0.0")); }, "SubnetMax");
    expect_field(
        [&] { SubnetRange(net, 24, Address::parse("10.244.9.0"), Address::parse("10.244.8.0")); },
        "SubnetMin");
}
