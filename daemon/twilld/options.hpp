#pragma once
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "twill/net/address.hpp"

namespace twill::daemon {

// twilld's flags (DESIGN.md "twilld flags"); each also settable as TWILL_<NAME>.
struct Options {
    std::vector<std::string> etcd_endpoints{"http://127.0.0.1:2379"};
    std::string etcd_cafile;
    std::string etcd_certfile;
    std::string etcd_keyfile;
    std::string etcd_prefix = "/twill/network";
    std::string node_name;  // default: the hostname
    std::string iface;      // underlay interface; default: that of the default route
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
};

// Parses argv (and the TWILL_* environment). On --help/--version or a usage error it prints
// and returns the exit code to use (0 or 2); otherwise the options.
struct ParsedOptions {
    std::optional<Options> options;
    int exit_code = 0;
};
ParsedOptions parse_options(int argc, char** argv);

}  // namespace twill::daemon
