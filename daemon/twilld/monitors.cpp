// The triggers from the kernel: rtnetlink events on twill's objects and the underlay, and
// nftables notifications about twill's table. Each only schedules a reconcile.
#include <spdlog/spdlog.h>

#include "cluster.hpp"
#include "daemon.hpp"
#include "twill/error.hpp"
#include "twill/reconcile/object_sets.hpp"
#include "twill/sys/fd.hpp"
#include "underlay.hpp"

namespace twill::daemon {

namespace {
// Monitor-triggered reconciles are spaced by this much, so our own changes (which the
// monitor reports too) fold into one follow-up run.
constexpr auto kMonitorDebounce = std::chrono::milliseconds(5);
}  // namespace

void Daemon::arm_monitor() {
    if (!monitor_descriptor_) monitor_descriptor_.emplace(io_, sys::dup_cloexec(monitor_.fd()));
    monitor_descriptor_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                                    [this](const boost::system::error_code& ec) {
                                        if (ec) return;
                                        on_monitor_readable();
                                        arm_monitor();
                                    });
}

bool Daemon::concerns_twill(const netlink::Event& event) const {
    const bool underlay = [&] {
        if (!underlay_) return false;
        const auto* link = std::get_if<netlink::Link>(&event.object);
        const auto* address = std::get_if<netlink::InterfaceAddress>(&event.object);
        return (link && link->index == underlay_->index) ||
               (address && address->link_index == underlay_->index);
    }();
    return underlay ||
           std::visit(
               [&](const auto& object) -> bool {
                   using T = std::decay_t<decltype(object)>;
                   if constexpr (std::is_same_v<T, netlink::Route>) {
                       return object.protocol == reconcile::twill_route_protocol ||
                              node_.is_own_device(object.oif) || object.destination.length() == 0;
                   } else if constexpr (std::is_same_v<T, netlink::Link>) {
                       return object.name == node::kBridge || object.name.starts_with("twill") ||
                              node_.is_own_device(object.index);
                   } else if constexpr (std::is_same_v<T, netlink::InterfaceAddress>) {
                       return node_.is_own_device(object.link_index);
                   } else {
                       // Neighbours and FDB entries on the overlay devices (twill0's come and
                       // go with the pods' traffic and are the kernel's).
                       return node_.is_overlay_device(object.link_index);
                   }
               },
               event.object);
}

void Daemon::arm_firewall_monitor() {
    if (!firewall_descriptor_)
        firewall_descriptor_.emplace(io_, sys::dup_cloexec(firewall_monitor_.fd()));
    firewall_descriptor_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                                     [this](const boost::system::error_code& ec) {
                                         if (ec) return;
                                         bool changed = true;
                                         try {
                                             changed = firewall_monitor_.drain();
                                         } catch (const Error& e) {
                                             spdlog::warn("nftables monitor: {}", e.what());
                                         }
                                         if (changed && config_)
                                             schedule_reconcile("nftables table changed");
                                         arm_firewall_monitor();
                                     });
}

void Daemon::on_monitor_readable() {
    netlink::DrainResult result;
    try {
        result = monitor_.drain();
    } catch (const Error& e) {
        spdlog::warn("netlink monitor: {}", e.what());
        result.resync_needed = true;
    }
    bool relevant = result.resync_needed;
    bool underlay_touched = false;
    for (const auto& event : result.events) {
        // The notifications of our own writes say nothing new.
        if (!concerns_twill(event) || node_.is_echo(event)) continue;
        if (!relevant && spdlog::should_log(spdlog::level::debug)) {
            spdlog::debug(
                "full run: the kernel {} {}",
                event.action == netlink::Event::Action::removed ? "removed" : "changed",
                std::visit([](const auto& o) { return netlink::to_string(o); }, event.object));
        }
        relevant = true;
        if (event.kind == netlink::Event::Kind::link ||
            event.kind == netlink::Event::Kind::address) {
            underlay_touched = true;
        }
        // twill0 deleted or a pod's port moved: look at the pods' ports too.
        if (event.kind == netlink::Event::Kind::link) ports_due_ = true;
    }
    if (!relevant || !config_) return;
    full_due_ = true;
    if (underlay_touched) refresh_underlay();
    if (reconcile_pending_) return;
    reconcile_pending_ = true;
    debounce_timer_.expires_after(kMonitorDebounce);
    debounce_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) {
            reconcile_pending_ = false;
            return;
        }
        reconcile();
    });
}

void Daemon::refresh_underlay() {
    if (!underlay_ || !own_lease_ || !backend_) return;
    try {
        auto fresh = find_underlay(node_.handle(), options_.underlay, options_.public_ip,
                                   config_->network().family());
        if (fresh.address == underlay_->address && fresh.mtu == underlay_->mtu &&
            fresh.index == underlay_->index && fresh.ipv6_address == underlay_->ipv6_address &&
            fresh.prefixes == underlay_->prefixes)
            return;
        spdlog::info("underlay changed: {} {} mtu {} -> {} {} mtu {}", underlay_->name,
                     underlay_->address.to_string(), underlay_->mtu, fresh.name,
                     fresh.address.to_string(), fresh.mtu);
        const bool address_changed = fresh.address != underlay_->address;
        const bool mtu_changed = fresh.mtu != underlay_->mtu;
        const auto previous_ipv6 = underlay_->ipv6_address;
        underlay_ = fresh;
        // The pods made before now exceed the overlay: count them at once, not at the next resync.
        if (mtu_changed) update_oversized_gauge();
        const bool publish = (address_changed && !options_.public_ip) ||
                             (config_->ipv6 && fresh.ipv6_address != previous_ipv6);
        if (publish && !options_.dry_run) {
            // Connections to etcd made from the old address may go nowhere now, silently:
            // reconnect at once instead of waiting for a deadline, then publish.
            if (address_changed) cluster_->reconnect();
            cluster_->update_value(lease_value(*config_, *backend_, fresh));
        }
    } catch (const Error& e) {
        spdlog::warn("underlay: {}", e.what());
    }
}

}  // namespace twill::daemon
