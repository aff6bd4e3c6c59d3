#pragma once
#include <chrono>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "twill/net/address.hpp"

namespace twill::daemon {

// How the underlay interface is chosen (docs/reference.md "Underlay"): the first named
// interface that exists, else the first whose name matches the regex, else the interface of
// the route to `can_reach`; with none of them set, the interface of the default route.
struct UnderlaySelection {
    std::vector<std::string> ifaces;          // --iface, comma lists and repeated flags, in order
    std::string iface_regex;                  // --iface-regex as given (for messages); empty: unset
    std::optional<std::regex> iface_pattern;  // iface_regex compiled (ECMAScript)
    std::optional<net::Address> can_reach;    // --iface-can-reach

    bool any() const { return !ifaces.empty() || iface_pattern || can_reach; }
};

// twilld's flags (DESIGN.md "twilld flags"); each also settable as TWILL_<NAME>.
struct Options {
    std::vector<std::string> etcd_endpoints{"http://127.0.0.1:2379"};
    std::string etcd_cafile;
    std::string etcd_certfile;
    std::string etcd_keyfile;
    std::string etcd_prefix = "/twill/network";
    std::string node_name;  // default: the hostname
    UnderlaySelection underlay;
    std::optional<net::Address> public_ip;
    std::filesystem::path run_dir = "/run/twill";
    std::filesystem::path state_dir = "/var/lib/twill";
    std::filesystem::path cni_data_dir = "/var/lib/cni/twill";
    std::string metrics_addr = ":9474";                                    // empty: no HTTP server
    std::chrono::milliseconds resync_interval = std::chrono::seconds(30);  // 0: no periodic resync
    std::chrono::seconds subnet_lease_ttl = std::chrono::hours(24);
    std::string log_level = "info";
    std::string log_format = "text";
    std::optional<int> mtu;
    bool dry_run = false;
    bool ip_masq = true;  // false: no masquerade, twill's nftables table removed
    std::string wireguard_impl = "auto";
    // Peer health probes through the overlay: each peer at least once per interval (0: off),
    // at most `probe_rate` probes per second.
    std::chrono::milliseconds probe_interval = std::chrono::seconds(30);
    double probe_rate = 200;
    // Where the install step put the CNI plugin and its conflist (read by --uninstall).
    std::filesystem::path cni_bin_dir = "/opt/cni/bin";
    std::filesystem::path cni_conf_dir = "/etc/cni/net.d";
    bool join = false;       // remove the leave marker before starting
    bool uninstall = false;  // remove everything twill put on this node, then exit
};

// Parses argv (and the TWILL_* environment). On --help/--version or a usage error it prints
// and returns the exit code to use (0 or 2); otherwise the options.
struct ParsedOptions {
    std::optional<Options> options;
    int exit_code = 0;
};
ParsedOptions parse_options(int argc, char** argv);

// --iface values ("eth0,ens3", repeated flags) as names in order; throws ParseError naming
// --iface for a name no interface can have.
std::vector<std::string> split_interface_names(const std::vector<std::string>& values);

}  // namespace twill::daemon
