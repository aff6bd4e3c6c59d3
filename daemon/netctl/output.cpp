#include "output.hpp"

#include <google/protobuf/util/json_util.h>

#include <twill/error.hpp>

#include "table.hpp"

namespace twill::netctl {

namespace {

const char* yes_no(bool value) {
    return value ? "yes" : "no";
}

std::string duration(std::int64_t seconds) {
    if (seconds < 0) seconds = 0;
    const std::int64_t days = seconds / 86400, hours = seconds / 3600 % 24,
                       minutes = seconds / 60 % 60;
    std::string text;
    if (days) text += std::to_string(days) + "d";
    if (days || hours) text += std::to_string(hours) + "h";
    if (days || hours || minutes) text += std::to_string(minutes) + "m";
    return text + std::to_string(seconds % 60) + "s";
}

// "3 (route_added 2, fdb_added 1)"
template <class Items>
std::string counts(std::uint64_t total, const Items& items, auto label) {
    std::string text = std::to_string(total);
    if (items.empty()) return text;
    text += " (";
    for (int i = 0; i < items.size(); ++i) {
        if (i) text += ", ";
        text += label(items[i]) + " " + std::to_string(items[i].count());
    }
    return text + ")";
}

void field(std::ostream& out, std::string_view name, const std::string& value) {
    out << name << ':' << std::string(name.size() < 16 ? 16 - name.size() : 1, ' ') << value
        << '\n';
}

void print_peer_table(std::ostream& out,
                      const google::protobuf::RepeatedPtrField<api::v1::Peer>& peers) {
    Table table({"NODE", "SUBNET", "PUBLIC-IP", "VTEP-MAC/KEY", "IN-KERNEL"});
    for (const auto& peer : peers)
        table.add_row({peer.node(), peer.subnet(), peer.public_ip(),
                       peer.public_key().empty() ? peer.vtep_mac() : peer.public_key(),
                       yes_no(peer.in_kernel())});
    table.print(out);
}

void print_differences(std::ostream& out,
                       const google::protobuf::RepeatedPtrField<api::v1::Difference>& differences) {
    Table table({"ACTION", "KIND", "OBJECT", "DETAIL"});
    for (const auto& difference : differences)
        table.add_row(
            {difference.action(), difference.kind(), difference.object(), difference.detail()});
    table.print(out);
}

}  // namespace

void print_status(std::ostream& out, const api::v1::StatusReply& s) {
    field(out, "Node", s.node());
    field(out, "Network", s.network());
    field(out, "Subnet",
          s.subnet().empty() ? "(none)" : s.subnet() + " (gateway " + s.gateway() + ")");
    field(out, "Backend",
          s.backend_detail().empty() ? s.backend() : s.backend() + " (" + s.backend_detail() + ")");
    field(out, "Public IP",
          s.underlay_iface().empty() ? s.public_ip()
                                     : s.public_ip() + " (" + s.underlay_iface() + ")");
    field(out, "MTU", std::to_string(s.mtu()));
    field(out, "Lease",
          s.lease_held() ? "held, id " + std::to_string(s.lease_id()) + ", TTL " +
                               duration(s.lease_ttl_seconds())
                         : "not held");
    field(out, "etcd",
          std::string(s.etcd_reachable() ? "reachable" : "UNREACHABLE") +
              (s.etcd_endpoint().empty() ? "" : " via " + s.etcd_endpoint()) + ", revision " +
              std::to_string(s.last_revision()) + ", " + std::to_string(s.etcd_reconnects()) +
              " reconnects");
    field(out, "Ready", yes_no(s.ready()));
    field(out, "IP forwarding", s.ip_forward() ? "on" : "OFF (net.ipv4.ip_forward=0)");
    field(out, "Pod IPs in use", std::to_string(s.pod_ips_in_use()));
    if (s.pod_interfaces_oversized() > 0) {
        field(out, "Oversized pods",
              std::to_string(s.pod_interfaces_oversized()) + " interface(s) above MTU " + std::to_string(s.mtu()));
    }
    field(out, "Reconciles",
          std::to_string(s.reconcile_runs()) +
              (s.last_reconcile().empty() ? "" : " (last " + s.last_reconcile() + ")"));
    field(out, "Drift fixed",
          counts(s.corrections_total(), s.corrections(), [](const auto& c) { return c.kind(); }));
    field(out, "Invalid leases",
          counts(s.invalid_leases_total(), s.invalid_leases(),
                 [](const auto& c) { return c.reason(); }));
    if (s.dry_run()) field(out, "Dry run", "yes (drift is reported, not fixed)");
    field(out, "Uptime", duration(s.uptime_seconds()));
    field(out, "Version", s.version());
    if (!s.warnings().empty()) {
        out << "Warnings:\n";
        for (const auto& warning : s.warnings()) out << "  - " << warning << '\n';
    }
    if (!s.differences().empty()) {
        out << "\nDifferences at the last reconcile (" << s.differences_size() << "):\n";
        print_differences(out, s.differences());
    }
    out << "\nPeers (" << s.peers_size() << "):\n";
    if (!s.peers().empty()) print_peer_table(out, s.peers());
}

void print_peers(std::ostream& out, const api::v1::PeersReply& peers) {
    print_peer_table(out, peers.peers());
}

void print_check(std::ostream& out, const api::v1::CheckReply& check) {
    if (check.in_sync()) {
        out << "in sync with etcd revision " << check.revision() << '\n';
        return;
    }
    out << check.differences_size()
        << (check.differences_size() == 1 ? " difference" : " differences")
        << " from etcd revision " << check.revision() << ":\n";
    print_differences(out, check.differences());
}

std::string to_json(const google::protobuf::Message& message) {
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    options.add_whitespace = true;
    std::string json;
    const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
    if (!status.ok()) throw Error("render JSON: " + std::string(status.message()));
    return json;
}

}  // namespace twill::netctl
