#include "options.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <iostream>

#include "duration.hpp"
#include "twill/error.hpp"
#include "version.hpp"

namespace twill::daemon {

namespace {

std::string env_name(std::string_view flag) {
    std::string name = "TWILL_";
    for (char c : flag) name += c == '-' ? '_' : static_cast<char>(std::toupper(c));
    return name;
}

std::string hostname() {
    char buffer[256] = {};
    if (::gethostname(buffer, sizeof buffer - 1) < 0) throw_errno("gethostname");
    return buffer;
}

}  // namespace

std::vector<std::string> split_interface_names(const std::vector<std::string>& values) {
    std::vector<std::string> names;
    for (const auto& value : values) {
        std::string_view rest = value;
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            auto name = rest.substr(0, comma);
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
            while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
            if (name.empty()) continue;
            if (name.size() > 15 || name.find_first_of("/: \t") != std::string_view::npos) {
                throw ParseError("--iface", "\"" + std::string(name) +
                                                "\" is not an interface name (1..15 characters, "
                                                "no '/', ':' or spaces)");
            }
            names.emplace_back(name);
        }
    }
    return names;
}

ParsedOptions parse_options(int argc, char** argv) {
    Options o;
    CLI::App app{
        "twilld: twill's node daemon. Keeps this node's subnet lease in etcd and the "
        "kernel's overlay state equal to what etcd says."};
    app.set_version_flag("--version", std::string(kVersion));
    std::string endpoints = "http://127.0.0.1:2379";
    std::string public_ip, resync = "30s", ttl = "24h", mtu, probe_interval = "30s";
    auto flag = [&](const std::string& name, auto& target, const std::string& help) {
        return app.add_option("--" + name, target, help)->envname(env_name(name));
    };
    flag("etcd-endpoints", endpoints, "etcd endpoints, comma separated (http(s)://host:port)")
        ->capture_default_str();
    flag("etcd-cafile", o.etcd_cafile, "CA certificate for etcd TLS");
    flag("etcd-certfile", o.etcd_certfile, "client certificate for etcd TLS");
    flag("etcd-keyfile", o.etcd_keyfile, "client key for etcd TLS");
    flag("etcd-prefix", o.etcd_prefix, "etcd key prefix of the network")->capture_default_str();
    flag("node-name", o.node_name, "this node's name (default: the hostname)");
    std::vector<std::string> ifaces;
    std::string can_reach;
    flag("iface", ifaces,
         "underlay interface; a comma list or repeated: the first that exists (default: the "
         "interface of the default route)")
        ->take_all()
        ->allow_extra_args(false);
    flag("iface-regex", o.underlay.iface_regex,
         "underlay: the first interface whose name matches (ECMAScript; after --iface)");
    flag("iface-can-reach", can_reach,
         "underlay: the interface of the route to this address (after --iface-regex)");
    flag("public-ip", public_ip, "underlay address peers reach this node at");
    flag("run-dir", o.run_dir, "runtime files: subnet.json, twilld.sock")->capture_default_str();
    flag("state-dir", o.state_dir, "state kept across restarts")->capture_default_str();
    flag("cni-data-dir", o.cni_data_dir, "the CNI plugin's dataDir (pod IPs in use)")
        ->capture_default_str();
    flag("metrics-addr", o.metrics_addr, "address of /metrics /healthz /readyz (empty: off)")
        ->capture_default_str();
    flag("resync-interval", resync, "periodic full resync (0: off)")->capture_default_str();
    flag("subnet-lease-ttl", ttl, "TTL of the subnet lease (at least 5s)")->capture_default_str();
    flag("log-level", o.log_level, "trace|debug|info|warn|error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
        ->capture_default_str();
    flag("log-format", o.log_format, "text|json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    flag("mtu", mtu, "pin the overlay MTU pods get (default: underlay MTU minus overhead)");
    app.add_flag("--dry-run", o.dry_run, "compute and report drift, change nothing")
        ->envname(env_name("dry-run"));
    app.add_option("--ip-masq", o.ip_masq,
                   "masquerade pod traffic leaving Network (false: no NAT, twill's table removed)")
        ->envname(env_name("ip-masq"))
        ->capture_default_str();
    flag("probe-interval", probe_interval,
         "probe every peer through the overlay at least this often (0: off)")
        ->capture_default_str();
    flag("probe-rate", o.probe_rate, "at most this many peer probes per second")
        ->capture_default_str();
    flag("cni-bin-dir", o.cni_bin_dir, "where the install step put the CNI plugin (--uninstall)")
        ->capture_default_str();
    flag("cni-conf-dir", o.cni_conf_dir,
         "where the install step put the CNI conflist (--uninstall)")
        ->capture_default_str();
    auto* join = app.add_flag("--join", o.join,
                              "remove the leave marker (<state-dir>/left) first, so a node that "
                              "left joins again")
                     ->envname(env_name("join"));
    app.add_flag("--uninstall", o.uninstall,
                 "remove every device, route, nftables table and file twill put on this node "
                 "(twilld stopped first), then exit; needs no etcd")
        ->envname(env_name("uninstall"))
        ->excludes(join);
    flag("wireguard-impl", o.wireguard_impl, "auto|kernel|userspace")
        ->check(CLI::IsMember({"auto", "kernel", "userspace"}))
        ->capture_default_str();

    try {
        app.parse(argc, argv);
        o.etcd_endpoints.clear();
        std::string_view rest = endpoints;
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            auto item = rest.substr(0, comma);
            if (!item.empty()) o.etcd_endpoints.emplace_back(item);
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        }
        if (o.etcd_endpoints.empty()) throw ParseError("--etcd-endpoints", "no endpoint given");
        o.underlay.ifaces = split_interface_names(ifaces);
        if (!o.underlay.iface_regex.empty()) {
            try {
                o.underlay.iface_pattern.emplace(o.underlay.iface_regex, std::regex::ECMAScript);
            } catch (const std::regex_error& e) {
                throw ParseError("--iface-regex", "\"" + o.underlay.iface_regex +
                                                      "\" is not a valid regular "
                                                      "expression: " +
                                                      e.what());
            }
        }
        if (!can_reach.empty())
            o.underlay.can_reach = net::Address::parse(can_reach, "--iface-can-reach");
        if (!public_ip.empty()) o.public_ip = net::Address::parse(public_ip, "--public-ip");
        o.resync_interval = parse_duration(resync, "--resync-interval");
        const auto ttl_ms = parse_duration(ttl, "--subnet-lease-ttl");
        if (ttl_ms.count() % 1000 != 0 || ttl_ms < std::chrono::seconds(5)) {
            throw ParseError("--subnet-lease-ttl",
                             "\"" + ttl + "\" must be whole seconds, at least 5s");
        }
        o.subnet_lease_ttl = std::chrono::duration_cast<std::chrono::seconds>(ttl_ms);
        o.probe_interval = parse_duration(probe_interval, "--probe-interval");
        if (o.probe_interval > std::chrono::hours(24)) {
            throw ParseError("--probe-interval", "\"" + probe_interval + "\" is more than 24h");
        }
        if (!(o.probe_rate > 0) || o.probe_rate > 100000) {
            throw ParseError("--probe-rate",
                             "\"" + std::to_string(o.probe_rate) +
                                 "\" must be more than 0 and at most 100000 probes per second");
        }
        if (!mtu.empty()) {
            int value = 0;
            auto [end, ec] = std::from_chars(mtu.data(), mtu.data() + mtu.size(), value);
            if (ec != std::errc{} || end != mtu.data() + mtu.size() || value < 576 ||
                value > 65535) {
                throw ParseError("--mtu", "\"" + mtu + "\" must be a number from 576 to 65535");
            }
            o.mtu = value;
        }
        if (o.node_name.empty()) o.node_name = hostname();
        if (o.etcd_prefix.empty() || o.etcd_prefix.front() != '/') {
            throw ParseError("--etcd-prefix", "\"" + o.etcd_prefix + "\" must start with /");
        }
        while (o.etcd_prefix.size() > 1 && o.etcd_prefix.back() == '/') o.etcd_prefix.pop_back();
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return {std::nullopt, code == 0 ? 0 : 2};
    } catch (const ParseError& e) {
        std::cerr << "twilld: " << e.what() << "\n";
        return {std::nullopt, 2};
    }
    return {o, 0};
}

}  // namespace twill::daemon
