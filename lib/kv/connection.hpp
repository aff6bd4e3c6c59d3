#pragma once
// The channels to every etcd endpoint, which one calls go to first, and failover for unary
// calls. Shared by a Client and the watches and keep-alives it started.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "twill/kv/backoff.hpp"
#include "twill/kv/client.hpp"
#include "twill/kv/error.hpp"

namespace twill::kv::detail {

class StreamControl;

// One channel to an endpoint and its stubs. Calls and streams hold a shared_ptr for as long
// as they run, so that a channel can be replaced while others still use the old one.
struct Stubs {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch;
};

struct Endpoint {
    std::string address;  // host:port, as gRPC targets it and messages name it
    std::mutex mutex;
    std::shared_ptr<Stubs> stubs;
    // A call or stream failed here: replace the channel unless it is READY again. (gRPC's
    // channel can stay in TRANSIENT_FAILURE after the server is back; a fresh channel
    // connects at once, paced by twill's Backoff between attempts.)
    bool broken = false;
};

// What a failed attempt means for failover.
enum class Retry {
    // Reads: another endpoint may answer after UNAVAILABLE or a timeout.
    Idempotent,
    // Writes: only after UNAVAILABLE (the request most likely never reached etcd).
    OnlyIfUnavailable,
};

using Deadline = std::chrono::system_clock::time_point;

class Connection {
  public:
    explicit Connection(ClientOptions options);

    const ClientOptions& options() const noexcept { return options_; }
    std::size_t size() const noexcept { return endpoints_.size(); }
    const std::string& address(std::size_t index) const { return endpoints_[index]->address; }
    bool tls() const noexcept { return tls_; }

    // The endpoint to try first.
    std::size_t preferred() const noexcept { return preferred_.load(); }
    // `index` answered: it becomes the preferred endpoint.
    void succeeded(std::size_t index) noexcept;
    // `index` failed to connect or broke: the next endpoint becomes preferred, and the
    // reconnect counter goes up.
    void failed(std::size_t index) noexcept;

    // The stubs for a call or stream on `index`, after waiting up to dial_timeout (and at most
    // until `deadline`) for the channel to connect. They may be in TRANSIENT_FAILURE: a call
    // then fails fast with gRPC's own reason (refused, TLS, ...). nullptr, with `failure` set,
    // when the channel did not connect in time. `cancelled` (if given) ends the wait early.
    std::shared_ptr<Stubs> await_ready(std::size_t index, Deadline deadline, grpc::Status& failure,
                                       const std::function<bool()>& cancelled = {});

    // Runs `attempt(stubs, context)` (which returns the grpc::Status of one RPC) with
    // deadline and failover as client.hpp describes; throws the KvError of the last failure.
    // `cancelled` (a stream thread being stopped) ends waits and retries early, with CANCELLED.
    template <class Attempt>
    void call(std::string_view operation, std::string_view key, Retry retry, Attempt&& attempt,
              const std::function<bool()>& cancelled = {});

    // The error for a failed RPC, with a TLS hint where the failure looks like a mismatch.
    KvError error(std::string_view operation, std::string_view key, const grpc::Status& status,
                  std::size_t index) const;
    [[noreturn]] void throw_error(std::string_view operation, std::string_view key,
                                  const grpc::Status& status, std::size_t index) const;

    // Replaces every channel and ends every running stream so that it reconnects on the new
    // one: the node's own address changed, and a connection made from the old one may be a
    // black hole until its deadline (or TCP's) runs out.
    void reset();
    // Streams (watches, keep-alives) reset() ends; registered for as long as they run.
    void register_stream(StreamControl* control);
    void unregister_stream(StreamControl* control);

    std::uint64_t reconnects() const noexcept { return reconnects_.load(); }
    bool connected() const noexcept { return connected_.load(); }

  private:
    static bool retryable(const grpc::Status& status, Retry retry) noexcept;

    ClientOptions options_;
    bool tls_ = false;
    std::shared_ptr<Stubs> make_stubs(const std::string& address) const;

    std::shared_ptr<grpc::ChannelCredentials> credentials_;
    grpc::ChannelArguments channel_arguments_;
    std::vector<std::unique_ptr<Endpoint>> endpoints_;
    std::atomic<std::size_t> preferred_{0};
    std::mutex streams_mutex_;
    std::vector<StreamControl*> streams_;
    std::atomic<std::uint64_t> reconnects_{0};
    std::atomic<bool> connected_{false};
};

template <class Attempt>
void Connection::call(std::string_view operation, std::string_view key, Retry retry,
                      Attempt&& attempt, const std::function<bool()>& cancelled) {
    const Deadline deadline = std::chrono::system_clock::now() + options_.call_timeout;
    Backoff backoff;
    grpc::Status last_failure;
    std::size_t last_index = preferred();
    for (;;) {
        const std::size_t start = preferred();
        for (std::size_t i = 0; i < size(); ++i) {
            if (std::chrono::system_clock::now() >= deadline) break;
            const std::size_t index = (start + i) % size();
            if (cancelled && cancelled()) {
                throw_error(operation, key, grpc::Status(grpc::StatusCode::CANCELLED, "stopped"),
                            index);
            }
            grpc::Status status;
            if (auto stubs = await_ready(index, deadline, status, cancelled)) {
                grpc::ClientContext context;
                context.set_deadline(deadline);
                status = attempt(*stubs, context);
            }
            if (status.ok()) {
                succeeded(index);
                return;
            }
            last_failure = status;
            last_index = index;
            if (!retryable(status, retry)) {
                // etcd answered (with a refusal) unless the call timed out.
                if (status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) succeeded(index);
                throw_error(operation, key, status, index);
            }
            failed(index);
        }
        const auto pause_end =
            std::min<Deadline>(deadline, std::chrono::system_clock::now() + backoff.next());
        while (std::chrono::system_clock::now() < pause_end && !(cancelled && cancelled())) {
            std::this_thread::sleep_for(std::min<std::chrono::system_clock::duration>(
                std::chrono::milliseconds(50), pause_end - std::chrono::system_clock::now()));
        }
        if (std::chrono::system_clock::now() >= deadline) break;
    }
    if (last_failure.ok()) {
        last_failure = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "call timeout reached");
    }
    throw_error(operation, key, last_failure, last_index);
}

}  // namespace twill::kv::detail
