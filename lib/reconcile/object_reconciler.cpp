#include "twill/reconcile/object_reconciler.hpp"

#include <linux/neighbour.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <unordered_set>

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

// How long a write's notification is awaited: the monitor drains its socket on the same loop
// right after a run, so a real echo arrives within milliseconds.
constexpr auto kEchoWindow = std::chrono::seconds(1);

// Applies one kind's diff, recording each change. `replace` is given the desired object and
// the one the kernel holds now.
template <class Object, class KeyFn, class PrintFn, class AddFn, class ReplaceFn, class RemoveFn>
void apply(std::string_view kind, const Diff<Object>& diff, KeyFn key, PrintFn print, AddFn add,
           ReplaceFn replace, RemoveFn remove, bool dry_run, const DriftRecord& record,
           Report& report, const std::function<void(const std::string&, bool)>& expect) {
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
            expect(object_key, action == Action::deleted);
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

// An idle resync at 10,000 peers spent a seventh of its time sorting 60,000 objects to learn
// again that nothing differs, where fingerprinting them costs a tenth of that.
template <class Object, class KeyFn, class SameFn>
Diff<Object> ObjectReconciler::diff_unless_settled(const std::vector<Object>& desired,
                                                   Fingerprint desired_digest,
                                                   const std::vector<Object>& actual, KeyFn key,
                                                   SameFn same, std::optional<Settled>& settled) {
    const Settled now{desired_digest, digest(actual)};
    if (settled == now) return {};
    auto diff = compute_diff(desired, actual, key, same);
    if (diff.empty())
        settled = now;
    else
        settled.reset();
    return diff;
}

Report ObjectReconciler::reconcile(const ObjectSet& desired, const Ownership& owned, bool dry_run) {
    const auto start = std::chrono::steady_clock::now();
    Report report;
    if (!dry_run) echoes_.clear();
    const auto expect = [this](const std::string& key, bool removed) {
        this->expect(key, removed);
    };

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

    const auto desired_routes = digest(desired.routes);
    const auto desired_neighbours = digest(desired.neighbours);
    const auto desired_fdb = digest(desired.fdb);
    auto route_diff = diff_unless_settled(desired.routes, desired_routes, routes, route_key,
                                          same_route, settled_.routes);
    auto neighbour_diff = diff_unless_settled(desired.neighbours, desired_neighbours, neighbours,
                                              neighbour_key, same_neighbour, settled_.neighbours);
    auto fdb_diff =
        diff_unless_settled(desired.fdb, desired_fdb, fdb, fdb_key, same_fdb, settled_.fdb);

    auto print_route = [](const netlink::Route& r) { return netlink::to_string(r); };
    auto print_neighbour = [](const netlink::Neighbour& n) { return netlink::to_string(n); };
    auto print_fdb = [](const netlink::FdbEntry& e) { return netlink::to_string(e); };

    // Order matters for the kernel: FDB and neighbours first, so a route never points at a
    // next hop that cannot be resolved yet; deletions of routes before their neighbours.
    apply(
        "fdb", fdb_diff, fdb_key, print_fdb, [&](const auto& e) { handle_.replace_fdb(e); },
        [&](const auto& e, const auto&) { handle_.replace_fdb(e); },
        [&](const auto& e) { handle_.delete_fdb(e); }, dry_run, record_, report, expect);
    apply(
        "neighbour", neighbour_diff, neighbour_key, print_neighbour,
        [&](const auto& n) { handle_.replace_neighbour(n); },
        [&](const auto& n, const auto&) { handle_.replace_neighbour(n); },
        [&](const auto& n) { handle_.delete_neighbour(n); }, dry_run, record_, report, expect);
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
        [&](const auto& r) { handle_.delete_route(r); }, dry_run, record_, report, expect);

    for (const auto& e : report.errors) spdlog::warn("reconcile: {}", e);

    if (!dry_run) {
        // The objects themselves, not their printed form: printing 15,000 of them on every
        // reconcile cost more than the diff. A resync that changed nothing copies nothing.
        record_.replace("route", desired.routes, route_key, desired_routes);
        record_.replace("neighbour", desired.neighbours, neighbour_key, desired_neighbours);
        record_.replace("fdb", desired.fdb, fdb_key, desired_fdb);
    }
    report.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    return report;
}

