#include "integration.hpp"

namespace twill::netlink::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr std::uint8_t twill_protocol = 137;

class RoutesTest : public NetnsTest {
  protected:
    void SetUp() override {
        NetnsTest::SetUp();
        if (IsSkipped()) return;
        overlay_ = make_device("twill.1");
        other_ = make_device("other0");
    }

    Route peer_route(const std::string& subnet, const std::string& via) const {
        Route route;
        route.destination = net::Prefix::parse(subnet);
        route.gateway = net::Address::parse(via);
        route.oif = overlay_.index;
        route.protocol = twill_protocol;
        route.onlink = true;
        return route;
    }

    Link overlay_;
    Link other_;
};

TEST_F(RoutesTest, AddDumpReplaceDelete) {
    auto route = peer_route("10.244.3.0/24", "10.244.3.0");
    handle().add_route(route);

    RouteFilter ours;
    ours.protocol = twill_protocol;
    auto dumped = handle().dump_routes(ours);
    ASSERT_EQ(dumped.size(), 1u);
    route.scope = route_scope_universe;  // filled by the dump
    EXPECT_EQ(dumped[0], route);
    EXPECT_THAT(tool({"ip", "route", "show", "proto", "137"}),
                HasSubstr("10.244.3.0/24 via 10.244.3.0 dev twill.1 onlink"));

    try {
        handle().add_route(route);
        ADD_FAILURE() << "duplicate add succeeded";
    } catch (const SystemError& e) {
        EXPECT_EQ(e.code(), EEXIST);
        EXPECT_THAT(e.what(),
                    HasSubstr("add route 10.244.3.0/24 via 10.244.3.0 dev twill.1 proto 137"));
        EXPECT_THAT(e.what(), HasSubstr("File exists (errno 17)"));
    }

    auto moved = peer_route("10.244.3.0/24", "10.244.3.128");
    handle().replace_route(moved);
    dumped = handle().dump_routes(ours);
    ASSERT_EQ(dumped.size(), 1u);
    EXPECT_EQ(dumped[0].gateway, net::Address::parse("10.244.3.128"));

    handle().delete_route(moved);
    EXPECT_TRUE(handle().dump_routes(ours).empty());
    try {
        handle().delete_route(moved);
        ADD_FAILURE();
    } catch (const SystemError& e) {
        EXPECT_EQ(e.code(), ESRCH);
        EXPECT_THAT(e.what(), HasSubstr("delete route 10.244.3.0/24"));
    }
}

TEST_F(RoutesTest, FilteredDumpReturnsExactlyTheOwnedRoutes) {
    const auto a = peer_route("10.244.3.0/24", "10.244.3.0");
    const auto b = peer_route("10.244.4.0/24", "10.244.4.0");
    handle().add_route(a);
    handle().add_route(b);
    // A foreign route on the same device (another protocol) and an owned-protocol route on
    // another device.
    tool({"ip", "route", "add", "10.250.0.0/16", "dev", "twill.1", "proto", "static"});
    Route elsewhere;
    elsewhere.destination = net::Prefix::parse("10.244.9.0/24");
    elsewhere.oif = other_.index;
    elsewhere.protocol = twill_protocol;
    handle().add_route(elsewhere);

    RouteFilter by_protocol_and_device;
    by_protocol_and_device.protocol = twill_protocol;
    by_protocol_and_device.oif = overlay_.index;
    std::vector<net::Prefix> got;
    for (const auto& r : handle().dump_routes(by_protocol_and_device)) got.push_back(r.destination);
    EXPECT_THAT(got, UnorderedElementsAre(a.destination, b.destination));

    RouteFilter by_protocol;
    by_protocol.protocol = twill_protocol;
    got.clear();
    for (const auto& r : handle().dump_routes(by_protocol)) got.push_back(r.destination);
    EXPECT_THAT(got, UnorderedElementsAre(a.destination, b.destination, elsewhere.destination));

    RouteFilter by_device;
    by_device.oif = overlay_.index;
    by_device.table = route_table_main;
    by_device.family = net::Family::v4;
    got.clear();
    for (const auto& r : handle().dump_routes(by_device)) got.push_back(r.destination);
    EXPECT_THAT(got, UnorderedElementsAre(a.destination, b.destination,
                                          net::Prefix::parse("10.250.0.0/16")));
}

