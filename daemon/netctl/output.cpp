#include "output.hpp"

#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <twill/error.hpp>

#include "printable.hpp"
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
    out << name << ':' << std::string(name.size() < 16 ? 16 - name.size() : 1, ' ')
        << printable(value) << '\n';
}

std::string rtt(double ms) {
    char text[32];
    std::snprintf(text, sizeof text, ms < 10 ? "%.2f ms" : "%.0f ms", ms);
    return text;
}

// "12:03:01" out of "2026-11-25T12:03:01Z" (times are UTC, as in --json).
std::string clock_time(const std::string& rfc3339) {
    return rfc3339.size() >= 19 ? rfc3339.substr(11, 8) : rfc3339;
}

void print_peer_table(std::ostream& out,
                      const google::protobuf::RepeatedPtrField<api::v1::Peer>& peers) {
    Table table({"NODE", "SUBNET", "PUBLIC-IP", "PATH", "VTEP-MAC/KEY", "IN-KERNEL", "REACHABLE",
                 "RTT", "LAST-SEEN"});
    auto state = [](const api::v1::PeerHealth& health) {
        return health.state() == "reachable" ? std::string("yes")
               : health.state() == "unreachable"
                   ? "NO (" + std::to_string(health.consecutive_losses()) + " lost)"
                   : std::string("unknown");
    };
    for (const auto& peer : peers) {
        const auto& health = peer.health();
        std::string reachable = "-", last_rtt = "-", last_seen = "-";
        if (peer.has_health()) {
            reachable = state(health);
            if (health.rtt_ms() > 0) last_rtt = rtt(health.rtt_ms());
            if (!health.last_seen().empty()) last_seen = clock_time(health.last_seen());
        }
        // Dual-stack: the IPv6 gateway's answer beside it when it differs.
        if (peer.has_ipv6_health() && state(peer.ipv6_health()) != reachable)
            reachable += ", IPv6 " + state(peer.ipv6_health());
        const auto subnets =
            peer.ipv6_subnet().empty() ? peer.subnet() : peer.subnet() + "," + peer.ipv6_subnet();
        const auto& id = peer.public_key().empty() ? peer.vtep_mac() : peer.public_key();
        table.add_row({peer.node(), subnets, peer.public_ip(), peer.path(), id.empty() ? "-" : id,
                       yes_no(peer.in_kernel()), reachable, last_rtt, last_seen});
    }
    table.print(out);
}

// "41/42; unreachable: n7 since 12:03:01 (3 probes lost)"
std::string reachability(const api::v1::StatusReply& s) {
    const auto& probes = s.probes();
    if (!probes.enabled()) return "not probed (probes are off)";
    std::string text = std::to_string(probes.reachable()) + "/" + std::to_string(s.peers_size());
    if (probes.unknown() > 0)
        text += " (" + std::to_string(probes.unknown()) + " without a result yet)";
    // Names the first few; with thousands of dead peers the line must stay a line.
    constexpr int kNamed = 5;
    std::string unreachable;
    int named = 0;
    for (const auto& peer : s.peers()) {
        // The first family's gateway, else (dual-stack) the IPv6 one that does not answer.
        const bool first = peer.health().state() == "unreachable";
        const bool ipv6 = peer.ipv6_health().state() == "unreachable";
        if ((!first && !ipv6) || named++ >= kNamed) continue;
        const auto& health = first ? peer.health() : peer.ipv6_health();
        unreachable += unreachable.empty() ? "; unreachable: " : ", ";
        unreachable += peer.node() + (first ? "" : " over IPv6") + " since " +
                       clock_time(health.unreachable_since()) + " (" +
                       std::to_string(health.consecutive_losses()) + " probes lost)";
    }
    if (named > kNamed)
        unreachable += " and " + std::to_string(named - kNamed) + " more (netctl peers)";
    return text + unreachable;
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
    field(out, "Network",
          s.ipv6_network().empty() ? s.network() : s.network() + ", " + s.ipv6_network());
    field(out, "Subnet",
          s.subnet().empty() ? "(none)" : s.subnet() + " (gateway " + s.gateway() + ")");
    if (!s.ipv6_subnet().empty()) {
        field(out, "IPv6 subnet", s.ipv6_subnet() + " (gateway " + s.ipv6_gateway() + ")");
    }
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
              std::to_string(s.pod_interfaces_oversized()) + " interface(s) above MTU " +
                  std::to_string(s.mtu()));
    }
    field(out, "Peers reachable", reachability(s));
    field(out, "Reconciles",
          std::to_string(s.reconcile_runs()) +
              (s.last_reconcile().empty() ? "" : " (last " + s.last_reconcile() + ")"));
    field(out, "Drift fixed",
          counts(s.corrections_total(), s.corrections(), [](const auto& c) { return c.kind(); }));
    field(out, "Invalid leases",
          counts(s.invalid_leases_total(), s.invalid_leases(),
                 [](const auto& c) { return c.reason(); }));
    if (s.lease_losses() > 0) field(out, "Lease losses", std::to_string(s.lease_losses()));
    if (s.left()) field(out, "Left", "yes: this node left the cluster (netctl join to rejoin)");
    if (s.dry_run()) field(out, "Dry run", "yes (drift is reported, not fixed)");
    field(out, "Uptime", duration(s.uptime_seconds()));
    field(out, "Version", s.version());
    if (!s.warnings().empty()) {
        out << "Warnings:\n";
        for (const auto& warning : s.warnings()) out << "  - " << printable(warning) << '\n';
    }
    if (!s.differences().empty()) {
        out << "\nDifferences at the last reconcile (" << s.differences_size() << "):\n";
        print_differences(out, s.differences());
    }
    if (!s.lost_pods().empty()) {
        out << "\nPods on a lost subnet (" << s.lost_pods_size()
            << "): their addresses are no longer this node's; recreate these pods\n";
        Table table({"CONTAINER", "IFNAME", "IP"});
        for (const auto& pod : s.lost_pods()) {
            table.add_row({pod.container_id(), pod.ifname(), pod.ip()});
        }
        table.print(out);
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
    } else {
        out << check.differences_size()
            << (check.differences_size() == 1 ? " difference" : " differences")
            << " from etcd revision " << check.revision() << ":\n";
        print_differences(out, check.differences());
    }
    if (!check.probed()) return;
    int reachable = 0;
    for (const auto& probe : check.probes()) reachable += probe.reachable();
    out << "probed " << check.probes_size() << (check.probes_size() == 1 ? " peer" : " peers")
        << ": " << reachable << " reachable";
    if (reachable == check.probes_size()) {
        out << '\n';
        return;
    }
    out << ", " << check.probes_size() - reachable << " unreachable:\n";
    Table table({"NODE", "SUBNET", "PROBED", "ATTEMPTS"});
    for (const auto& probe : check.probes())
        if (!probe.reachable())
            table.add_row(
                {probe.node(), probe.subnet(), probe.address(), std::to_string(probe.attempts())});
    table.print(out);
}

bool all_reachable(const api::v1::CheckReply& check) {
    for (const auto& probe : check.probes())
        if (!probe.reachable()) return false;
    return true;
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
