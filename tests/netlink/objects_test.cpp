#include "twill/netlink/objects.hpp"

#include <gtest/gtest.h>

namespace twill::netlink {
namespace {

TEST(Printing, RouteLikeIp) {
    Route route;
    route.destination = net::Prefix::parse("10.244.3.0/24");
    route.gateway = net::Address::parse("10.244.3.0");
    route.oif = 5;
    route.protocol = 137;
    route.onlink = true;
    EXPECT_EQ(to_string(route, "twill.1"),
              "route 10.244.3.0/24 via 10.244.3.0 dev twill.1 proto 137 onlink");
    EXPECT_EQ(to_string(route), "route 10.244.3.0/24 via 10.244.3.0 dev if5 proto 137 onlink");

    Route unreachable;
    unreachable.destination = net::Prefix::parse("10.244.0.0/16");
    unreachable.type = RouteType::unreachable;
    unreachable.priority = 4000;
    unreachable.table = 100;
    EXPECT_EQ(to_string(unreachable),
              "route unreachable 10.244.0.0/16 table 100 proto 3 metric 4000");
}

TEST(Printing, NeighbourFdbAddressLink) {
    Neighbour neighbour;
    neighbour.link_index = 5;
    neighbour.address = net::Address::parse("10.244.3.0");
    neighbour.lladdr = net::MacAddress::parse("0E:00:00:00:03:00");
    EXPECT_EQ(to_string(neighbour, "twill.1"),
              "neighbour 10.244.3.0 dev twill.1 lladdr 0e:00:00:00:03:00 permanent");

    FdbEntry entry;
    entry.link_index = 5;
    entry.mac = *neighbour.lladdr;
    entry.dst = net::Address::parse("2001:db8::12");
    EXPECT_EQ(to_string(entry, "twill.1"),
              "fdb 0e:00:00:00:03:00 dev twill.1 dst 2001:db8::12 self permanent");

    EXPECT_EQ(to_string(InterfaceAddress{5, net::Prefix::parse("10.244.3.1/24"), 0}, "twill0"),
              "address 10.244.3.1/24 dev twill0");

    Link link;
    link.name = "twill.1";
    link.kind = "vxlan";
    link.vxlan = VxlanInfo{1, 8472, net::Address::parse("192.0.2.11"), 2, false};
    EXPECT_EQ(to_string(link),
              "link twill.1 type vxlan id 1 local 192.0.2.11 dev if2 dstport 8472 nolearning");
}

TEST(Filters, RouteFilterMatchesEverySetField) {
    Route route;
    route.destination = net::Prefix::parse("2001:db8::/64");
    route.oif = 4;
    route.protocol = 137;
    RouteFilter filter;
    EXPECT_TRUE(filter.matches(route));
    filter.protocol = 137;
    filter.oif = 4;
    filter.family = net::Family::v6;
    filter.table = route_table_main;
    EXPECT_TRUE(filter.matches(route));
    filter.oif = 5;
    EXPECT_FALSE(filter.matches(route));
    filter.oif.reset();
    filter.protocol = 3;
    EXPECT_FALSE(filter.matches(route));
    filter.protocol.reset();
    filter.family = net::Family::v4;
    EXPECT_FALSE(filter.matches(route));
    filter.family.reset();
    filter.type = RouteType::unreachable;
    EXPECT_FALSE(filter.matches(route));
}

TEST(Filters, NeighbourFilter) {
    Neighbour neighbour;
    neighbour.link_index = 3;
    neighbour.address = net::Address::parse("10.0.0.1");
    NeighbourFilter filter;
    EXPECT_TRUE(filter.matches(neighbour));
    filter.link_index = 3;
    EXPECT_TRUE(filter.matches(neighbour));
    filter.family = net::Family::v6;
    EXPECT_FALSE(filter.matches(neighbour));
}

}  // namespace
}  // namespace twill::netlink
