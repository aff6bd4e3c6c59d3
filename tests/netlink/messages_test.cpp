// Message building and parsing without a kernel: every request lib/netlink builds parses back
// into the object it was built from, with the header fields the kernel relies on.
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include <cstring>
#include <vector>

#include "libnl.hpp"
#include "transport.hpp"
#include "twill/error.hpp"

namespace twill::netlink::detail {
namespace {

const nlmsghdr* header(const LibnlPtr<nl_msg>& message) {
    return nlmsg_hdr(message.get());
}

// The attributes in [start, start + length).
std::vector<const nlattr*> attributes(const void* start, std::size_t length) {
    std::vector<const nlattr*> result;
    int remaining = static_cast<int>(length);
    for (auto* attribute = static_cast<const nlattr*>(start); mnl_attr_ok(attribute, remaining);
         attribute = mnl_attr_next(attribute)) {
        remaining -= static_cast<int>(MNL_ALIGN(attribute->nla_len));
        result.push_back(attribute);
    }
    return result;
}

std::vector<const nlattr*> message_attributes(const nlmsghdr* message, std::size_t family_header) {
    const auto* start =
        static_cast<const char*>(mnl_nlmsg_get_payload(message)) + MNL_ALIGN(family_header);
    return attributes(start, mnl_nlmsg_get_payload_len(message) - MNL_ALIGN(family_header));
}

std::vector<const nlattr*> nested(const nlattr* parent) {
    return attributes(mnl_attr_get_payload(parent), mnl_attr_get_payload_len(parent));
}

const nlattr* find(const std::vector<const nlattr*>& list, int type) {
    for (const auto* attribute : list)
        if (mnl_attr_get_type(attribute) == type) return attribute;
    return nullptr;
}

Route peer_route() {
    Route route;
    route.destination = net::Prefix::parse("10.244.3.0/24");
    route.gateway = net::Address::parse("10.244.3.0");
    route.oif = 7;
    route.protocol = 137;
    route.onlink = true;
    route.priority = 10;
    return route;
}

TEST(RouteMessage, RoundTrip) {
    auto route = peer_route();
    auto message = build_route(RTM_NEWROUTE, NLM_F_EXCL, route);
    EXPECT_EQ(header(message)->nlmsg_type, RTM_NEWROUTE);
    EXPECT_EQ(header(message)->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL),
              NLM_F_CREATE | NLM_F_EXCL);
    const auto* rtm = static_cast<const rtmsg*>(NLMSG_DATA(header(message)));
    EXPECT_EQ(rtm->rtm_family, AF_INET);
    EXPECT_EQ(rtm->rtm_dst_len, 24);
    EXPECT_EQ(rtm->rtm_protocol, 137);
    EXPECT_TRUE(rtm->rtm_flags & RTNH_F_ONLINK);
    auto parsed = parse_route(header(message));
    ASSERT_TRUE(parsed);
    route.scope = route_scope_universe;  // with a gateway
    EXPECT_EQ(*parsed, route);
}

TEST(RouteMessage, ScopeFollowsIpRoute) {
    Route device_route;
    device_route.destination = net::Prefix::parse("2001:db8::/64");
    device_route.oif = 3;
    auto parsed = parse_route(header(build_route(RTM_NEWROUTE, 0, device_route)));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->scope, route_scope_link);
    EXPECT_EQ(parsed->destination, device_route.destination);
    EXPECT_EQ(parsed->oif, 3);
    EXPECT_FALSE(parsed->gateway);

    Route unreachable;
    unreachable.destination = net::Prefix::parse("10.244.0.0/16");
    unreachable.type = RouteType::unreachable;
    parsed = parse_route(header(build_route(RTM_NEWROUTE, 0, unreachable)));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->scope, route_scope_universe);
    EXPECT_EQ(parsed->type, RouteType::unreachable);
    EXPECT_EQ(parsed->oif, 0);

    // A delete without a scope matches any scope (RT_SCOPE_NOWHERE), as `ip route del` does.
    auto deletion = build_route(RTM_DELROUTE, 0, peer_route());
    EXPECT_EQ(static_cast<const rtmsg*>(NLMSG_DATA(header(deletion)))->rtm_scope, RT_SCOPE_NOWHERE);
    EXPECT_EQ(header(deletion)->nlmsg_flags & NLM_F_CREATE, 0);
}

TEST(RouteMessage, TablesAbove255UseTheAttribute) {
    Route route = peer_route();
    route.table = 1000;
    auto parsed = parse_route(header(build_route(RTM_NEWROUTE, 0, route)));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->table, 1000u);
}

