#include "netns_topology.hpp"

#include <unistd.h>

#include <atomic>

#include "twill/error.hpp"
#include "twill/netlink/handle.hpp"

namespace twill::testing {

namespace {

std::atomic<int> topology_counter{0};

void check_short_name(std::string_view name) {
    const bool valid_chars =
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string_view::npos;
    if (name.empty() || name.size() > 12 || !valid_chars)
        throw ParseError("namespace short name",
                         "\"" + std::string(name) + "\" must be 1..12 of [a-z0-9-]");
}

void bring_up_loopback(const netlink::Netns& netns) {
    netlink::Handle handle(netns);
    handle.set_link_up(handle.get_link("lo").index);
}

}  // namespace

net::Prefix NetnsTopology::underlay_network_v6() {
    return net::Prefix::parse("2001:db8:2::/64");
}

net::Prefix NetnsTopology::underlay_network() {
    return net::Prefix::parse("192.0.2.0/24");
}

NetnsTopology::NetnsTopology()
    : prefix_("tw" + std::to_string(::getpid()) + "-" + std::to_string(topology_counter++) + "-") {
    // Members are destroyed (namespaces removed) if this constructor throws part way.
    const auto& fabric = namespaces_.emplace_back(prefix_ + "fabric");
    netlink::Handle handle(fabric);
    handle.set_link_up(handle.get_link("lo").index);
    netlink::BridgeSpec bridge;
    bridge.name = std::string(fabric_bridge);
    fabric_bridge_index_ = handle.create_bridge(bridge).index;
    handle.set_link_up(fabric_bridge_index_);
}

NetnsTopology::~NetnsTopology() {
    // Nodes first, then the others in reverse order of creation; each OwnedNetns removes its
    // name and the kernel removes the devices once nothing holds the namespace any more.
    nodes_.clear();
    while (!namespaces_.empty()) namespaces_.pop_back();
}

const NetnsTopology::Node& NetnsTopology::add_node(std::string_view name) {
    check_short_name(name);
    for (const auto& existing : nodes_)
        if (existing.name == name) throw Error("topology: node " + std::string(name) + " exists");
    const int number = static_cast<int>(nodes_.size()) + 1;
    if (number > 200) throw Error("topology: too many nodes");

    Node node{
        std::string(name),
        netlink::OwnedNetns(prefix_ + std::string(name)),
        "eth0",
        0,
        net::Prefix(underlay_network().address().plus(static_cast<std::uint64_t>(10 + number)),
                    underlay_network().length()),
        net::Prefix(underlay_network_v6().address().plus(static_cast<std::uint64_t>(10 + number)),
                    underlay_network_v6().length())};
    bring_up_loopback(node.netns);

    netlink::Handle fabric_handle(fabric());
    netlink::VethSpec veth;
    veth.name = "f-" + std::string(name);
    veth.peer_name = node.underlay_device;
    veth.peer_netns = &node.netns.netns();
    const auto fabric_end = fabric_handle.create_veth(veth);
    fabric_handle.set_master(fabric_end.index, fabric_bridge_index_);
    fabric_handle.set_link_up(fabric_end.index);

    netlink::Handle node_handle(node.netns);
    node.underlay_index = node_handle.get_link(node.underlay_device).index;
    node_handle.add_address(node.underlay_index, node.underlay);
    node_handle.add_address(node.underlay_index, node.underlay_v6, {.no_dad = true});
    node_handle.set_link_up(node.underlay_index);
    return nodes_.emplace_back(std::move(node));
}

const netlink::OwnedNetns& NetnsTopology::add_namespace(std::string_view name) {
    check_short_name(name);
    auto& netns = namespaces_.emplace_back(prefix_ + std::string(name));
    bring_up_loopback(netns);
    return netns;
}

bool NetnsTopology::has_node(std::string_view name) const {
    for (const auto& node : nodes_)
        if (node.name == name) return true;
    return false;
}

const NetnsTopology::Node& NetnsTopology::node(std::string_view name) const {
    for (const auto& node : nodes_)
        if (node.name == name) return node;
    throw Error("topology: no node " + std::string(name));
}

}  // namespace twill::testing
