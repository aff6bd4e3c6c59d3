#pragma once
// etcd v3 client (KV, Lease, Watch) over gRPC.
//
// Calls are synchronous and thread-safe (one Client may be used from many threads). Every
// call has a deadline (`call_timeout`); within it, a call that fails with UNAVAILABLE or
// DEADLINE_EXCEEDED on one endpoint moves on to the next, and after a round over every
// endpoint waits (Backoff, capped at 2 s) and tries again, until the deadline; then it throws
// UnavailableError. Writes (put, delete, txn, lease grant/revoke) move on only after
// UNAVAILABLE, never after a timeout, so a write is not sent twice when etcd was merely slow.
// Construction does not connect: a Client for an unreachable etcd is valid and its calls
// fail (or its watches retry) until etcd comes back.
//
// Watches and keep-alives run on their own threads (see watch.hpp, keep_alive.hpp); they
// share the connections with the Client and may outlive it.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twill/kv/error.hpp"
#include "twill/kv/keep_alive.hpp"
#include "twill/kv/types.hpp"
#include "twill/kv/watch.hpp"

namespace twill::kv {

struct TlsOptions {
    std::filesystem::path ca_file{};    // PEM CA bundle to verify etcd; empty: system roots
    std::filesystem::path cert_file{};  // PEM client certificate; empty: no client auth
    std::filesystem::path key_file{};   // PEM private key of cert_file
};

struct ClientOptions {
    // "host:port", "http://host:port" or "https://host:port" ("[v6addr]:port" for IPv6).
    // https:// (or `tls` being set) means TLS; http:// together with `tls` is an error.
    std::vector<std::string> endpoints{};
    std::optional<TlsOptions> tls{};
    std::chrono::milliseconds dial_timeout{2000};  // per endpoint attempt to connect
    std::chrono::milliseconds call_timeout{5000};  // whole call, failover included

    // Splits a comma list ("https://10.0.0.1:2379,https://10.0.0.2:2379"), as the
    // --etcd-endpoints flag takes it.
    static std::vector<std::string> parse_endpoints(std::string_view comma_list);
};

class Client {
  public:
    // Validates the options (ParseError naming the field: an empty or malformed endpoint, an
    // unreadable TLS file) and prepares one channel per endpoint; does not connect.
    explicit Client(ClientOptions options);
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    ~Client();

    // --- KV ---
    RangeResult range(std::string_view key, const RangeOptions& options = {});
    // One key, or nullopt if absent.
    std::optional<KeyValue> get(std::string_view key);
    PutResult put(std::string_view key, std::string_view value, const PutOptions& options = {});
    DeleteResult delete_range(std::string_view key, const DeleteOptions& options = {});
    TxnResult txn(const Txn& txn);
    // Compacts the history up to `revision` (tests, maintenance); returns the header revision.
    Revision compact(Revision revision, bool physical = true);

    // --- Lease ---
    // `id` 0 lets etcd choose. Throws KvError if etcd refuses (e.g. the id is in use).
    LeaseGrant lease_grant(std::chrono::seconds ttl, LeaseId id = 0);
    // Revokes the lease and deletes its keys; LeaseNotFoundError if it does not exist.
    void lease_revoke(LeaseId id);
    // nullopt if the lease does not exist (expired, revoked).
    std::optional<LeaseStatus> lease_time_to_live(LeaseId id, bool keys = false);
    // Starts keeping `id` alive (see keep_alive.hpp). The first keep-alive is sent at once.
    std::unique_ptr<LeaseKeepAlive> keep_alive(LeaseId id, KeepAliveCallbacks callbacks);

    // --- Watch ---
    std::unique_ptr<Watch> watch(std::string key, WatchOptions options, WatchCallbacks callbacks);

    // Drops every connection and reconnects at once (streams included): for a node whose own
    // address changed, where connections made from the old address may silently go nowhere.
    void reconnect();

    // --- State (for metrics and status) ---
    // Times a call or stream had to go to another endpoint or reconnect after a failure.
    std::uint64_t reconnects() const noexcept;
    // Whether the last call or stream attempt on any endpoint reached etcd.
    bool connected() const noexcept;
    // The endpoint calls go to first (the last one that answered).
    std::string current_endpoint() const;
    const ClientOptions& options() const noexcept;

  private:
    std::shared_ptr<detail::Connection> connection_;
};

}  // namespace twill::kv