TEST(NeighbourMessage, RoundTrip) {
    Neighbour neighbour;
    neighbour.link_index = 9;
    neighbour.address = net::Address::parse("2001:db8::5");
    neighbour.lladdr = net::MacAddress::parse("0e:00:00:00:00:05");
    auto message = build_neighbour(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, neighbour);
    const auto* ndm = static_cast<const ndmsg*>(NLMSG_DATA(header(message)));
    EXPECT_EQ(ndm->ndm_family, AF_INET6);
    EXPECT_EQ(ndm->ndm_state, NUD_PERMANENT);
    EXPECT_EQ(parse_neighbour(header(message)), neighbour);
    EXPECT_FALSE(parse_fdb(header(message)));
}

TEST(FdbMessage, RoundTripWithDst) {
    FdbEntry entry;
    entry.link_index = 4;
    entry.mac = net::MacAddress::parse("0e:00:00:00:03:00");
    entry.dst = net::Address::parse("192.0.2.12");
    auto message = build_fdb(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_APPEND, entry);
    const auto* ndm = static_cast<const ndmsg*>(NLMSG_DATA(header(message)));
    EXPECT_EQ(ndm->ndm_family, AF_BRIDGE);
    EXPECT_EQ(ndm->ndm_flags, NTF_SELF);
    EXPECT_EQ(ndm->ndm_ifindex, 4);
    EXPECT_TRUE(header(message)->nlmsg_flags & NLM_F_APPEND);
    EXPECT_EQ(parse_fdb(header(message)), entry);
    EXPECT_FALSE(parse_neighbour(header(message)));

    entry.dst.reset();
    entry.flags = ntf_master;
    entry.vlan = 10;
    EXPECT_EQ(parse_fdb(header(build_fdb(RTM_DELNEIGH, 0, entry))), entry);
}

TEST(AddressMessage, RoundTrip) {
    auto message = build_address(RTM_NEWADDR, NLM_F_EXCL, 3, net::Prefix::parse("10.244.3.1/24"));
    auto parsed = parse_address(header(message));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->link_index, 3);
    EXPECT_EQ(parsed->prefix, net::Prefix::parse("10.244.3.1/24"));
}

TEST(LinkMessage, VxlanRoundTrip) {
    VxlanSpec spec;
    spec.name = "twill.1";
    spec.info.vni = 1;
    spec.info.port = 8472;
    spec.info.local = net::Address::parse("2001:db8::11");
    spec.info.underlay_index = 2;
    spec.info.learning = false;
    spec.mtu = 1450;
    spec.mac = net::MacAddress::parse("0e:11:22:33:44:55");
    auto message = build_link_add(spec);
    EXPECT_EQ(header(message)->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL),
              NLM_F_CREATE | NLM_F_EXCL);
    auto parsed = parse_link(header(message));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->name, "twill.1");
    EXPECT_EQ(parsed->kind, "vxlan");
    EXPECT_EQ(parsed->mtu, 1450u);
    EXPECT_EQ(parsed->mac, spec.mac);
    ASSERT_TRUE(parsed->vxlan);
    EXPECT_EQ(*parsed->vxlan, spec.info);
}

// The peer's attributes sit in IFLA_LINKINFO / IFLA_INFO_DATA / VETH_INFO_PEER after an
// ifinfomsg; the namespace fd must be among them so the peer is born in the pod.
TEST(LinkMessage, VethPeerCarriesTheNamespaceFd) {
    VethSpec spec;
    spec.name = "vethabc";
    spec.peer_name = "eth0";
    spec.mtu = 1450;
    auto message = build_link_add(spec, 42);
    const nlattr* linkinfo =
        find(message_attributes(header(message), sizeof(ifinfomsg)), IFLA_LINKINFO);
    ASSERT_NE(linkinfo, nullptr);
    const nlattr* data = find(nested(linkinfo), IFLA_INFO_DATA);
    ASSERT_NE(data, nullptr);
    const nlattr* peer = find(nested(data), VETH_INFO_PEER);
    ASSERT_NE(peer, nullptr);
    const auto* peer_attributes_start =
        static_cast<const char*>(mnl_attr_get_payload(peer)) + sizeof(ifinfomsg);
    const auto peer_attributes =
        attributes(peer_attributes_start, mnl_attr_get_payload_len(peer) - sizeof(ifinfomsg));
    std::optional<std::uint32_t> fd;
    std::string name;
    std::optional<std::uint32_t> mtu;
    if (auto* a = find(peer_attributes, IFLA_NET_NS_FD)) fd = mnl_attr_get_u32(a);
    if (auto* a = find(peer_attributes, IFLA_IFNAME)) name = mnl_attr_get_str(a);
    if (auto* a = find(peer_attributes, IFLA_MTU)) mtu = mnl_attr_get_u32(a);
    EXPECT_EQ(fd, 42u);
    EXPECT_EQ(name, "eth0");
    EXPECT_EQ(mtu, 1450u);
    // Without a namespace the peer has no fd attribute.
    auto same_namespace = build_link_add(spec, -1);
    EXPECT_LT(header(same_namespace)->nlmsg_len, header(message)->nlmsg_len);
}

