#include "twill/reconcile/device_reconciler.hpp"

#include <net/if.h>

#include <algorithm>

#include "twill/error.hpp"
#include "twill/reconcile/drift_record.hpp"

namespace twill::reconcile {

namespace {

std::string_view kind_name(DeviceSpec::Kind kind) {
    return kind == DeviceSpec::Kind::bridge ? "bridge" : "vxlan";
}

std::string describe(const DeviceSpec& spec) {
    std::string s =
        std::string(kind_name(spec.kind)) + " " + spec.name + " mtu " + std::to_string(spec.mtu);
    if (spec.mac) s += " address " + spec.mac->to_string();
    if (spec.vxlan) {
        s += " id " + std::to_string(spec.vxlan->vni) + " dstport " +
             std::to_string(spec.vxlan->port);
        if (spec.vxlan->local) s += " local " + spec.vxlan->local->to_string();
        s += spec.vxlan->learning ? " learning" : " nolearning";
    }
    return s;
}

// Why the existing link cannot be fixed in place, or "" when it can.
std::string needs_recreate(const netlink::Link& link, const DeviceSpec& spec) {
    if (link.kind != kind_name(spec.kind))
        return "kind " + link.kind + ", want " + std::string(kind_name(spec.kind));
    if (spec.kind == DeviceSpec::Kind::vxlan && spec.vxlan) {
        if (!link.vxlan) return "no VXLAN parameters";
        const auto& have = *link.vxlan;
        const auto& want = *spec.vxlan;
        if (have.vni != want.vni)
            return "VNI " + std::to_string(have.vni) + ", want " + std::to_string(want.vni);
        if (have.port != want.port)
            return "port " + std::to_string(have.port) + ", want " + std::to_string(want.port);
        if (have.local != want.local) {
            return "local " + (have.local ? have.local->to_string() : "none") + ", want " +
                   (want.local ? want.local->to_string() : "none");
        }
        if (have.underlay_index != want.underlay_index) return "underlay device changed";
        if (have.learning != want.learning) return "learning changed";
    }
    return "";
}

netlink::Link create(netlink::Handle& handle, const DeviceSpec& spec) {
    if (spec.kind == DeviceSpec::Kind::bridge) {
        return handle.create_bridge({spec.name, spec.mtu, spec.mac});
    }
    return handle.create_vxlan(
        {spec.name, spec.vxlan.value_or(netlink::VxlanInfo{}), spec.mtu, spec.mac});
}

template <class Op>
void record(Report& report, bool dry_run, Change change, Op op) {
    if (dry_run) {
        report.unsettled.insert("link " + change.object);
        report.changes.push_back(std::move(change));
        return;
    }
    try {
        op();
        report.changes.push_back(std::move(change));
    } catch (const Error& e) {
        report.unsettled.insert("link " + change.object);
        report.errors.emplace_back(e.what());
    }
}

}  // namespace

std::optional<netlink::Link> reconcile_device(netlink::Handle& handle, const DeviceSpec& spec,
                                              bool dry_run, Report& report, bool* recreated,
                                              DriftRecord* record_of) {
    if (recreated) *recreated = false;
    // The one drift rule: the spec is what it was at the last applied run, so any difference
    // found now is the kernel's doing (twill0 deleted, an MTU edited by hand).
    const bool drift = record_of && record_of->unchanged("link", spec.name, spec);
    if (record_of && !dry_run) record_of->set("link", spec.name, spec);
    auto link = handle.find_link(spec.name);
    if (link) {
        if (auto why = needs_recreate(*link, spec); !why.empty()) {
            record(report, dry_run, {"link", Action::replaced, describe(spec), why, drift}, [&] {
                handle.delete_link(link->index);
                link = create(handle, spec);
            });
            if (dry_run) return std::nullopt;
            if (recreated) *recreated = true;
        }
    } else {
        record(report, dry_run, {"link", Action::added, describe(spec), "", drift},
               [&] { link = create(handle, spec); });
        if (!link) return std::nullopt;
        if (recreated) *recreated = true;
    }
    if (!link) return std::nullopt;

    const int index = link->index;
    if (link->mtu != spec.mtu) {
        record(report, dry_run,
               {"link", Action::replaced, spec.name + " mtu " + std::to_string(spec.mtu),
                "was mtu " + std::to_string(link->mtu), drift},
               [&] { handle.set_mtu(index, spec.mtu); });
    }
    if (spec.mac && link->mac != spec.mac) {
        record(report, dry_run,
               {"link", Action::replaced, spec.name + " address " + spec.mac->to_string(),
                "was " + (link->mac ? link->mac->to_string() : std::string("none")), drift},
               [&] { handle.set_mac(index, *spec.mac); });
    }

    auto addresses = handle.list_addresses(index);
    for (const auto& want : spec.addresses) {
        const bool present = std::any_of(addresses.begin(), addresses.end(),
                                         [&](const auto& a) { return a.prefix == want; });
        if (!present) {
            record(report, dry_run,
                   {"address", Action::added, want.to_string() + " dev " + spec.name, "", drift},
                   [&] { handle.add_address(index, want, {.no_dad = want.address().is_v6()}); });
        }
    }
    for (const auto& have : addresses) {
        if (have.prefix.address().is_link_local()) continue;
        if (std::find(spec.addresses.begin(), spec.addresses.end(), have.prefix) !=
            spec.addresses.end())
            continue;
        record(
            report, dry_run,
            {"address", Action::deleted, have.prefix.to_string() + " dev " + spec.name, "", drift},
            [&] { handle.delete_address(index, have.prefix); });
    }
    if (!link->is_up()) {
        record(report, dry_run, {"link", Action::replaced, spec.name + " up", "was down", drift},
               [&] { handle.set_link_up(index); });
    }
    if (!dry_run) {
        if (auto fresh = handle.find_link(index)) return fresh;
    }
    return link;
}

bool remove_device(netlink::Handle& handle, const std::string& name, Report& report) {
    auto link = handle.find_link(name);
    if (!link) return false;
    record(report, false, {"link", Action::deleted, name, "", false},
           [&] { handle.delete_link(link->index); });
    return true;
}

}  // namespace twill::reconcile