TEST_F(RoutesTest, UnreachableRouteWithMetric) {
    Route unreachable;
    unreachable.destination = net::Prefix::parse("10.244.0.0/16");
    unreachable.type = RouteType::unreachable;
    unreachable.protocol = twill_protocol;
    unreachable.priority = 4000;
    handle().add_route(unreachable);
    RouteFilter filter;
    filter.protocol = twill_protocol;
    filter.type = RouteType::unreachable;
    const auto dumped = handle().dump_routes(filter);
    ASSERT_EQ(dumped.size(), 1u);
    EXPECT_EQ(dumped[0].destination, unreachable.destination);
    EXPECT_EQ(dumped[0].priority, 4000u);
    EXPECT_EQ(dumped[0].oif, 0);
    EXPECT_FALSE(dumped[0].gateway);
    EXPECT_THAT(tool({"ip", "route", "show", "proto", "137"}),
                HasSubstr("unreachable 10.244.0.0/16 metric 4000"));
    handle().delete_route(unreachable);
    EXPECT_TRUE(handle().dump_routes(filter).empty());
}

TEST_F(RoutesTest, Ipv6RoutesAndTables) {
    auto route = peer_route("2001:db8:100::/64", "2001:db8:100::1");
    route.priority = 1024;
    handle().add_route(route);
    Route in_table;
    in_table.destination = net::Prefix::parse("2001:db8:200::/64");
    in_table.oif = overlay_.index;
    in_table.protocol = twill_protocol;
    in_table.table = 1000;
    in_table.priority = 1024;
    handle().add_route(in_table);

    RouteFilter v6_main;
    v6_main.family = net::Family::v6;
    v6_main.protocol = twill_protocol;
    v6_main.table = route_table_main;
    auto dumped = handle().dump_routes(v6_main);
    ASSERT_EQ(dumped.size(), 1u);
    route.scope = route_scope_universe;
    EXPECT_EQ(dumped[0], route);

    RouteFilter table_1000;
    table_1000.table = 1000;
    dumped = handle().dump_routes(table_1000);
    ASSERT_EQ(dumped.size(), 1u);
    EXPECT_EQ(dumped[0].destination, in_table.destination);
    EXPECT_EQ(dumped[0].table, 1000u);

    handle().delete_route(route);
    handle().delete_route(in_table);
    RouteFilter ours;
    ours.protocol = twill_protocol;
    EXPECT_TRUE(handle().dump_routes(ours).empty());
}

TEST_F(RoutesTest, DeleteWithProtocolLeavesForeignRouteAlone) {
    tool({"ip", "route", "add", "10.244.3.0/24", "dev", "twill.1", "proto", "static"});
    Route ours;
    ours.destination = net::Prefix::parse("10.244.3.0/24");
    ours.oif = overlay_.index;
    ours.protocol = twill_protocol;
    EXPECT_THROW(handle().delete_route(ours), SystemError);
    RouteFilter filter;
    filter.oif = overlay_.index;
    filter.family = net::Family::v4;
    const auto left = handle().dump_routes(filter);
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].protocol, 4);  // RTPROT_STATIC
}

TEST_F(RoutesTest, RouteGetAnswersTheRouteAPacketTakes) {
    handle().add_address(other_.index, net::Prefix::parse("192.0.2.2/24"));
    handle().add_address(overlay_.index, net::Prefix::parse("198.51.100.2/24"));
    Route via_overlay;
    via_overlay.destination = net::Prefix::parse("203.0.113.0/24");
    via_overlay.gateway = net::Address::parse("198.51.100.1");
    via_overlay.oif = overlay_.index;
    handle().add_route(via_overlay);

    auto got = handle().route_get(net::Address::parse("203.0.113.9"));
    ASSERT_TRUE(got);
    EXPECT_EQ(got->oif, overlay_.index);
    EXPECT_EQ(got->gateway, net::Address::parse("198.51.100.1"));
    EXPECT_EQ(got->source, net::Address::parse("198.51.100.2"));
    got = handle().route_get(net::Address::parse("192.0.2.77"));
    ASSERT_TRUE(got);
    EXPECT_EQ(got->oif, other_.index);
    EXPECT_FALSE(got->gateway);

    // No route at all, and an unreachable route: no answer rather than an error.
    EXPECT_FALSE(handle().route_get(net::Address::parse("100.64.0.1")));
    EXPECT_FALSE(handle().route_get(net::Address::parse("2001:db8::1")));
    Route unreachable;
    unreachable.destination = net::Prefix::parse("100.64.0.0/10");
    unreachable.type = RouteType::unreachable;
    handle().add_route(unreachable);
    EXPECT_FALSE(handle().route_get(net::Address::parse("100.64.0.1")));
}

}  // namespace
}  // namespace twill::netlink::testing
