// Underlay selection (--iface list, --iface-regex, --iface-can-reach, default route,
// --public-ip) against real links, addresses and routes in a namespace of the test's own.
#include "underlay.hpp"

#include <gtest/gtest.h>

#include <optional>

#include "netns_topology.hpp"
#include "require_root.hpp"
#include "twill/error.hpp"

using namespace twill;
using namespace twill::daemon;

namespace {

class UnderlayTest : public ::testing::Test {
  protected:
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        topology_.emplace();
        netns_ = &topology_->add_namespace("u");
        handle_.emplace(netns_->netns());
        // eth0: 192.0.2.2/24 with the default route; ens5: 198.51.100.2/24 with a route to
        // 203.0.113.0/24; twill0 (twill's own bridge, never an underlay) holds an address too.
        eth0_ = device("eth0", "192.0.2.2/24", 1500);
        ens5_ = device("ens5", "198.51.100.2/24", 9000);
        netlink::Route default_route;
        default_route.destination = net::Prefix::parse("0.0.0.0/0");
        default_route.gateway = net::Address::parse("192.0.2.1");
        default_route.oif = eth0_;
        handle_->add_route(default_route);
        netlink::Route storage;
        storage.destination = net::Prefix::parse("203.0.113.0/24");
        storage.gateway = net::Address::parse("198.51.100.1");
        storage.oif = ens5_;
        handle_->add_route(storage);
        netlink::BridgeSpec bridge;
        bridge.name = "twill0";
        const auto twill0 = handle_->create_bridge(bridge);
        handle_->add_address(twill0.index, net::Prefix::parse("10.244.3.1/24"));
    }
    void TearDown() override {
        handle_.reset();
        topology_.reset();
    }

    int device(const std::string& name, const std::string& address, std::uint32_t mtu) {
        netlink::VethSpec spec;
        spec.name = name;
        spec.peer_name = name + "p";
        spec.mtu = mtu;
        const auto link = handle_->create_veth(spec);
        handle_->set_link_up(link.index);
        handle_->set_link_up(handle_->get_link(spec.peer_name).index);
        handle_->add_address(link.index, net::Prefix::parse(address));
        return link.index;
    }

    backend::Underlay find(const UnderlaySelection& selection,
                           const std::optional<std::string>& public_ip = {}) {
        std::optional<net::Address> pinned;
        if (public_ip) pinned = net::Address::parse(*public_ip);
        return find_underlay(*handle_, selection, pinned);
    }
    // The error message of a selection that finds nothing.
    std::string failure(const UnderlaySelection& selection,
                        const std::optional<std::string>& public_ip = {}) {
        try {
            find(selection, public_ip);
        } catch (const Error& e) {
            return e.what();
        }
        ADD_FAILURE() << "expected no underlay";
        return {};
    }
    static UnderlaySelection regex(const std::string& text) {
        UnderlaySelection s;
        s.iface_regex = text;
        s.iface_pattern.emplace(text, std::regex::ECMAScript);
        return s;
    }

    std::optional<twill::testing::NetnsTopology> topology_;
    const netlink::OwnedNetns* netns_ = nullptr;
    std::optional<netlink::Handle> handle_;
    int eth0_ = 0;
    int ens5_ = 0;
};

TEST_F(UnderlayTest, DefaultRouteWhenNothingIsSelected) {
    const auto u = find({});
    EXPECT_EQ(u.name, "eth0");
    EXPECT_EQ(u.index, eth0_);
    EXPECT_EQ(u.address.to_string(), "192.0.2.2");
    EXPECT_EQ(u.mtu, 1500u);
}

TEST_F(UnderlayTest, IfaceListTakesTheFirstThatExists) {
    UnderlaySelection s;
    s.ifaces = {"bond0", "ens5", "eth0"};
    auto u = find(s);
    EXPECT_EQ(u.name, "ens5");
    EXPECT_EQ(u.address.to_string(), "198.51.100.2");
    EXPECT_EQ(u.mtu, 9000u);

    // The missing first name appears: a pure function of the links, so the next call picks it.
    device("bond0", "192.0.2.99/24", 1400);
    u = find(s);
    EXPECT_EQ(u.name, "bond0");

    s.ifaces = {"nope1", "nope2"};
    const auto message = failure(s);
    EXPECT_NE(message.find("--iface nope1,nope2"), std::string::npos) << message;
}

TEST_F(UnderlayTest, RegexTakesTheFirstMatchWithAnAddressAndNeverTwillsDevices) {
    auto u = find(regex("^ens[0-9]+$"));
    EXPECT_EQ(u.name, "ens5");
    // Searches the name (as flannel does): "th" matches eth0.
    EXPECT_EQ(find(regex("th")).name, "eth0");
    // "^twill" matches only twill's own bridge: never the underlay.
    auto message = failure(regex("^twill"));
    EXPECT_NE(message.find("--iface-regex ^twill"), std::string::npos) << message;
    // A match without a usable address is passed over (the veth peers ens5p, eth0p).
    message = failure(regex("^ens5p$"));
    EXPECT_NE(message.find("--iface-regex"), std::string::npos) << message;
}

TEST_F(UnderlayTest, CanReachTakesTheInterfaceOfTheRoute) {
    UnderlaySelection s;
    s.can_reach = net::Address::parse("203.0.113.50");
    auto u = find(s);
    EXPECT_EQ(u.name, "ens5");
    EXPECT_EQ(u.address.to_string(), "198.51.100.2");
    s.can_reach = net::Address::parse("8.8.8.8");  // by the default route
    EXPECT_EQ(find(s).name, "eth0");
    s.can_reach = net::Address::parse("2001:db8::1");  // no IPv6 route at all
    const auto message = failure(s);
    EXPECT_NE(message.find("--iface-can-reach 2001:db8::1"), std::string::npos) << message;
}

TEST_F(UnderlayTest, PrecedenceIfaceThenRegexThenCanReach) {
    UnderlaySelection s = regex("^eth");
    s.can_reach = net::Address::parse("203.0.113.50");
    s.ifaces = {"ens5"};
    EXPECT_EQ(find(s).name, "ens5");  // --iface wins
    s.ifaces = {"missing"};
    EXPECT_EQ(find(s).name, "eth0");  // then the regex
    s.iface_pattern.emplace("^none$");
    s.iface_regex = "^none$";
    EXPECT_EQ(find(s).name, "ens5");  // then can-reach
}

TEST_F(UnderlayTest, PublicIpPinsTheAddress) {
    // On an interface: that interface, whatever the default route says.
    auto u = find({}, "198.51.100.2");
    EXPECT_EQ(u.name, "ens5");
    UnderlaySelection s;
    s.ifaces = {"eth0"};
    auto message = failure(s, "198.51.100.2");
    EXPECT_NE(message.find("is on ens5"), std::string::npos) << message;
    // NAT'ed (on no interface): the selection says where traffic leaves.
    u = find(s, "203.0.113.7");
    EXPECT_EQ(u.name, "eth0");
    EXPECT_EQ(u.address.to_string(), "203.0.113.7");
    message = failure({}, "203.0.113.7");
    EXPECT_NE(message.find("is on no interface"), std::string::npos) << message;
}

}  // namespace
