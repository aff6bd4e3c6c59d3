#include "virtual_cluster.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "twill/cni/node_subnet.hpp"
#include "twill/error.hpp"
#include "twill/reconcile/object_sets.hpp"
#include "twill/sys/file.hpp"

namespace twill::testing {

namespace fs = std::filesystem;

namespace {

std::string binary(const char* name) {
    const char* build = std::getenv("TWILL_BUILD_DIR");
    return std::string(build ? build : ".") + "/bin/" + name;
}
}  // namespace

VirtualCluster::VirtualCluster(std::string backend_json, std::string network,
                               std::size_t etcd_members, std::string ipv6_network) {
    work_dir_ = fs::temp_directory_path() / (topology_.prefix() + "cluster");
    fs::remove_all(work_dir_);
    fs::create_directories(work_dir_);
    std::vector<EtcdOptions> members;
    std::string initial_cluster;
    for (std::size_t i = 0; i < std::max<std::size_t>(etcd_members, 1); ++i) {
        const auto& etcd_node = topology_.add_node(etcd_member_name(i));
        auto options = etcd_on(etcd_node);
        options.name = etcd_member_name(i);
        options.wait_until_ready = false;
        initial_cluster +=
            (i == 0 ? "" : ",") + options.name + "=http://" + options.listen_address + ":2380";
        members.push_back(std::move(options));
    }
    for (auto& options : members) {
        options.initial_cluster = initial_cluster;
        etcd_.push_back(std::make_unique<EtcdServer>(options));
    }
    for (auto& member : etcd_) member->wait_until_ready();
    // The test process lives in the root namespace, which has no route to the fabric: it
    // reaches etcd with etcdctl run inside etcd's namespace.
    // An IPv6 `network` makes an IPv6-only network.
    std::string config = net::Prefix::parse(network).family() == net::Family::v6
                             ? R"({"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":")" +
                                   network + R"(","Backend":)" + backend_json
                             : std::string(R"({"Network":")") + network +
                                   R"(","SubnetLen":24,"Backend":)" + backend_json;
    if (!ipv6_network.empty()) {
        config += R"(,"EnableIPv6":true,"IPv6Network":")" + ipv6_network + "\"";
    }
    config += "}";
    etcd().etcdctl({"put", std::string(kPrefix) + "/config", config});
}

std::string VirtualCluster::etcd_member_name(std::size_t index) {
    return index == 0 ? "etcd" : "etcd" + std::to_string(index + 1);
}

void VirtualCluster::use_etcd_member(std::size_t index) {
    if (index >= etcd_.size()) throw Error("no etcd member " + std::to_string(index));
    etcd_in_use_ = index;
}

VirtualCluster::~VirtualCluster() {
    while (!pods_.empty()) {
        try {
            delete_pod(pods_.begin()->first);
        } catch (const std::exception&) {
            pods_.erase(pods_.begin());  // the namespaces go with the topology anyway
        }
    }
    handles_.clear();
    daemons_.clear();  // ChildProcess ends each daemon by PID
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(work_dir_, ec)) {
        if (!entry.is_directory(ec)) continue;  // node dirs only; tests keep other files here
        const auto name = entry.path().filename().string();
        if (const auto pid = wireguard_go_pid(name)) {
            ::kill(*pid, SIGKILL);
            eventually([&] { return !process_alive(*pid); }, std::chrono::seconds(5));
        }
    }
    etcd_.clear();
    fs::remove_all(work_dir_, ec);
}

const NetnsTopology::Node& VirtualCluster::add_node(const std::string& name) {
    const auto& node = topology_.add_node(name);
    fs::create_directories(work_dir_ / name);
    return node;
}

std::map<std::string, net::Prefix> VirtualCluster::start_nodes(
    const std::vector<std::string>& names, const std::vector<std::string>& flags) {
    for (const auto& n : names) {
        if (!topology_.has_node(n)) add_node(n);  // a test may have made and changed it first
        start_daemon(n, flags);
    }
    std::map<std::string, net::Prefix> subnets;
    for (const auto& n : names) subnets[n] = wait_ready(n);
    return subnets;
}

fs::path VirtualCluster::run_dir(const std::string& name) const {
    return work_dir_ / name / "run";
}
fs::path VirtualCluster::state_dir(const std::string& name) const {
    return work_dir_ / name / "state";
}
fs::path VirtualCluster::log_file(const std::string& name) const {
    return work_dir_ / name / "twilld.log";
}
fs::path VirtualCluster::netns_path(const std::string& name) const {
    return topology_.node(name).netns.path();
}

std::string VirtualCluster::log(const std::string& name) const {
    return sys::read_file(log_file(name)).value_or("(no log)");
}

void VirtualCluster::print_logs(std::ostream& out) const {
    for (const auto& name : started_) out << "---- twilld log of " << name << "\n" << log(name);
}

