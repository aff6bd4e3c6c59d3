#pragma once
// A virtual cluster for twilld integration tests (DESIGN.md "Test topology"): a fabric, etcd
// in a namespace of its own on it, node namespaces each running the real twilld binary with
// its own run and state dirs. Everything is removed by the destructor, on failure too.
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "etcd_fixture.hpp"
#include "netns_topology.hpp"
#include "process_helpers.hpp"
#include "twill/netlink/handle.hpp"

namespace twill::testing {

class VirtualCluster {
  public:
    static constexpr const char* kPrefix = "/twill/network";
    static constexpr const char* kNetwork = "10.244.0.0/16";

    // `etcd_members` members each in a namespace of their own on the fabric ("etcd", "etcd2",
    // ...); every daemon is given all of them, the first one first.
    // A non-empty `ipv6_network` makes the network dual-stack (EnableIPv6, IPv6Network); an
    // IPv6 `network` makes it IPv6-only (EnableIPv4 false).
    explicit VirtualCluster(std::string backend_json = R"({"Type":"vxlan","VNI":1,"Port":8472})",
                            std::string network = kNetwork, std::size_t etcd_members = 1,
                            std::string ipv6_network = "");
    ~VirtualCluster();

    NetnsTopology& topology() { return topology_; }
    // The member the cluster's own etcdctl calls go through (the first one unless changed).
    EtcdServer& etcd() { return *etcd_[etcd_in_use_]; }
    EtcdServer& etcd_member(std::size_t index) { return *etcd_.at(index); }
    // The namespace name of member `index` ("etcd", "etcd2", ...).
    static std::string etcd_member_name(std::size_t index);
    // Sends the cluster's own etcdctl calls (put_lease, grant, ...) through member `index`:
    // a test that silences one member keeps writing through another.
    void use_etcd_member(std::size_t index);

    // Adds a node namespace (no daemon yet).
    const NetnsTopology::Node& add_node(const std::string& name);
    // Adds the nodes (unless added already), starts their daemons and waits until each is
    // ready; returns the subnets.
    std::map<std::string, net::Prefix> start_nodes(const std::vector<std::string>& names,
                                                   const std::vector<std::string>& flags = {});
    // Starts twilld on `name` with extra flags; does not wait.
    void start_daemon(const std::string& name, std::vector<std::string> extra_flags = {});
    // Environment ("NAME=value") for `name`'s next daemon starts.
    void set_daemon_environment(const std::string& name, std::vector<std::string> variables);
    // Runs twilld to completion inside `name`'s namespace with the flags its daemon gets plus
    // `extra_flags` (--uninstall, --help, ...).
    CommandResult run_twilld(const std::string& name, const std::vector<std::string>& extra_flags);
    // SIGTERM (data plane and lease stay) and wait; returns the exit status.
    int stop_daemon(const std::string& name);
    // SIGKILL (a crash).
    void kill_daemon(const std::string& name);
    bool daemon_running(const std::string& name);
    // Waits for <run-dir>/subnet.json; returns its subnet.
    net::Prefix wait_ready(const std::string& name,
                           std::chrono::seconds timeout = std::chrono::seconds(60));

    std::filesystem::path run_dir(const std::string& name) const;
    std::filesystem::path state_dir(const std::string& name) const;
    std::filesystem::path log_file(const std::string& name) const;
    std::string log(const std::string& name) const;
    // The log of every node a daemon ever ran on, for a failed test's output.
    void print_logs(std::ostream& out) const;
    netlink::Handle& handle(const std::string& name);
    const NetnsTopology::Node& node(const std::string& name) const { return topology_.node(name); }
    std::filesystem::path netns_path(const std::string& name) const;

    // Runs netctl for `name`'s daemon inside its namespace.
    CommandResult netctl(const std::string& name, const std::vector<std::string>& args);
    // Runs a command inside `name`'s namespace.
    CommandResult run_in(const std::string& name, const std::vector<std::string>& argv);

    // Writes a lease straight into etcd (no etcd lease attached unless given).
    void put_lease(const std::string& subnet, const std::string& public_ip, const std::string& mac,
                   const std::string& node, std::int64_t etcd_lease = 0);
    void delete_lease(const std::string& subnet);
    // Grants an etcd lease (TTL seconds) and returns its ID; revoking it deletes its keys.
    std::int64_t grant(int ttl_seconds);
    void revoke(std::int64_t etcd_lease);
    // Runs a shell script inside etcd's namespace with $ETCDCTL calling etcdctl on it.
    CommandResult etcd_script(const std::string& script);

    // A pod on `node`, made the way containerd makes one: a namespace of its own and the real
    // CNI plugin's ADD, with a config naming the node's run dir and its daemon's
    // --cni-data-dir. delete_pod (or the destructor) runs the plugin's DEL.
    struct Pod {
        std::string node;
        std::string name;  // also the container ID
        std::filesystem::path netns;
        net::Address ip;
        std::optional<net::Address> ipv6{};  // dual-stack
    };
    const Pod& add_pod(const std::string& node, const std::string& name);
    void delete_pod(const std::string& name);
    CommandResult run_in_pod(const std::string& name, const std::vector<std::string>& argv);

    // The wireguard-go a node's twilld started (WireGuard backend, userspace): it outlives
    // twilld by design, so the destructor ends it by the PID twilld recorded.
    std::optional<pid_t> wireguard_go_pid(const std::string& name) const;
    std::filesystem::path wireguard_socket(const std::string& name) const;

  private:
    NetnsTopology topology_;
    std::vector<std::unique_ptr<EtcdServer>> etcd_;
    std::size_t etcd_in_use_ = 0;
    std::filesystem::path work_dir_;
    std::map<std::string, std::unique_ptr<ChildProcess>> daemons_;
    std::map<std::string, std::vector<std::string>> flags_;
    std::map<std::string, std::vector<std::string>> environment_;
    std::set<std::string> started_;
    std::map<std::string, std::unique_ptr<netlink::Handle>> handles_;
    std::map<std::string, Pod> pods_;

    CommandResult run_plugin(const Pod& pod, const std::string& command);
    std::vector<std::string> twilld_argv(const std::string& name) const;
};

// Route, neighbour and FDB entries of a node that point at a given peer.
struct PeerEntries {
    bool route = false;
    bool neighbour = false;
    bool fdb = false;
    bool any() const { return route || neighbour || fdb; }
    bool all() const { return route && neighbour && fdb; }
};
// `device`: the overlay device the neighbour and FDB entries are on.
PeerEntries entries_for(netlink::Handle& handle, const net::Prefix& peer_subnet,
                        const std::optional<net::MacAddress>& mac = {},
                        const std::optional<net::Address>& public_ip = {},
                        const std::string& device = "twill.1");

}  // namespace twill::testing
