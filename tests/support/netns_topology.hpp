#pragma once
// Throwaway network topologies for integration tests (DESIGN.md "Test topology"), built on
// lib/netlink only:
//
//   fabric namespace:  bridge "fabric0" (the underlay switch), up
//   node namespaces:   "eth0" (veth, peer "f-<node>" on fabric0), 192.0.2.<n>/24 and
//                      2001:db8:2::<n>/64 (no DAD), up
//   pod / extra namespaces: empty but for "lo" (up); the CNI plugin or the test wires them
//
// Every namespace name starts with prefix() ("tw<pid>-<k>-"), unique to this process and
// object. The destructor removes every namespace it made, also when a test fails or throws.
// Requires root.
#include <deque>
#include <string>
#include <string_view>

#include "twill/net/address.hpp"
#include "twill/net/prefix.hpp"
#include "twill/netlink/netns.hpp"

namespace twill::testing {

class NetnsTopology {
  public:
    struct Node {
        std::string name;             // the short name given to add_node ("a")
        netlink::OwnedNetns netns;    // named prefix() + name
        std::string underlay_device;  // "eth0"
        int underlay_index = 0;       // its ifindex inside the node
        net::Prefix underlay;         // 192.0.2.<n>/24
        net::Prefix underlay_v6;      // 2001:db8:2::<n>/64
        net::Address address() const { return underlay.address(); }
        net::Address address_v6() const { return underlay_v6.address(); }
        const std::string& netns_name() const { return netns.name(); }
    };

    // The underlay subnet (TEST-NET-1); node n (from 1) gets .<10 + n>.
    static net::Prefix underlay_network();
    // The IPv6 underlay subnet (documentation prefix); node n gets ::<10 + n>.
    static net::Prefix underlay_network_v6();
    static constexpr std::string_view fabric_bridge = "fabric0";

    NetnsTopology();
    NetnsTopology(const NetnsTopology&) = delete;
    NetnsTopology& operator=(const NetnsTopology&) = delete;
    ~NetnsTopology();

    const std::string& prefix() const noexcept { return prefix_; }
    const netlink::OwnedNetns& fabric() const noexcept { return namespaces_.front(); }

    // A node namespace wired to the fabric. `name`: 1..12 characters of [a-z0-9-].
    const Node& add_node(std::string_view name);
    // An extra namespace (a pod, an etcd host before it gets wired): only "lo", up.
    const netlink::OwnedNetns& add_namespace(std::string_view name);

    const Node& node(std::string_view name) const;
    bool has_node(std::string_view name) const;

  private:
    std::string prefix_;
    std::deque<netlink::OwnedNetns> namespaces_;  // fabric first
    std::deque<Node> nodes_;
    int fabric_bridge_index_ = 0;
};

}  // namespace twill::testing