std::vector<std::string> VirtualCluster::twilld_argv(const std::string& name) const {
    std::string endpoints;
    for (std::size_t i = 0; i < etcd_.size(); ++i) {
        endpoints += (i == 0 ? "http://" : ",http://") +
                     topology_.node(etcd_member_name(i)).address().to_string() + ":2379";
    }
    return {binary("twilld"),
            "--etcd-endpoints",
            endpoints,
            "--node-name",
            name,
            "--run-dir",
            run_dir(name).string(),
            "--state-dir",
            state_dir(name).string(),
            "--cni-data-dir",
            (work_dir_ / name / "cni").string(),
            "--metrics-addr",
            "127.0.0.1:9474",
            "--iface",
            topology_.node(name).underlay_device,
            "--log-level",
            "debug"};
}

CommandResult VirtualCluster::run_twilld(const std::string& name,
                                         const std::vector<std::string>& extra_flags) {
    auto argv = twilld_argv(name);
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    return run_in(name, argv);
}

void VirtualCluster::start_daemon(const std::string& name, std::vector<std::string> extra_flags) {
    auto argv = twilld_argv(name);
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    if (const auto env = environment_.find(name);
        env != environment_.end() && !env->second.empty()) {
        std::vector<std::string> with_env{"/usr/bin/env"};
        with_env.insert(with_env.end(), env->second.begin(), env->second.end());
        argv.insert(argv.begin(), with_env.begin(), with_env.end());
    }
    SpawnOptions spawn;
    spawn.netns = netns_path(name);
    spawn.log_file = log_file(name);
    daemons_[name] = std::make_unique<ChildProcess>(argv, spawn);
    started_.insert(name);
}

void VirtualCluster::set_daemon_environment(const std::string& name,
                                            std::vector<std::string> variables) {
    environment_[name] = std::move(variables);
}

int VirtualCluster::stop_daemon(const std::string& name) {
    auto it = daemons_.find(name);
    if (it == daemons_.end()) return -1;
    const int status = it->second->stop(SIGTERM, std::chrono::seconds(20));
    daemons_.erase(it);
    return status;
}

void VirtualCluster::kill_daemon(const std::string& name) {
    auto it = daemons_.find(name);
    if (it == daemons_.end()) return;
    it->second->stop(SIGKILL);
    daemons_.erase(it);
}

bool VirtualCluster::daemon_running(const std::string& name) {
    auto it = daemons_.find(name);
    return it != daemons_.end() && it->second->running();
}

net::Prefix VirtualCluster::wait_ready(const std::string& name, std::chrono::seconds timeout) {
    std::optional<cni::NodeSubnet> subnet;
    eventually(
        [&] {
            subnet = cni::read_node_subnet(run_dir(name));
            return subnet.has_value() || !daemon_running(name);
        },
        timeout);
    if (!subnet) throw Error("twilld on " + name + " did not become ready; log:\n" + log(name));
    return subnet->subnet;
}

netlink::Handle& VirtualCluster::handle(const std::string& name) {
    auto& h = handles_[name];
    if (!h) h = std::make_unique<netlink::Handle>(topology_.node(name).netns.netns());
    return *h;
}

CommandResult VirtualCluster::run_in(const std::string& name,
                                     const std::vector<std::string>& argv) {
    SpawnOptions spawn;
    spawn.netns = netns_path(name);
    return run_command(argv, spawn);
}

CommandResult VirtualCluster::netctl(const std::string& name,
                                     const std::vector<std::string>& args) {
    std::vector<std::string> argv{binary("netctl"), "--run-dir", run_dir(name).string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_in(name, argv);
}

namespace {
std::string subnet_key(const std::string& subnet) {
    std::string name = subnet;
    name[name.find('/')] = '-';
    return std::string(VirtualCluster::kPrefix) + "/subnets/" + name;
}
}  // namespace

void VirtualCluster::put_lease(const std::string& subnet, const std::string& public_ip,
                               const std::string& mac, const std::string& node,
                               std::int64_t etcd_lease) {
    nlohmann::json value{{"PublicIP", public_ip},
                         {"Node", node},
                         {"BackendType", "vxlan"},
                         {"BackendData", {{"VtepMAC", mac}}}};
    std::vector<std::string> args{"put", subnet_key(subnet), value.dump()};
    if (etcd_lease != 0) {
        char hex[32];
        std::snprintf(hex, sizeof hex, "--lease=%llx", static_cast<unsigned long long>(etcd_lease));
        args.push_back(hex);
    }
    etcd().etcdctl(args);
}

std::int64_t VirtualCluster::grant(int ttl_seconds) {
    // "lease 694d7b3c1d2e4f10 granted with TTL(600s)"
    auto out = etcd().etcdctl({"lease", "grant", std::to_string(ttl_seconds)});
    const auto start = out.find("lease ") + 6;
    return static_cast<std::int64_t>(
        std::stoull(out.substr(start, out.find(' ', start) - start), nullptr, 16));
}

void VirtualCluster::revoke(std::int64_t etcd_lease) {
    char hex[32];
    std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(etcd_lease));
    etcd().etcdctl({"lease", "revoke", hex});
}

