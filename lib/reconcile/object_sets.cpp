#include "twill/reconcile/object_sets.hpp"

#include <cstring>

namespace twill::reconcile {

namespace {

// Keys are bytes, not text: a reconcile at 5,000 peers builds about 45,000 of them, and
// formatting addresses was its largest cost. A one-letter kind first, then the identity
// fields; an IPv4 key fits in std::string's inline buffer (no allocation).
void put(std::string& key, std::uint32_t value) {
    char bytes[sizeof value];
    std::memcpy(bytes, &value, sizeof value);
    key.append(bytes, sizeof value);
}

void put(std::string& key, const net::Address& address) {
    key.push_back(static_cast<char>(address.family()));
    const auto bytes = address.bytes();
    key.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// The kernel stores an IPv6 route added without a metric with metric 1024 (IPv4: 0), so
// that is what a desired one compares as.
std::uint32_t effective_priority(const netlink::Route& r) {
    return r.priority == 0 && r.destination.family() == net::Family::v6 ? 1024 : r.priority;
}

}  // namespace

std::string route_key(const netlink::Route& r) {
    std::string key(1, 'r');
    put(key, r.table);
    put(key, effective_priority(r));
    key.push_back(static_cast<char>(r.destination.length()));
    put(key, r.destination.address());
    return key;
}

bool same_route(const netlink::Route& actual, const netlink::Route& desired) {
    // An IPv6 route of another type than unicast (unreachable) sits on the loopback device
    // in the kernel; one wanted on no device is satisfied by that.
    const bool any_device = desired.oif == 0 && desired.type != netlink::RouteType::unicast &&
                            desired.destination.family() == net::Family::v6;
    return actual.destination == desired.destination && actual.gateway == desired.gateway &&
           (any_device || actual.oif == desired.oif) && actual.protocol == desired.protocol &&
           actual.type == desired.type && actual.onlink == desired.onlink &&
           actual.table == desired.table &&
           effective_priority(actual) == effective_priority(desired) &&
           (!desired.scope || actual.scope == desired.scope) &&
           (!desired.source || actual.source == desired.source);
}

std::string neighbour_key(const netlink::Neighbour& n) {
    std::string key(1, 'n');
    put(key, static_cast<std::uint32_t>(n.link_index));
    put(key, n.address);
    return key;
}

bool same_neighbour(const netlink::Neighbour& actual, const netlink::Neighbour& desired) {
    return actual.lladdr == desired.lladdr && (actual.state & desired.state) == desired.state;
}

std::string fdb_key(const netlink::FdbEntry& e) {
    std::string key(1, 'f');
    put(key, static_cast<std::uint32_t>(e.link_index));
    const auto mac = e.mac.bytes();
    key.append(reinterpret_cast<const char*>(mac.data()), mac.size());
    return key;
}

bool same_fdb(const netlink::FdbEntry& actual, const netlink::FdbEntry& desired) {
    return actual.dst == desired.dst && (actual.state & desired.state) == desired.state &&
           actual.is_self() == desired.is_self();
}

}  // namespace twill::reconcile
