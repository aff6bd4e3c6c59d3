#include "twill/backend/wireguard_backend.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <set>
#include <variant>

#include "twill/error.hpp"
#include "twill/reconcile/object_sets.hpp"

namespace twill::backend {

namespace {

std::unique_ptr<WireguardDevice> pick_device(const BackendEnvironment& environment) {
    const auto& impl = environment.wireguard_impl;
    if (impl == "kernel") return make_kernel_wireguard_device(kWireguardDevice);
    if (impl == "userspace")
        return make_userspace_wireguard_device(kWireguardDevice, environment.run_dir);
    if (impl != "auto" && !impl.empty()) {
        throw ParseError("--wireguard-impl",
                         "\"" + impl + "\" is not one of auto, kernel, userspace");
    }
    if (kernel_wireguard_available()) return make_kernel_wireguard_device(kWireguardDevice);
    spdlog::info(
        "the kernel has no WireGuard (generic netlink family \"wireguard\" does not resolve): "
        "using wireguard-go");
    return make_userspace_wireguard_device(kWireguardDevice, environment.run_dir);
}

std::vector<net::Prefix> sorted(std::vector<net::Prefix> prefixes) {
    std::sort(prefixes.begin(), prefixes.end());
    return prefixes;
}

bool same(const netlink::WireguardPeer& a, const netlink::WireguardPeer& b) {
    return a.endpoint == b.endpoint && a.persistent_keepalive == b.persistent_keepalive &&
           sorted(a.allowed_ips) == sorted(b.allowed_ips);
}

std::string differences(const netlink::WireguardPeer& desired,
                        const netlink::WireguardPeer& actual) {
    std::string text;
    auto add = [&](const std::string& part) { text += (text.empty() ? "" : ", ") + part; };
    if (desired.endpoint != actual.endpoint) {
        add("endpoint " + (actual.endpoint ? actual.endpoint->to_string() : std::string("none")));
    }
    if (desired.persistent_keepalive != actual.persistent_keepalive) {
        add("keepalive " + std::to_string(actual.persistent_keepalive));
    }
    if (sorted(desired.allowed_ips) != sorted(actual.allowed_ips)) {
        std::string ips;
        for (const auto& ip : actual.allowed_ips) ips += (ips.empty() ? "" : ",") + ip.to_string();
        add("allowed-ips " + (ips.empty() ? std::string("none") : ips));
    }
    return "was " + text;
}

}  // namespace

std::string to_string(const netlink::WireguardPeer& peer) {
    std::string text = "peer " + key_to_base64(peer.public_key);
    if (peer.endpoint) text += " endpoint " + peer.endpoint->to_string();
    std::string ips;
    for (const auto& ip : peer.allowed_ips) ips += (ips.empty() ? "" : ",") + ip.to_string();
    if (!ips.empty()) text += " allowed-ips " + ips;
    if (peer.persistent_keepalive != 0)
        text += " keepalive " + std::to_string(peer.persistent_keepalive);
    return text;
}

PeerPlan plan_peers(const std::vector<netlink::WireguardPeer>& desired,
                    const std::vector<netlink::WireguardPeer>& actual,
                    const reconcile::DriftRecord& record) {
    PeerPlan plan;
    std::map<netlink::WireguardKey, const netlink::WireguardPeer*> present;
    for (const auto& peer : actual) present.emplace(peer.public_key, &peer);
    std::set<netlink::WireguardKey> wanted;
    auto was_desired = [&](const netlink::WireguardPeer& peer) {
        return record.unchanged("wireguard-peer", key_to_base64(peer.public_key), peer);
    };
    for (const auto& peer : desired) {
        if (!wanted.insert(peer.public_key).second) continue;  // one peer per key
        auto it = present.find(peer.public_key);
        if (it == present.end()) {
            plan.change.peers.push_back({peer, false});
            plan.changes.push_back({"wireguard-peer", reconcile::Action::added, to_string(peer), "",
                                    was_desired(peer)});
        } else if (!same(peer, *it->second)) {
            plan.change.peers.push_back({peer, false});
            plan.changes.push_back({"wireguard-peer", reconcile::Action::replaced, to_string(peer),
                                    differences(peer, *it->second), was_desired(peer)});
        }
    }
    for (const auto& peer : actual) {
        if (wanted.contains(peer.public_key)) continue;
        plan.change.peers.push_back({peer, true});
        plan.changes.push_back(
            {"wireguard-peer", reconcile::Action::deleted, to_string(peer), "",
             !record.was_desired("wireguard-peer", key_to_base64(peer.public_key))});
    }
    return plan;
}

WireguardBackend::WireguardBackend(subnet::WireguardBackend config,
                                   const BackendEnvironment& environment)
    : WireguardBackend(config, load_or_create_key(environment.state_dir / kWireguardKeyFile),
                       pick_device(environment)) {}

WireguardBackend::WireguardBackend(subnet::WireguardBackend config, WireguardKeyPair keys,
                                   std::unique_ptr<WireguardDevice> device)
    : config_(config), keys_(keys), device_(std::move(device)) {
    spdlog::info("wireguard: {}, public key {}", detail(), key_to_base64(keys_.public_key));
}

std::string WireguardBackend::detail() const {
    return device_->implementation() + ", port " + std::to_string(config_.listen_port) +
           ", device " + kWireguardDevice;
}

std::uint32_t WireguardBackend::overhead(net::Family family) const {
    // outer IP (20 / 40) + UDP 8 + WireGuard header 16 + authentication tag 16
    return family == net::Family::v4 ? 60 : 80;
}

subnet::LeaseBackendData WireguardBackend::lease_data(const NodeContext&) const {
    return subnet::WireguardLeaseData{keys_.public_key};
}

int WireguardBackend::reconcile_device(netlink::Handle& handle, const NodeContext& node,
                                       bool dry_run, reconcile::DriftRecord& record,
                                       reconcile::Report& report, bool& recreated) {
    recreated = false;
    const std::string name = kWireguardDevice;
    std::optional<netlink::Link> link;
    try {
        link = device_->ensure(handle, dry_run, recreated);
    } catch (const Error& e) {
        device_present_ = false;
        report.errors.emplace_back(e.what());
        return 0;
    }
    device_present_ = link.has_value();
    ++report.desired;
    if (!link) {
        report.changes.push_back({"link", reconcile::Action::added,
                                  name + " (" + device_->implementation() + ")", "", false});
        report.unsettled.insert("link:" + name);
        return 0;
    }
    ++report.actual;
    if (recreated) {
        report.changes.push_back({"link", reconcile::Action::added,
                                  name + " (" + device_->implementation() + ")", "", false});
    }
    // The device's desired shape: what the drift rule compares with the last applied run.
    std::vector<net::Prefix> wanted;
    std::string shape = "mtu " + std::to_string(node.overlay_mtu);
    for (const auto& subnet : node.subnets()) {
        wanted.push_back(net::Prefix::host(subnet.first()));
        shape += " address " + subnet.first().to_string();
    }
    const bool drift = !recreated && record.unchanged("link", name, shape);
    if (!dry_run) record.set("link", name, shape);
    auto attempt = [&](reconcile::Change change, const std::function<void()>& operation) {
        try {
            if (!dry_run) operation();
            report.changes.push_back(std::move(change));
        } catch (const Error& e) {
            report.errors.emplace_back(e.what());
            report.unsettled.insert("link:" + name);
        }
    };
    if (link->mtu != node.overlay_mtu) {
        attempt(
            {"link", reconcile::Action::replaced, name + " mtu " + std::to_string(node.overlay_mtu),
             "was " + std::to_string(link->mtu), drift},
            [&] { handle.set_mtu(link->index, node.overlay_mtu); });
    }
    try {
        std::vector<net::Prefix> present;
        for (const auto& address : handle.list_addresses(link->index)) {
            if (address.prefix.address().is_link_local()) continue;
            if (std::find(wanted.begin(), wanted.end(), address.prefix) != wanted.end()) {
                present.push_back(address.prefix);
                continue;
            }
            attempt({"address", reconcile::Action::deleted, netlink::to_string(address, name), "",
                     drift},
                    [&] { handle.delete_address(link->index, address.prefix); });
        }
        for (const auto& prefix : wanted) {
            if (std::find(present.begin(), present.end(), prefix) != present.end()) continue;
            const netlink::InterfaceAddress address{link->index, prefix, 0};
            attempt(
                {"address", reconcile::Action::added, netlink::to_string(address, name), "", drift},
                [&] {
                    handle.add_address(link->index, prefix, {.no_dad = prefix.address().is_v6()});
                });
        }
    } catch (const Error& e) {  // the address dump failed
        report.errors.emplace_back(e.what());
        report.unsettled.insert("link:" + name);
    }
    if (!link->is_up()) {
        attempt({"link", reconcile::Action::replaced, name + " up", "was down", drift},
                [&] { handle.set_link_up(link->index); });
    }
    return link->index;
}

void WireguardBackend::reconcile_peers(const NodeContext&,
                                       const std::vector<netlink::WireguardPeer>& desired,
                                       bool dry_run, reconcile::DriftRecord& record,
                                       reconcile::Report& report) {
    report.desired += desired.size();
    if (!device_present_) {
        for (const auto& peer : desired) {
            report.changes.push_back(
                {"wireguard-peer", reconcile::Action::added, to_string(peer), "", false});
            report.unsettled.insert("wireguard-peer:" + key_to_base64(peer.public_key));
        }
        return;
    }
    netlink::WireguardDeviceConfig actual;
    try {
        actual = device_->read();
    } catch (const Error& e) {
        report.errors.emplace_back(e.what());
        return;
    }
    report.actual += actual.peers.size();
    auto plan = plan_peers(desired, actual.peers, record);
    const std::string name = kWireguardDevice;
    if (actual.private_key != keys_.private_key) {
        plan.change.private_key = keys_.private_key;
        plan.changes.push_back(
            {"wireguard-device", reconcile::Action::replaced,
             name + " private key of public key " + key_to_base64(keys_.public_key),
             actual.private_key ? "was another key" : "was none", false});
    }
    if (actual.listen_port != config_.listen_port) {
        plan.change.listen_port = config_.listen_port;
        plan.changes.push_back({"wireguard-device", reconcile::Action::replaced,
                                name + " listen-port " + std::to_string(config_.listen_port),
                                "was " + std::to_string(actual.listen_port), false});
    }
    const bool empty = plan.changes.empty();
    if (!empty && !dry_run) {
        try {
            device_->apply(plan.change);
        } catch (const Error& e) {
            report.errors.emplace_back(e.what());
            for (const auto& change : plan.change.peers) {
                report.unsettled.insert("wireguard-peer:" + key_to_base64(change.peer.public_key));
            }
            return;
        }
    }
    if (dry_run) {
        for (const auto& change : plan.change.peers) {
            report.unsettled.insert("wireguard-peer:" + key_to_base64(change.peer.public_key));
        }
    } else {
        record.replace("wireguard-peer", desired, [](const netlink::WireguardPeer& peer) {
            return key_to_base64(peer.public_key);
        });
    }
    for (auto& change : plan.changes) report.changes.push_back(std::move(change));
}

void WireguardBackend::update_peers(const std::vector<netlink::WireguardPeer>& set,
                                    const std::vector<netlink::WireguardPeer>& removed,
                                    reconcile::DriftRecord& record, reconcile::Report& report) {
    if (set.empty() && removed.empty()) return;
    auto unsettled = [&] {
        for (const auto* peers : {&set, &removed}) {
            for (const auto& peer : *peers)
                report.unsettled.insert("wireguard-peer:" + key_to_base64(peer.public_key));
        }
    };
    if (!device_present_) {
        report.errors.emplace_back(std::string(kWireguardDevice) + ": not there");
        unsettled();
        return;
    }
    netlink::WireguardChange change;
    for (const auto& peer : removed) change.peers.push_back({peer, true});
    for (const auto& peer : set) change.peers.push_back({peer, false});
    try {
        device_->apply(change);
    } catch (const Error& e) {
        report.errors.emplace_back(e.what());
        unsettled();
        return;
    }
    for (const auto& peer : removed) {
        record.erase("wireguard-peer", key_to_base64(peer.public_key));
        report.changes.push_back(
            {"wireguard-peer", reconcile::Action::deleted, to_string(peer), "", false});
    }
    for (const auto& peer : set) {
        const auto key = key_to_base64(peer.public_key);
        report.changes.push_back({"wireguard-peer",
                                  record.was_desired("wireguard-peer", key)
                                      ? reconcile::Action::replaced
                                      : reconcile::Action::added,
                                  to_string(peer), "", false});
        record.set("wireguard-peer", key, peer);
    }
}

void WireguardBackend::remove(netlink::Handle& handle, const NodeContext&,
                              reconcile::Report& report) {
    try {
        device_->remove(handle);
        report.changes.push_back(
            {"link", reconcile::Action::deleted,
             std::string(kWireguardDevice) + " (" + device_->implementation() + ")", "", false});
    } catch (const Error& e) {
        report.errors.emplace_back(e.what());
    }
    device_present_ = false;
}

std::optional<PeerObjects> WireguardBackend::peer(const NodeContext& node,
                                                  const subnet::Lease& lease) const {
    const auto* data = std::get_if<subnet::WireguardLeaseData>(&lease.value.backend_data);
    if (!data) return std::nullopt;
    PeerObjects peer;
    netlink::WireguardPeer device_peer;
    device_peer.public_key = data->public_key;
    device_peer.endpoint = netlink::WireguardEndpoint{lease.value.public_ip, config_.listen_port};
    const auto subnets = peer_subnets(node, lease);
    device_peer.allowed_ips.assign(subnets.begin(), subnets.end());
    device_peer.persistent_keepalive =
        static_cast<std::uint16_t>(config_.persistent_keepalive_interval);
    peer.device_peer = std::move(device_peer);
    for (const auto& subnet : subnets) {
        netlink::Route route;
        route.destination = subnet;
        route.protocol = reconcile::twill_route_protocol;
        route.scope = netlink::route_scope_link;
        peer.objects.routes.push_back(route);
    }
    return peer;
}

}  // namespace twill::backend