CommandResult VirtualCluster::etcd_script(const std::string& script) {
    const auto& etcd_node = topology_.node(etcd_member_name(etcd_in_use_));
    SpawnOptions spawn;
    spawn.netns = etcd_node.netns.path();
    spawn.env = {"ETCDCTL_API=3",
                 "ETCDCTL=etcdctl --endpoints http://" + etcd_node.address().to_string() + ":2379"};
    return run_command({"sh", "-c", script}, spawn, std::chrono::minutes(5));
}

std::filesystem::path VirtualCluster::wireguard_socket(const std::string& name) const {
    return run_dir(name) / "wireguard" / "twill-wg.sock";
}

std::optional<pid_t> VirtualCluster::wireguard_go_pid(const std::string& name) const {
    const auto pid_file = run_dir(name) / "wireguard" / "twill-wg.pid";
    std::error_code ec;
    if (!fs::is_regular_file(pid_file, ec)) return std::nullopt;
    const auto text = sys::read_file(pid_file);
    if (!text) return std::nullopt;
    const pid_t pid = static_cast<pid_t>(std::atoi(text->c_str()));
    const auto comm = sys::read_file("/proc/" + std::to_string(pid) + "/comm");
    if (pid <= 0 || !comm || !comm->starts_with("wireguard-go")) return std::nullopt;
    return pid;
}

CommandResult VirtualCluster::run_plugin(const Pod& pod, const std::string& command) {
    const auto config_path = work_dir_ / pod.node / ("cni-" + pod.name + ".json");
    if (!fs::exists(config_path)) {
        const nlohmann::json config{{"cniVersion", "1.0.0"},
                                    {"name", "twill"},
                                    {"type", "twill"},
                                    {"runDir", run_dir(pod.node).string()},
                                    {"dataDir", (work_dir_ / pod.node / "cni").string()}};
        sys::write_file_atomic(config_path, config.dump());
    }
    SpawnOptions spawn;
    spawn.netns = netns_path(pod.node);
    spawn.env = {"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + pod.name,
                 "CNI_NETNS=" + pod.netns.string(), "CNI_IFNAME=eth0", "CNI_PATH=/usr/lib/cni"};
    // The plugin reads its config from stdin, which run_command does not feed.
    return run_command(
        {"/bin/sh", "-c", "exec \"$0\" < \"$1\"", binary("twill"), config_path.string()}, spawn);
}

const VirtualCluster::Pod& VirtualCluster::add_pod(const std::string& node,
                                                   const std::string& name) {
    if (pods_.contains(name)) throw Error("pod " + name + " exists");
    Pod pod{node, name, topology_.add_namespace(name).path(), {}};
    const auto result = run_plugin(pod, "ADD");
    const auto json = nlohmann::json::parse(result.output, nullptr, false);
    if (result.exit_code != 0 || json.is_discarded() || !json.contains("ips") ||
        json["ips"].empty()) {
        run_plugin(pod, "DEL");
        throw Error("CNI ADD of pod " + name + " on " + node + " failed: " + result.output);
    }
    pod.ip = net::Prefix::parse(json["ips"][0]["address"].get<std::string>()).address();
    for (const auto& ip : json["ips"]) {
        const auto address = net::Prefix::parse(ip["address"].get<std::string>()).address();
        if (address.is_v6() && pod.ip.is_v4()) pod.ipv6 = address;
    }
    return pods_.emplace(name, pod).first->second;
}

void VirtualCluster::delete_pod(const std::string& name) {
    auto it = pods_.find(name);
    if (it == pods_.end()) return;
    const auto result = run_plugin(it->second, "DEL");
    pods_.erase(it);
    if (result.exit_code != 0) throw Error("CNI DEL of pod " + name + " failed: " + result.output);
}

CommandResult VirtualCluster::run_in_pod(const std::string& name,
                                         const std::vector<std::string>& argv) {
    SpawnOptions spawn;
    spawn.netns = pods_.at(name).netns;
    return run_command(argv, spawn);
}

void VirtualCluster::delete_lease(const std::string& subnet) {
    etcd().etcdctl({"del", subnet_key(subnet)});
}

PeerEntries entries_for(netlink::Handle& handle, const net::Prefix& peer_subnet,
                        const std::optional<net::MacAddress>& mac,
                        const std::optional<net::Address>& public_ip, const std::string& device) {
    PeerEntries entries;
    netlink::RouteFilter filter;
    filter.protocol = reconcile::twill_route_protocol;
    for (const auto& r : handle.dump_routes(filter)) {
        if (r.destination == peer_subnet) entries.route = true;
    }
    auto link = handle.find_link(device);
    if (!link) return entries;
    netlink::NeighbourFilter neighbours;
    neighbours.link_index = link->index;
    for (const auto& n : handle.dump_neighbours(neighbours)) {
        if (n.address == peer_subnet.first() && (!mac || n.lladdr == mac)) entries.neighbour = true;
    }
    for (const auto& f : handle.dump_fdb(link->index)) {
        if (!f.is_self()) continue;
        if ((mac && f.mac == *mac && (!public_ip || f.dst == public_ip)) ||
            (!mac && public_ip && f.dst == public_ip)) {
            entries.fdb = true;
        }
    }
    return entries;
}

}  // namespace twill::testing
