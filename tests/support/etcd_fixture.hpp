#pragma once
// A real etcd (Debian's etcd-server) for integration tests: unique free ports on loopback (or
// a given address inside a given network namespace), a temporary data dir, optionally TLS
// with certificates made by the openssl CLI. It can be stopped, killed and restarted on the
// same ports and data dir, and compacted. The destructor kills it (by PID) and removes its
// directory.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "netns_topology.hpp"
#include "twill/kv/client.hpp"

namespace twill::testing {

struct EtcdOptions {
    // Serve https:// only, with a test CA and server certificate (SAN: the listen address),
    // and require client certificates signed by that CA.
    bool tls = false;
    // Run inside this network namespace (/var/run/netns/<name>), listening on
    // `listen_address` there.
    std::optional<std::filesystem::path> netns{};
    std::string listen_address = "127.0.0.1";
    // Ports; 0 picks free ones (probed on loopback of the test's namespace).
    std::uint16_t client_port = 0;
    std::uint16_t peer_port = 0;
    std::chrono::milliseconds start_timeout{15000};
    // Member name and the cluster it starts in ("name=peer-url,..."; empty: alone). A member
    // of a cluster cannot answer before a quorum runs: start them all with
    // `wait_until_ready = false`, then call wait_until_ready() on each.
    std::string name = "twill-test";
    std::string initial_cluster{};
    bool wait_until_ready = true;
};

struct EtcdTlsFiles {
    std::filesystem::path ca_file{};
    std::filesystem::path server_cert{};
    std::filesystem::path server_key{};
    std::filesystem::path client_cert{};
    std::filesystem::path client_key{};
};

// Options for an etcd serving on `node` of a topology: inside its namespace, on its underlay
// address, client port 2379 and peer port 2380 (what the daemons of a test cluster dial).
EtcdOptions etcd_on(const NetnsTopology::Node& node);

// A TCP port on loopback that nothing listens on right now.
std::uint16_t free_tcp_port();

class EtcdServer {
  public:
    // Starts etcd and waits until it answers.
    explicit EtcdServer(EtcdOptions options = {});
    EtcdServer(const EtcdServer&) = delete;
    EtcdServer& operator=(const EtcdServer&) = delete;
    ~EtcdServer();

    // (Re)starts on the same ports and data dir and waits until it answers (unless the
    // options say not to wait).
    void start();
    void wait_until_ready();
    // SIGTERM and wait.
    void stop();
    // SIGKILL: a crash.
    void kill();
    bool running();

    // "127.0.0.1:port", or "https://127.0.0.1:port" with TLS.
    std::string endpoint() const;
    // "http://address:peer-port", what other members of a cluster name it by.
    std::string peer_url() const;
    // Options for a twill::kv::Client talking to this etcd (TLS files included).
    kv::ClientOptions client_options() const;
    const std::optional<EtcdTlsFiles>& tls_files() const noexcept { return tls_; }
    std::uint16_t client_port() const noexcept { return options_.client_port; }
    // The client port of the next start() (same data dir): lets a test run etcd where its
    // clients cannot reach it, e.g. to write and compact behind a watcher's back.
    void set_client_port(std::uint16_t port) noexcept { options_.client_port = port; }
    const std::filesystem::path& data_dir() const noexcept { return data_dir_; }
    // etcd's own log (stdout and stderr of every start).
    std::filesystem::path log_file() const { return work_dir_ / "etcd.log"; }

    // Runs etcdctl against this etcd (inside its namespace, with its certificates); throws
    // twill::Error with the output when it fails.
    std::string etcdctl(const std::vector<std::string>& arguments) const;
    // Compacts the history up to `revision` (physically).
    void compact(std::int64_t revision) const;
    // The store's current revision.
    std::int64_t current_revision() const;

  private:
    std::vector<std::string> command() const;
    void make_certificates();

    EtcdOptions options_;
    std::filesystem::path work_dir_;
    std::filesystem::path data_dir_;
    std::optional<EtcdTlsFiles> tls_;
    std::optional<ChildProcess> process_;
};

}  // namespace twill::testing
