#include "twill/reconcile/object_reconciler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "twill/error.hpp"
#include "twill/reconcile/diff.hpp"

namespace twill::reconcile {

namespace {

bool owned_device(const Ownership& owned, int index) {
    return std::find(owned.devices.begin(), owned.devices.end(), index) != owned.devices.end();
}

bool in_neighbour_scope(const Ownership& owned, const net::Address& a) {
    return std::any_of(owned.neighbour_scope.begin(), owned.neighbour_scope.end(),
                       [&](const net::Prefix& p) { return p.contains(a); });
}

// Applies one kind's diff, recording each change. `replace` is given the desired object and
// the one the kernel holds now.
template <class Object, class KeyFn, class PrintFn, class AddFn, class ReplaceFn, class RemoveFn>
void apply(std::string_view kind, const Diff<Object>& diff, KeyFn key, PrintFn print, AddFn add,
           ReplaceFn replace, RemoveFn remove, bool dry_run, const DriftRecord& record,
           Report& report) {
    auto run = [&](Action action, const Object& object, const std::string& detail, bool drift,
                   const std::string& object_key, auto&& op) {
        Change change{std::string(kind), action, print(object), detail, drift};
        if (dry_run) {
            report.unsettled.insert(object_key);
            report.changes.push_back(std::move(change));
            return;
        }
        try {
            op(object);
            report.changes.push_back(std::move(change));
        } catch (const Error& e) {
            report.unsettled.insert(object_key);
            report.errors.emplace_back(e.what());
        }
    };
    for (const auto& d : diff.add) {
        const auto k = key(d);
        run(Action::added, d, "", record.unchanged(kind, k, d), k, add);
    }
    for (const auto& r : diff.replace) {
        const auto k = key(r.desired);
        run(Action::replaced, r.desired, "was: " + print(r.actual),
            record.unchanged(kind, k, r.desired), k,
            [&](const Object& desired) { replace(desired, r.actual); });
    }
    for (const auto& a : diff.remove) {
        const auto k = key(a);
        // An extra object that was not wanted before either was added behind twill's back.
        run(Action::deleted, a, "", !record.was_desired(kind, k), k, remove);
    }
}

}  // namespace

Report ObjectReconciler::reconcile(const ObjectSet& desired, const Ownership& owned, bool dry_run) {
    const auto start = std::chrono::steady_clock::now();
    Report report;

    netlink::RouteFilter route_filter;
    route_filter.protocol = owned.route_protocol;
    auto routes = handle_.dump_routes(route_filter);

    std::vector<netlink::Neighbour> neighbours;
    std::vector<netlink::FdbEntry> fdb;
    for (int device : owned.devices) {
        netlink::NeighbourFilter filter;
        filter.link_index = device;
        for (auto& n : handle_.dump_neighbours(filter)) {
            if (in_neighbour_scope(owned, n.address)) neighbours.push_back(std::move(n));
        }
        for (auto& e : handle_.dump_fdb(device)) {
            if (e.is_self() && owned_device(owned, e.link_index)) fdb.push_back(std::move(e));
        }
    }
    report.desired = desired.size();
    report.actual = routes.size() + neighbours.size() + fdb.size();

    auto route_diff = compute_diff(desired.routes, routes, route_key, same_route);
    auto neighbour_diff =
        compute_diff(desired.neighbours, neighbours, neighbour_key, same_neighbour);
    auto fdb_diff = compute_diff(desired.fdb, fdb, fdb_key, same_fdb);

    auto print_route = [](const netlink::Route& r) { return netlink::to_string(r); };
    auto print_neighbour = [](const netlink::Neighbour& n) { return netlink::to_string(n); };
    auto print_fdb = [](const netlink::FdbEntry& e) { return netlink::to_string(e); };

    // Order matters for the kernel: FDB and neighbours first, so a route never points at a
    // next hop that cannot be resolved yet; deletions of routes before their neighbours.
    apply(
        "fdb", fdb_diff, fdb_key, print_fdb, [&](const auto& e) { handle_.replace_fdb(e); },
        [&](const auto& e, const auto&) { handle_.replace_fdb(e); },
        [&](const auto& e) { handle_.delete_fdb(e); }, dry_run, record_, report);
    apply(
        "neighbour", neighbour_diff, neighbour_key, print_neighbour,
        [&](const auto& n) { handle_.replace_neighbour(n); },
        [&](const auto& n, const auto&) { handle_.replace_neighbour(n); },
        [&](const auto& n) { handle_.delete_neighbour(n); }, dry_run, record_, report);
    apply(
        "route", route_diff, route_key, print_route,
        [&](const auto& r) { handle_.replace_route(r); },
        // A route moving to another device is deleted first: IPv6 refuses to replace an onlink
        // route when its gateway resolves through the route's old device ("Nexthop has invalid
        // gateway or device mismatch"), as when a peer's IPv6 moves between twill-v6 and twill.
        [&](const auto& desired, const auto& actual) {
            if (actual.oif != desired.oif) handle_.delete_route(actual);
            handle_.replace_route(desired);
        },
        [&](const auto& r) { handle_.delete_route(r); }, dry_run, record_, report);

    for (const auto& e : report.errors) spdlog::warn("reconcile: {}", e);

    if (!dry_run) {
        // The objects themselves, not their printed form: printing 15,000 of them on every
        // reconcile cost more than the diff.
        std::unordered_map<std::string, DesiredValue> routes_wanted, neighbours_wanted, fdb_wanted;
        routes_wanted.reserve(desired.routes.size());
        neighbours_wanted.reserve(desired.neighbours.size());
        fdb_wanted.reserve(desired.fdb.size());
        for (const auto& r : desired.routes) routes_wanted.emplace(route_key(r), r);
        for (const auto& n : desired.neighbours) neighbours_wanted.emplace(neighbour_key(n), n);
        for (const auto& e : desired.fdb) fdb_wanted.emplace(fdb_key(e), e);
        record_.replace("route", std::move(routes_wanted));
        record_.replace("neighbour", std::move(neighbours_wanted));
        record_.replace("fdb", std::move(fdb_wanted));
    }
    report.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    return report;
}

void ObjectReconciler::forget() {
    record_.forget("route");
    record_.forget("neighbour");
    record_.forget("fdb");
}

}  // namespace twill::reconcile