namespace {

bool already_gone(const Error& e) {
    const auto* system = dynamic_cast<const SystemError*>(&e);
    return system && (system->code() == ENOENT || system->code() == ESRCH);
}

// The objects of a change, one kind at a time, each recorded as desired or not.
using Expect = std::function<void(const std::string& key, bool removed)>;

template <class Object, class KeyFn, class WriteFn>
void write_all(std::string_view kind, const std::vector<Object>& objects, KeyFn key, WriteFn write,
               DriftRecord& record, const Expect& expect, Report& report) {
    for (const auto& object : objects) {
        const auto k = key(object);
        const auto action = record.was_desired(kind, k) ? Action::replaced : Action::added;
        try {
            write(object);
            expect(k, false);
            record.set(kind, k, object);
            report.changes.push_back(
                {std::string(kind), action, netlink::to_string(object), "", false});
        } catch (const Error& e) {
            report.unsettled.insert(k);
            report.errors.emplace_back(e.what());
        }
    }
}

// `kept`: keys another object was just written under, which stay.
template <class Object, class KeyFn, class EraseFn>
void remove_all(std::string_view kind, const std::vector<Object>& objects,
                const std::unordered_set<std::string>& kept, KeyFn key, EraseFn erase,
                DriftRecord& record, const Expect& expect, Report& report) {
    for (const auto& object : objects) {
        const auto k = key(object);
        if (kept.contains(k)) continue;
        try {
            erase(object);
            expect(k, true);
            report.changes.push_back(
                {std::string(kind), Action::deleted, netlink::to_string(object), "", false});
        } catch (const Error& e) {
            if (!already_gone(e)) {
                report.unsettled.insert(k);
                report.errors.emplace_back(e.what());
                continue;
            }
        }
        record.erase(kind, k);
    }
}

template <class Object, class KeyFn>
std::unordered_set<std::string> keys_of(const std::vector<Object>& objects, KeyFn key) {
    std::unordered_set<std::string> keys;
    for (const auto& object : objects) keys.insert(key(object));
    return keys;
}

}  // namespace

Report ObjectReconciler::update(const ObjectSet& upsert, const ObjectSet& remove) {
    const auto start = std::chrono::steady_clock::now();
    Report report;
    report.desired = upsert.size();
    const Expect expect = [this](const std::string& key, bool removed) {
        this->expect(key, removed);
    };
    // As in the full run: a route's next hop is resolvable before the route is written, and
    // a route is gone before its next hop goes. Routes that move to another device go first
    // (IPv6 refuses to replace them in place); no other route is written under a key another
    // one gives up (a route's key is its destination: one subnet, one peer). A MAC or a
    // neighbour address one peer gives up another may take in the same change: what was just
    // written under that key stays.
    remove_all(
        "route", remove.routes, {}, route_key, [&](const auto& r) { handle_.delete_route(r); },
        record_, expect, report);
    write_all(
        "fdb", upsert.fdb, fdb_key, [&](const auto& e) { handle_.replace_fdb(e); }, record_, expect,
        report);
    write_all(
        "neighbour", upsert.neighbours, neighbour_key,
        [&](const auto& n) { handle_.replace_neighbour(n); }, record_, expect, report);
    write_all(
        "route", upsert.routes, route_key, [&](const auto& r) { handle_.replace_route(r); },
        record_, expect, report);
    remove_all(
        "neighbour", remove.neighbours, keys_of(upsert.neighbours, neighbour_key), neighbour_key,
        [&](const auto& n) { handle_.delete_neighbour(n); }, record_, expect, report);
    remove_all(
        "fdb", remove.fdb, keys_of(upsert.fdb, fdb_key), fdb_key,
        [&](const auto& e) { handle_.delete_fdb(e); }, record_, expect, report);
    for (const auto& e : report.errors) spdlog::warn("reconcile: {}", e);
    report.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    return report;
}

void ObjectReconciler::expect(const std::string& key, bool removed) {
    auto& expected = echoes_[(removed ? "-" : "+") + key];
    ++expected.count;
    expected.written = std::chrono::steady_clock::now();
}

bool ObjectReconciler::is_echo(const netlink::Event& event) {
    std::string key;
    if (const auto* route = std::get_if<netlink::Route>(&event.object))
        key = route_key(*route);
    else if (const auto* neighbour = std::get_if<netlink::Neighbour>(&event.object))
        key = neighbour_key(*neighbour);
    else if (const auto* fdb = std::get_if<netlink::FdbEntry>(&event.object))
        key = fdb_key(*fdb);
    else
        return false;
    bool removed = event.action == netlink::Event::Action::removed;
    // Deleting a neighbour is told twice: first as an update to "failed", then as removed.
    const auto* neighbour = std::get_if<netlink::Neighbour>(&event.object);
    const bool failing = neighbour && !removed && (neighbour->state & NUD_FAILED);
    if (failing) removed = true;
    const auto it = echoes_.find((removed ? "-" : "+") + key);
    if (it == echoes_.end()) return false;
    if (failing) return std::chrono::steady_clock::now() - it->second.written < kEchoWindow;
    const bool fresh = std::chrono::steady_clock::now() - it->second.written < kEchoWindow;
    if (--it->second.count == 0 || !fresh) echoes_.erase(it);
    return fresh;
}

void ObjectReconciler::forget() {
    settled_ = {};
    record_.forget("route");
    record_.forget("neighbour");
    record_.forget("fdb");
}

}  // namespace twill::reconcile
