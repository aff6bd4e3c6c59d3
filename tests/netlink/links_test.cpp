#include <linux/if.h>

#include <algorithm>

#include "integration.hpp"

namespace twill::netlink::testing {
namespace {

using ::testing::HasSubstr;

using LinksTest = NetnsTest;

bool has_link(const std::vector<Link>& links, const std::string& name) {
    return std::any_of(links.begin(), links.end(), [&](const Link& l) { return l.name == name; });
}

TEST_F(LinksTest, BridgeCreateFindChangeDelete) {
    BridgeSpec spec;
    spec.name = "br-test";
    spec.mtu = 1400;
    spec.mac = net::MacAddress::parse("02:00:00:00:00:01");
    const auto bridge = handle().create_bridge(spec);
    EXPECT_GT(bridge.index, 0);
    EXPECT_EQ(bridge.name, "br-test");
    EXPECT_EQ(bridge.kind, "bridge");
    EXPECT_EQ(bridge.mtu, 1400u);
    EXPECT_EQ(bridge.mac, spec.mac);
    EXPECT_FALSE(bridge.is_up());
    EXPECT_FALSE(bridge.vxlan.has_value());

    EXPECT_EQ(handle().find_link(bridge.index), bridge);
    EXPECT_EQ(handle().find_link("br-test"), bridge);
    EXPECT_TRUE(has_link(handle().list_links(), "br-test"));

    handle().set_mtu(bridge.index, 1300);
    handle().set_mac(bridge.index, net::MacAddress::parse("02:00:00:00:00:02"));
    handle().set_link_up(bridge.index);
    auto changed = handle().get_link(bridge.index);
    EXPECT_EQ(changed.mtu, 1300u);
    EXPECT_EQ(changed.mac, net::MacAddress::parse("02:00:00:00:00:02"));
    EXPECT_TRUE(changed.is_up());
    handle().set_link_down(bridge.index);
    EXPECT_FALSE(handle().get_link(bridge.index).is_up());

    try {
        handle().create_bridge(spec);
        ADD_FAILURE() << "second bridge of the same name";
    } catch (const SystemError& e) {
        EXPECT_EQ(e.code(), EEXIST);
        EXPECT_THAT(e.what(), HasSubstr("add bridge br-test"));
        EXPECT_THAT(e.what(), HasSubstr("(errno 17)"));
    }

    handle().delete_link(bridge.index);
    EXPECT_FALSE(handle().find_link("br-test"));
    EXPECT_FALSE(handle().find_link(bridge.index));
    EXPECT_THROW(handle().get_link("br-test"), SystemError);
    try {
        handle().delete_link(bridge.index);
        ADD_FAILURE();
    } catch (const SystemError& e) {
        EXPECT_EQ(e.code(), ENODEV);
        EXPECT_THAT(e.what(), HasSubstr("delete link if" + std::to_string(bridge.index)));
    }
}

TEST_F(LinksTest, FindLinkOfOverlongNameIsAbsent) {
    EXPECT_FALSE(handle().find_link("a-name-longer-than-ifnamsiz"));
    EXPECT_FALSE(handle().find_link(""));
    EXPECT_FALSE(handle().find_link(0));
}

TEST_F(LinksTest, VethPeerLandsInTheOtherNamespace) {
    const auto& pod = topology_->add_namespace("pod");
    VethSpec spec;
    spec.name = "veth-host";
    spec.peer_name = "eth0";
    spec.peer_netns = &pod.netns();
    spec.mtu = 1450;
    spec.peer_mac = net::MacAddress::parse("02:aa:00:00:00:05");
    const auto host_end = handle().create_veth(spec);
    EXPECT_EQ(host_end.kind, "veth");
    EXPECT_EQ(host_end.mtu, 1450u);
    EXPECT_FALSE(handle().find_link("eth0"));

    Handle in_pod(pod);
    const auto pod_end = in_pod.get_link("eth0");
    EXPECT_EQ(pod_end.kind, "veth");
    EXPECT_EQ(pod_end.mtu, 1450u);
    EXPECT_EQ(pod_end.mac, spec.peer_mac);
    EXPECT_FALSE(in_pod.find_link("veth-host"));

    // Deleting one end removes the pair.
    handle().delete_link(host_end.index);
    EXPECT_FALSE(in_pod.find_link("eth0"));
}

TEST_F(LinksTest, VxlanParametersReadBackAsSet) {
    const auto underlay = make_device("under0");
    VxlanSpec spec;
    spec.name = "twill.42";
    spec.info.vni = 42;
    spec.info.port = 8472;
    spec.info.local = net::Address::parse("192.0.2.11");
    spec.info.underlay_index = underlay.index;
    spec.info.learning = false;
    spec.mtu = 1450;
    spec.mac = net::MacAddress::parse("0e:11:22:33:44:55");
    const auto vxlan = handle().create_vxlan(spec);
    EXPECT_EQ(vxlan.kind, "vxlan");
    EXPECT_EQ(vxlan.mtu, 1450u);
    EXPECT_EQ(vxlan.mac, spec.mac);
    ASSERT_TRUE(vxlan.vxlan.has_value());
    EXPECT_EQ(*vxlan.vxlan, spec.info);

    // IPv6 local address, learning on, no underlay device.
    VxlanSpec v6;
    v6.name = "vx6";
    v6.info.vni = 7;
    v6.info.port = 4789;
    v6.info.local = net::Address::parse("2001:db8::11");
    v6.info.learning = true;
    const auto vxlan6 = handle().create_vxlan(v6);
    ASSERT_TRUE(vxlan6.vxlan.has_value());
    EXPECT_EQ(*vxlan6.vxlan, v6.info);

    // The underlay address moved: change in place; the VNI cannot change.
    auto changed = spec.info;
    changed.local = net::Address::parse("192.0.2.12");
    handle().change_vxlan(vxlan.index, changed);
    EXPECT_EQ(handle().get_link(vxlan.index).vxlan, changed);
    changed.vni = 43;
    try {
        handle().change_vxlan(vxlan.index, changed);
        ADD_FAILURE() << "VNI changed in place";
    } catch (const SystemError& e) {
        EXPECT_THAT(e.what(), HasSubstr("change link twill.42 type vxlan id 43"));
    }
    handle().change_vxlan(vxlan.index, spec.info);

    // What `ip -d link` shows agrees.
    const auto shown = tool({"ip", "-d", "link", "show", "twill.42"});
    EXPECT_THAT(shown, HasSubstr("vxlan id 42"));
    EXPECT_THAT(shown, HasSubstr("local 192.0.2.11"));
    EXPECT_THAT(shown, HasSubstr("dev under0"));
    EXPECT_THAT(shown, HasSubstr("dstport 8472"));
    EXPECT_THAT(shown, HasSubstr("nolearning"));
}

TEST_F(LinksTest, MasterNomasterAndHairpin) {
    const auto bridge = make_bridge("br0");
    const auto port = make_device("port0");
    handle().set_master(port.index, bridge.index);
    EXPECT_EQ(handle().get_link(port.index).master, bridge.index);

    handle().set_hairpin(port.index, true);
    EXPECT_THAT(tool({"ip", "-d", "link", "show", "port0"}), HasSubstr("hairpin on"));
    handle().set_hairpin(port.index, false);
    EXPECT_THAT(tool({"ip", "-d", "link", "show", "port0"}), HasSubstr("hairpin off"));

    handle().set_nomaster(port.index);
    EXPECT_EQ(handle().get_link(port.index).master, 0);
    // Not a bridge port any more: the kernel refuses, and the message says what was asked.
    try {
        handle().set_hairpin(port.index, true);
        ADD_FAILURE();
    } catch (const SystemError& e) {
        EXPECT_THAT(e.what(), HasSubstr("set bridge port port0 hairpin on"));
    }
}

TEST_F(LinksTest, AddressesAddListDelete) {
    const auto dev = make_device("dev0");
    const auto other = make_device("dev1");
    const auto v4 = net::Prefix::parse("10.244.3.1/24");
    const auto v6 = net::Prefix::parse("2001:db8:3::1/64");
    handle().add_address(dev.index, v4);
    handle().add_address(dev.index, v6);
    handle().add_address(other.index, net::Prefix::parse("10.9.9.9/32"));

    auto listed = handle().list_addresses(dev.index);
    std::vector<net::Prefix> prefixes;
    for (const auto& a : listed) {
        EXPECT_EQ(a.link_index, dev.index);
        if (!a.prefix.address().is_link_local()) prefixes.push_back(a.prefix);
    }
    EXPECT_THAT(prefixes, ::testing::UnorderedElementsAre(v4, v6));

    const auto v4_only = handle().list_addresses(dev.index, net::Family::v4);
    ASSERT_EQ(v4_only.size(), 1u);
    EXPECT_EQ(v4_only[0].prefix, v4);

    try {
        handle().add_address(dev.index, v4);
        ADD_FAILURE();
    } catch (const SystemError& e) {
        EXPECT_EQ(e.code(), EEXIST);
        EXPECT_THAT(e.what(), HasSubstr("add address 10.244.3.1/24 dev dev0"));
    }

    handle().replace_address(dev.index, v4);  // idempotent
    EXPECT_EQ(handle().list_addresses(dev.index, net::Family::v4).size(), 1u);

    handle().delete_address(dev.index, v4);
    EXPECT_TRUE(handle().list_addresses(dev.index, net::Family::v4).empty());
    EXPECT_EQ(handle().list_addresses(other.index, net::Family::v4).size(), 1u);
}

TEST_F(LinksTest, Ipv6AddressWithoutDadIsUsableAtOnce) {
    const auto dev = make_device("dev0");
    handle().add_address(dev.index, net::Prefix::parse("2001:db8:5::1/64"), {.no_dad = true});
    handle().add_address(dev.index, net::Prefix::parse("2001:db8:6::1/64"));
    const auto shown = tool({"ip", "-6", "addr", "show", "dev", "dev0"});
    EXPECT_THAT(shown, ::testing::ContainsRegex("2001:db8:5::1/64 scope global nodad"));
    EXPECT_THAT(shown, ::testing::ContainsRegex("2001:db8:6::1/64 scope global"));
    EXPECT_THAT(shown,
                ::testing::Not(::testing::ContainsRegex("2001:db8:6::1/64 scope global nodad")));
}

}  // namespace
}  // namespace twill::netlink::testing
