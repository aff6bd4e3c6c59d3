#include <poll.h>

#include "integration.hpp"

namespace twill::netlink::testing {
namespace {

// Drains `monitor` until an event satisfies `match` or `timeout` passes.
std::optional<Event> wait_for_event(Monitor& monitor,
                                    const std::function<bool(const Event&)>& match,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd fd{monitor.fd(), POLLIN, 0};
        ::poll(&fd, 1, 100);
        for (auto& event : monitor.drain().events)
            if (match(event)) return event;
    }
    return std::nullopt;
}

class MonitorTest : public NetnsTest {
  protected:
    void SetUp() override {
        NetnsTest::SetUp();
        if (IsSkipped()) return;
        device_ = make_device("twill.1");
    }
    Link device_;
};

TEST_F(MonitorTest, ReportsARouteDeletedBySomeoneElse) {
    Monitor monitor(netns());
    Route route;
    route.destination = net::Prefix::parse("10.244.3.0/24");
    route.gateway = net::Address::parse("10.244.3.0");
    route.oif = device_.index;
    route.protocol = 137;
    route.onlink = true;
    handle().add_route(route);
    auto added = wait_for_event(monitor, [&](const Event& e) {
        return e.kind == Event::Kind::route && e.action == Event::Action::added &&
               std::get<Route>(e.object).destination == route.destination;
    });
    ASSERT_TRUE(added);

    tool({"ip", "route", "del", "10.244.3.0/24"});
    auto removed = wait_for_event(monitor, [&](const Event& e) {
        return e.kind == Event::Kind::route && e.action == Event::Action::removed;
    });
    ASSERT_TRUE(removed);
    const auto& gone = std::get<Route>(removed->object);
    EXPECT_EQ(gone.destination, route.destination);
    EXPECT_EQ(gone.protocol, 137);
    EXPECT_EQ(gone.oif, device_.index);
}

TEST_F(MonitorTest, ReportsNeighbourFdbAndLinkChanges) {
    const auto underlay = make_device("under0");
    VxlanSpec spec;
    spec.name = "vx0";
    spec.info.vni = 1;
    spec.info.local = net::Address::parse("192.0.2.11");
    spec.info.underlay_index = underlay.index;
    const auto vxlan = handle().create_vxlan(spec);
    handle().set_link_up(vxlan.index);

    Monitor monitor(netns());
    Neighbour neighbour;
    neighbour.link_index = vxlan.index;
    neighbour.address = net::Address::parse("10.244.3.0");
    neighbour.lladdr = net::MacAddress::parse("0e:00:00:00:03:00");
    handle().add_neighbour(neighbour);
    FdbEntry entry;
    entry.link_index = vxlan.index;
    entry.mac = *neighbour.lladdr;
    entry.dst = net::Address::parse("192.0.2.12");
    handle().add_fdb(entry);

    auto neighbour_added = wait_for_event(monitor, [&](const Event& e) {
        return e.kind == Event::Kind::neighbour && e.action == Event::Action::added &&
               std::get<Neighbour>(e.object).address == neighbour.address;
    });
    ASSERT_TRUE(neighbour_added);
    EXPECT_EQ(std::get<Neighbour>(neighbour_added->object), neighbour);

    tool({"bridge", "fdb", "del", "0e:00:00:00:03:00", "dev", "vx0", "dst", "192.0.2.12", "self"});
    auto fdb_removed = wait_for_event(monitor, [&](const Event& e) {
        return e.kind == Event::Kind::fdb && e.action == Event::Action::removed;
    });
    ASSERT_TRUE(fdb_removed);
    const auto& fdb = std::get<FdbEntry>(fdb_removed->object);
    EXPECT_EQ(fdb.mac, entry.mac);
    EXPECT_EQ(fdb.dst, entry.dst);
    EXPECT_TRUE(fdb.is_self());

    tool({"ip", "neigh", "del", "10.244.3.0", "dev", "vx0"});
    EXPECT_TRUE(wait_for_event(monitor, [&](const Event& e) {
        return e.kind == Event::Kind::neighbour && e.action == Event::Action::removed &&
               std::get<Neighbour>(e.object).address == neighbour.address;
    }));

    tool({"ip", "link", "set", "vx0", "mtu", "1400"});
    auto link_changed = wait_for_event(monitor, [&](const Event& e) {
        return e.kind == Event::Kind::link && std::get<Link>(e.object).name == "vx0" &&
               std::get<Link>(e.object).mtu == 1400;
    });
    ASSERT_TRUE(link_changed);
    EXPECT_EQ(std::get<Link>(link_changed->object).vxlan->vni, 1u);
}

using QuietMonitorTest = NetnsTest;

TEST_F(QuietMonitorTest, OverrunAsksForResync) {
    // A bridge without ports has no carrier, so no IPv6 autoconfiguration: no notifications
    // but the test's own arrive (an unexpected burst would overrun the tiny buffer again).
    const auto quiet = make_bridge("quiet0");
    handle().set_link_up(quiet.index);
    MonitorOptions options;
    options.links = options.addresses = options.neighbours = false;
    options.receive_buffer_bytes = 1;  // the kernel's minimum: a few messages
    Monitor monitor(netns(), options);
    for (int i = 0; i < 200; ++i) {
        Route route;
        route.destination = net::Prefix(
            net::Address::parse("10.100.0.0").plus(static_cast<std::uint64_t>(i) << 8), 24);
        route.oif = quiet.index;
        route.protocol = 137;
        handle().add_route(route);
    }
    auto first = monitor.drain();
    EXPECT_TRUE(first.resync_needed);
    EXPECT_LT(first.events.size(), 200u);
    // The socket keeps working after the overrun.
    tool({"ip", "route", "del", "10.100.0.0/24"});
    EXPECT_TRUE(wait_for_event(monitor, [](const Event& e) {
        return e.kind == Event::Kind::route && e.action == Event::Action::removed;
    }));
}

TEST_F(MonitorTest, DrainWithNothingPendingReturnsAtOnce) {
    Monitor monitor(netns());
    const auto result = monitor.drain();
    EXPECT_TRUE(result.events.empty());
    EXPECT_FALSE(result.resync_needed);
}

}  // namespace
}  // namespace twill::netlink::testing
