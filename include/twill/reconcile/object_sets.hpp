#pragma once
// Per-remote-node kernel objects (routes, neighbours, FDB entries) and how the reconciler
// identifies and compares them. Identity (the key) is what the kernel keys the object by;
// "same" compares only the fields twill sets, so the values the kernel fills in on dumps
// (scope, kernel-chosen flags) never count as a difference.
#include <string>
#include <vector>

#include "twill/netlink/objects.hpp"

namespace twill::reconcile {

// twill's own rtnetlink protocol number (DESIGN.md principle 3: `ip route show proto 137`).
inline constexpr std::uint8_t twill_route_protocol = 137;

struct ObjectSet {
    std::vector<netlink::Route> routes;
    std::vector<netlink::Neighbour> neighbours;
    std::vector<netlink::FdbEntry> fdb;

    std::size_t size() const { return routes.size() + neighbours.size() + fdb.size(); }
};

// Keys identify an object within its kind (opaque bytes, never shown to a person).
std::string route_key(const netlink::Route& r);
bool same_route(const netlink::Route& actual, const netlink::Route& desired);

std::string neighbour_key(const netlink::Neighbour& n);
bool same_neighbour(const netlink::Neighbour& actual, const netlink::Neighbour& desired);

std::string fdb_key(const netlink::FdbEntry& e);
bool same_fdb(const netlink::FdbEntry& actual, const netlink::FdbEntry& desired);

}  // namespace twill::reconcile
