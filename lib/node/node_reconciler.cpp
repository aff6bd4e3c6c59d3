#include "twill/node/node_reconciler.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <exception>
#include <unordered_map>

#include "twill/backend/wireguard_keys.hpp"
#include "twill/error.hpp"
#include "twill/node/sysctl.hpp"
#include "twill/reconcile/object_sets.hpp"

namespace twill::node {

namespace {

// Runs one stage; whatever it throws becomes a report error naming the stage, so one failing
// netlink call never ends the daemon and never stops the stages after it.
template <class Fn>
void stage(const char* name, reconcile::Report& report, Fn fn) {
    try {
        fn();
    } catch (const std::exception& e) {
        report.errors.push_back(std::string(name) + ": " + e.what());
    }
}

std::string describe(const std::optional<firewall::MasqueradeSpec>& spec) {
    if (!spec) return "absent";
    auto text = "network " + spec->network.to_string() + " subnet " + spec->subnet.to_string();
    if (spec->ipv6) {
        text += " ipv6 network " + spec->ipv6->network.to_string() + " subnet " +
                spec->ipv6->subnet.to_string();
    }
    return text;
}

template <class Object>
Object bound(Object object, int index) {
    if constexpr (std::is_same_v<Object, netlink::Route>) {
        object.oif = index;
    } else {
        object.link_index = index;
    }
    return object;
}

}  // namespace

NodeReconciler::NodeReconciler(std::filesystem::path run_dir)
    : run_dir_(std::move(run_dir)), objects_(handle_, &record_) {}

reconcile::Report NodeReconciler::apply(const DesiredState& desired, backend::Backend& backend,
                                        bool dry_run) {
    const auto start = std::chrono::steady_clock::now();
    reconcile::Report report;
    stage("bridge", report, [&] { apply_bridge(desired, dry_run, report); });
    underlay_index_ = desired.context.underlay.index;
    deviceless_ = !backend.has_device();
    stage("overlay device", report, [&] {
        overlay_index_ = 0;
        bool recreated = false;
        overlay_index_ =
            backend.reconcile_device(handle_, desired.context, dry_run, record_, report, recreated);
        // Everything on a device made anew is new: putting it back is not drift.
        if (recreated) objects_.forget();
    });
    stage("IPv6 overlay device", report, [&] {
        overlay_v6_index_ = 0;
        bool recreated = false;
        overlay_v6_index_ = backend.reconcile_ipv6_device(handle_, desired.context, dry_run,
                                                          record_, report, recreated);
        if (recreated) objects_.forget();
    });
    stage("objects", report, [&] { apply_objects(desired, dry_run, report); });
    stage("device peers", report, [&] {
        backend.reconcile_peers(desired.context, desired.peer_sets.device_peers, dry_run, record_,
                                report);
    });
    stage("nftables", report, [&] { apply_firewall(desired, dry_run, report); });
    stage("sysctl", report, [&] { apply_sysctls(desired, dry_run, report); });
    stage("subnet.json", report, [&] { apply_subnet_file(desired, dry_run, report); });
    report.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    return report;
}

void NodeReconciler::apply_bridge(const DesiredState& desired, bool dry_run,
                                  reconcile::Report& report) {
    bridge_index_ = 0;
    bool recreated = false;
    const auto bridge =
        reconcile::reconcile_device(handle_, desired.bridge, dry_run, report, &recreated, &record_);
    if (!bridge) return;
    bridge_index_ = bridge->index;
    if (!desired.bridge_ports) return;
    // A bridge deleted and made anew has no ports: every pod's host veth goes back on it.
    const auto links = handle_.list_links();
    for (const auto& name : *desired.bridge_ports) {
        const auto link = std::find_if(links.begin(), links.end(),
                                       [&](const netlink::Link& l) { return l.name == name; });
        if (link == links.end() || link->master == bridge->index) continue;
        reconcile::Change change{"link", reconcile::Action::replaced,
                                 name + " master " + desired.bridge.name,
                                 link->master ? "was another master" : "was no master", true};
        if (dry_run) {
            report.changes.push_back(std::move(change));
            continue;
        }
        try {
            handle_.set_master(link->index, bridge->index);
            handle_.set_hairpin(link->index, true);
            if (!link->is_up()) handle_.set_link_up(link->index);
            report.changes.push_back(std::move(change));
        } catch (const Error& e) {
            report.errors.emplace_back(e.what());
        }
    }
}

void NodeReconciler::apply_objects(const DesiredState& desired, bool dry_run,
                                   reconcile::Report& report) {
    const auto& sets = desired.peer_sets;
    const std::array<std::pair<const reconcile::ObjectSet*, int>, 3> on_devices{
        {{&sets.objects, overlay_index_},
         {&sets.ipv6_device_objects, overlay_v6_index_},
         {&sets.underlay_objects, underlay_index_}}};
    reconcile::ObjectSet objects;
    std::size_t routes = desired.unreachable.size(), neighbours = 0, fdb = 0;
    for (const auto& [set, index] : on_devices) {
        if (index == 0) continue;
        routes += set->routes.size();
        neighbours += set->neighbours.size();
        fdb += set->fdb.size();
    }
    objects.routes.reserve(routes);
    objects.neighbours.reserve(neighbours);
    objects.fdb.reserve(fdb);
    for (const auto& [set, index] : on_devices) {
        if (index == 0) continue;
        for (const auto& r : set->routes) objects.routes.push_back(bound(r, index));
        for (const auto& n : set->neighbours) objects.neighbours.push_back(bound(n, index));
        for (const auto& f : set->fdb) objects.fdb.push_back(bound(f, index));
    }
    for (const auto& route : desired.unreachable) objects.routes.push_back(route);
    reconcile::Ownership owned;
    if (overlay_index_ != 0) owned.devices.push_back(overlay_index_);
    if (overlay_v6_index_ != 0) owned.devices.push_back(overlay_v6_index_);
    owned.neighbour_scope = {desired.context.network};
    if (desired.context.ipv6_network)
        owned.neighbour_scope.push_back(*desired.context.ipv6_network);
    report.merge(objects_.reconcile(objects, owned, dry_run));
}

namespace {

// Adds to `upsert` the objects of `after` that are new or differ from `before`, and to
// `remove` those of `before` no longer wanted (a route moving to another device too: it is
// deleted before it is written again).
template <class Object, class KeyFn>
void changed_objects(const std::vector<Object>* before, const std::vector<Object>* after, int index,
                     KeyFn key, std::vector<Object>& upsert, std::vector<Object>& remove) {
    static const std::vector<Object> none;
    const auto& old_objects = before ? *before : none;
    const auto& new_objects = after ? *after : none;
    for (const auto& desired : new_objects) {
        const auto object = bound(desired, index);
        const auto k = key(object);
        const auto previous =
            std::find_if(old_objects.begin(), old_objects.end(),
                         [&](const Object& o) { return key(bound(o, index)) == k; });
        if (previous != old_objects.end()) {
            const auto old_object = bound(*previous, index);
            if (old_object == object) continue;
            if constexpr (std::is_same_v<Object, netlink::Route>) {
                if (old_object.oif != object.oif) remove.push_back(old_object);
            }
        }
        upsert.push_back(object);
    }
    for (const auto& old_object : old_objects) {
        const auto object = bound(old_object, index);
        const auto k = key(object);
        if (std::none_of(new_objects.begin(), new_objects.end(),
                         [&](const Object& o) { return key(bound(o, index)) == k; })) {
            remove.push_back(object);
        }
    }
}

void changed_set(const reconcile::ObjectSet* before, const reconcile::ObjectSet* after, int index,
                 reconcile::ObjectSet& upsert, reconcile::ObjectSet& remove) {
    if (index == 0) return;
    changed_objects(before ? &before->routes : nullptr, after ? &after->routes : nullptr, index,
                    reconcile::route_key, upsert.routes, remove.routes);
    changed_objects(before ? &before->neighbours : nullptr, after ? &after->neighbours : nullptr,
                    index, reconcile::neighbour_key, upsert.neighbours, remove.neighbours);
    changed_objects(before ? &before->fdb : nullptr, after ? &after->fdb : nullptr, index,
                    reconcile::fdb_key, upsert.fdb, remove.fdb);
}

}  // namespace

reconcile::Report NodeReconciler::apply_peer_updates(const std::vector<PeerUpdate>& updates,
                                                     backend::Backend& backend) {
    const auto start = std::chrono::steady_clock::now();
    reconcile::Report report;
    if (!devices_ready()) {
        report.errors.emplace_back("overlay device: missing since the last full run");
        return report;
    }
    reconcile::ObjectSet upsert, remove;
    std::vector<netlink::WireguardPeer> peers_set, peers_removed;
    for (const auto& update : updates) {
        const auto* before = update.before ? &*update.before : nullptr;
        const auto* after = update.after ? &*update.after : nullptr;
        changed_set(before ? &before->objects : nullptr, after ? &after->objects : nullptr,
                    overlay_index_, upsert, remove);
        changed_set(before ? &before->ipv6_device_objects : nullptr,
                    after ? &after->ipv6_device_objects : nullptr, overlay_v6_index_, upsert,
                    remove);
        changed_set(before ? &before->underlay_objects : nullptr,
                    after ? &after->underlay_objects : nullptr, underlay_index_, upsert, remove);
        const auto* old_peer = before && before->device_peer ? &*before->device_peer : nullptr;
        const auto* new_peer = after && after->device_peer ? &*after->device_peer : nullptr;
        if (new_peer && (!old_peer || *old_peer != *new_peer)) peers_set.push_back(*new_peer);
        if (old_peer && (!new_peer || old_peer->public_key != new_peer->public_key))
            peers_removed.push_back(*old_peer);
    }
    report.merge(objects_.update(upsert, remove));
    backend.update_peers(peers_set, peers_removed, record_, report);
    report.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    return report;
}

bool NodeReconciler::settled(const backend::PeerObjects& peer,
                             const reconcile::Report& report) const {
    if (!devices_ready() || peer.off_link) return false;
    auto set_settled = [&](const reconcile::ObjectSet& set, int index) {
        for (const auto& r : set.routes) {
            if (report.unsettled.contains(reconcile::route_key(bound(r, index)))) return false;
        }
        for (const auto& n : set.neighbours) {
            if (report.unsettled.contains(reconcile::neighbour_key(bound(n, index)))) return false;
        }
        for (const auto& f : set.fdb) {
            if (report.unsettled.contains(reconcile::fdb_key(bound(f, index)))) return false;
        }
        return true;
    };
    if (!set_settled(peer.objects, overlay_index_)) return false;
    if (!set_settled(peer.underlay_objects, underlay_index_)) return false;
    if (!peer.ipv6_device_objects.routes.empty() &&
        (overlay_v6_index_ == 0 || !set_settled(peer.ipv6_device_objects, overlay_v6_index_)))
        return false;
    if (peer.device_peer &&
        report.unsettled.contains("wireguard-peer:" +
                                  backend::key_to_base64(peer.device_peer->public_key))) {
        return false;
    }
    return true;
}

void NodeReconciler::apply_firewall(const DesiredState& desired, bool dry_run,
                                    reconcile::Report& report) {
    const auto outcome = firewall_.reconcile(desired.firewall, dry_run);
    const std::string key = "table inet twill";
    const auto value = describe(desired.firewall);
    if (outcome.action != firewall::Outcome::Action::none) {
        const auto action =
            outcome.action == firewall::Outcome::Action::created   ? reconcile::Action::added
            : outcome.action == firewall::Outcome::Action::removed ? reconcile::Action::deleted
                                                                   : reconcile::Action::replaced;
        report.changes.push_back(
            {"nftables", action, key, outcome.detail, record_.unchanged("nftables", key, value)});
    }
    if (!dry_run) record_.set("nftables", key, value);
}

void NodeReconciler::apply_sysctls(const DesiredState& desired, bool dry_run,
                                   reconcile::Report& report) {
    for (const auto& sysctl : desired.sysctls) {
        const auto now = read_sysctl(sysctl.name);
        if (now == sysctl.value) continue;
        reconcile::Change change{"sysctl", reconcile::Action::replaced,
                                 sysctl.name + "=" + sysctl.value,
                                 (dry_run ? "is " : "was ") + now.value_or("unreadable"),
                                 record_.unchanged("sysctl", sysctl.name, sysctl.value)};
        if (dry_run) {
            report.changes.push_back(std::move(change));
            continue;
        }
        try {
            write_sysctl(sysctl.name, sysctl.value);
            report.changes.push_back(std::move(change));
        } catch (const Error& e) {
            report.errors.emplace_back(e.what());
        }
    }
    if (!dry_run) {
        for (const auto& sysctl : desired.sysctls) {
            record_.set("sysctl", sysctl.name, sysctl.value);
        }
    }
}

void NodeReconciler::apply_subnet_file(const DesiredState& desired, bool dry_run,
                                       reconcile::Report& report) {
    // Written once the devices exist: its presence tells the plugin the node is ready.
    if (!devices_ready() || bridge_index_ == 0) return;
    const auto path = (run_dir_ / cni::node_subnet_file_name).string();
    const auto now = cni::read_node_subnet(run_dir_);
    if (now == desired.subnet_file) return;
    const auto text = cni::to_json_text(desired.subnet_file);
    reconcile::Change change{"file", now ? reconcile::Action::replaced : reconcile::Action::added,
                             path, now ? "was " + cni::to_json_text(*now) : "",
                             record_.unchanged("file", path, text)};
    if (!dry_run) cni::write_node_subnet(run_dir_, desired.subnet_file);
    report.changes.push_back(std::move(change));
    if (!dry_run) record_.set("file", path, text);
}

void NodeReconciler::remove_subnet_file() {
    const auto path = run_dir_ / cni::node_subnet_file_name;
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) throw_errno("remove " + path.string());
    record_.forget("file");
}

reconcile::Report NodeReconciler::remove_all(backend::Backend* backend,
                                             const backend::NodeContext* context) {
    reconcile::Report report;
    stage("subnet.json", report, [&] { remove_subnet_file(); });
    stage("bridge", report, [&] { reconcile::remove_device(handle_, kBridge, report); });
    if (backend && context) {
        stage("overlay device", report, [&] { backend->remove(handle_, *context, report); });
    }
    stage("nftables", report, [&] { firewall_.reconcile(std::nullopt, false); });
    stage("routes", report, [&] {
        netlink::RouteFilter filter;
        filter.protocol = reconcile::twill_route_protocol;
        for (const auto& route : handle_.dump_routes(filter)) {
            try {
                handle_.delete_route(route);
            } catch (const Error& e) {
                report.errors.emplace_back(e.what());
            }
        }
    });
    record_.forget_all();
    overlay_index_ = 0;
    overlay_v6_index_ = 0;
    bridge_index_ = 0;
    return report;
}

}  // namespace twill::node