TEST(LinkMessage, VxlanChangeCarriesOnlyWhatDiffers) {
    VxlanInfo current;
    current.vni = 1;
    current.port = 8472;
    current.local = net::Address::parse("192.0.2.11");
    current.underlay_index = 2;
    auto wanted = current;
    wanted.local = net::Address::parse("192.0.2.12");
    auto message = build_vxlan_change(9, current, wanted);
    EXPECT_EQ(header(message)->nlmsg_type, RTM_NEWLINK);  // a change of link data needs NEWLINK
    EXPECT_EQ(header(message)->nlmsg_flags & NLM_F_CREATE, 0);
    const nlattr* linkinfo =
        find(message_attributes(header(message), sizeof(ifinfomsg)), IFLA_LINKINFO);
    ASSERT_NE(linkinfo, nullptr);
    const nlattr* data = find(nested(linkinfo), IFLA_INFO_DATA);
    ASSERT_NE(data, nullptr);
    std::vector<int> types;
    for (const auto* attribute : nested(data)) types.push_back(mnl_attr_get_type(attribute));
    EXPECT_EQ(types, std::vector<int>{IFLA_VXLAN_LOCAL});
}

TEST(LinkMessage, ChangeCarriesOnlyTheChange) {
    LibnlPtr<rtnl_link> changes(rtnl_link_alloc());
    rtnl_link_set_mtu(changes.get(), 1400);
    auto message = build_link_change(5, changes.get());
    const auto* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(header(message)));
    EXPECT_EQ(ifi->ifi_index, 5);
    EXPECT_EQ(ifi->ifi_change, 0u);
    const auto list = message_attributes(header(message), sizeof(ifinfomsg));
    ASSERT_NE(find(list, IFLA_MTU), nullptr);
    EXPECT_EQ(mnl_attr_get_u32(find(list, IFLA_MTU)), 1400u);
    EXPECT_EQ(find(list, IFLA_IFNAME), nullptr);
}

// A capped NLMSG_ERROR with an extended ack message.
std::vector<char> error_answer(int error, const char* text) {
    std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* answer = mnl_nlmsg_put_header(buffer.data());
    answer->nlmsg_type = NLMSG_ERROR;
    answer->nlmsg_flags = NLM_F_CAPPED | (text ? NLM_F_ACK_TLVS : 0);
    auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(answer, sizeof(nlmsgerr)));
    err->error = -error;
    err->msg.nlmsg_len = sizeof(nlmsghdr) + 100;  // the request's length; capped: not copied
    if (text) mnl_attr_put_strz(answer, NLMSGERR_ATTR_MSG, text);
    return buffer;
}

TEST(KernelError, ErrnoAndExtendedAck) {
    auto answer = error_answer(EINVAL, "Nexthop has invalid gateway");
    auto error = parse_kernel_error(reinterpret_cast<const nlmsghdr*>(answer.data()));
    EXPECT_EQ(error.code, EINVAL);
    EXPECT_EQ(error.message, "Nexthop has invalid gateway");
    try {
        throw_kernel_error(error, "add route 10.0.0.0/8 via 1.2.3.4");
    } catch (const SystemError& e) {
        EXPECT_EQ(e.code(), EINVAL);
        EXPECT_STREQ(e.what(),
                     "add route 10.0.0.0/8 via 1.2.3.4 [kernel: Nexthop has invalid gateway]: "
                     "Invalid argument (errno 22)");
    }
    answer = error_answer(EEXIST, nullptr);
    error = parse_kernel_error(reinterpret_cast<const nlmsghdr*>(answer.data()));
    EXPECT_EQ(error.code, EEXIST);
    EXPECT_TRUE(error.message.empty());
}

TEST(KernelError, FailedDump) {
    std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* done = mnl_nlmsg_put_header(buffer.data());
    done->nlmsg_type = NLMSG_DONE;
    *static_cast<int*>(mnl_nlmsg_put_extra_header(done, sizeof(int))) = -EMSGSIZE;
    EXPECT_EQ(parse_kernel_error(done).code, EMSGSIZE);
}

}  // namespace
}  // namespace twill::netlink::detail
