#include "twill/reconcile/object_sets.hpp"

namespace twill::reconcile {

std::string route_key(const netlink::Route& r) {
    return "route " + std::to_string(r.table) + " " + r.destination.to_string() + " " +
           std::to_string(r.priority);
}

bool same_route(const netlink::Route& actual, const netlink::Route& desired) {
    return actual.destination == desired.destination && actual.gateway == desired.gateway &&
           actual.oif == desired.oif && actual.protocol == desired.protocol &&
           actual.type == desired.type && actual.onlink == desired.onlink &&
           actual.table == desired.table && actual.priority == desired.priority &&
           (!desired.scope || actual.scope == desired.scope) &&
           (!desired.source || actual.source == desired.source);
}

std::string neighbour_key(const netlink::Neighbour& n) {
    return "neighbour " + std::to_string(n.link_index) + " " + n.address.to_string();
}

bool same_neighbour(const netlink::Neighbour& actual, const netlink::Neighbour& desired) {
    return actual.lladdr == desired.lladdr && (actual.state & desired.state) == desired.state;
}

std::string fdb_key(const netlink::FdbEntry& e) {
    return "fdb " + std::to_string(e.link_index) + " " + e.mac.to_string();
}

bool same_fdb(const netlink::FdbEntry& actual, const netlink::FdbEntry& desired) {
    return actual.dst == desired.dst && (actual.state & desired.state) == desired.state &&
           actual.is_self() == desired.is_self();
}

}  // namespace twill::reconcile
