#include "twill/kv/keep_alive.hpp"

#include <spdlog/spdlog.h>

#include "connection.hpp"
#include "stream_control.hpp"

namespace twill::kv {

namespace detail {

struct KeepAliveState {
    std::shared_ptr<Connection> connection;
    LeaseId id = 0;
    KeepAliveCallbacks callbacks;
    StreamControl control;
    std::atomic<bool> lost{false};
    std::atomic<std::int64_t> ttl{0};
};

namespace {

// etcd wants renewals well inside the TTL; a third leaves room for two lost rounds.
std::chrono::milliseconds renewal_interval(std::int64_t ttl_seconds) {
    return std::max(std::chrono::milliseconds(ttl_seconds * 1000 / 3),
                    std::chrono::milliseconds(500));
}

class KeepAliveLoop {
  public:
    explicit KeepAliveLoop(std::shared_ptr<KeepAliveState> state)
        : state_(std::move(state)), connection_(*state_->connection) {}

    void run() {
        const std::string name = "lease " + std::to_string(state_->id);
        while (!state_->control.stopped()) {
            const std::size_t index = connection_.preferred();
            const grpc::Status status = stream(index);
            if (state_->control.stopped() || state_->lost.load()) return;
            connection_.failed(index);
            const KvError error = connection_.error("lease keep-alive", name, status, index);
            spdlog::debug("{}", error.what());
            if (state_->callbacks.on_error) state_->callbacks.on_error(error);
            if (!state_->control.sleep_for(backoff_.next())) return;
        }
    }

  private:
    // Renews until the stream breaks (returns why), the lease is lost or stop().
    grpc::Status stream(std::size_t index) {
        grpc::Status failure;
        const auto stubs = connection_.await_ready(index, Deadline::max(), failure,
                                                   [this] { return state_->control.stopped(); });
        if (!stubs) return failure;
        grpc::ClientContext context;
        if (!state_->control.attach(&context)) return grpc::Status::OK;
        auto stream = stubs->lease->LeaseKeepAlive(&context);
        etcdserverpb::LeaseKeepAliveRequest request;
        request.set_id(state_->id);
        etcdserverpb::LeaseKeepAliveResponse response;
        bool ended_here = false;
        while (stream->Write(request) && stream->Read(&response)) {
            connection_.succeeded(index);
            backoff_.reset();
            if (response.ttl() <= 0) {
                state_->lost.store(true);
                ended_here = true;
                break;
            }
            state_->ttl.store(response.ttl());
            if (state_->control.stopped()) break;
            if (state_->callbacks.on_renewed) {
                state_->callbacks.on_renewed(state_->id, std::chrono::seconds(response.ttl()));
            }
            if (!state_->control.sleep_for(renewal_interval(response.ttl()))) {
                ended_here = true;
                break;
            }
        }
        if (ended_here) context.TryCancel();
        grpc::Status status = stream->Finish();
        state_->control.detach();
        if (state_->lost.load()) {
            spdlog::info("etcd lease {} expired or was revoked", state_->id);
            if (!state_->control.stopped() && state_->callbacks.on_lost)
                state_->callbacks.on_lost(state_->id);
            return grpc::Status::OK;
        }
        if (status.ok())
            status =
                grpc::Status(grpc::StatusCode::UNAVAILABLE, "keep-alive stream closed by etcd");
        return status;
    }

    std::shared_ptr<KeepAliveState> state_;
    Connection& connection_;
    Backoff backoff_;
};

}  // namespace
}  // namespace detail

LeaseKeepAlive::LeaseKeepAlive(std::shared_ptr<detail::Connection> connection, LeaseId id,
                               KeepAliveCallbacks callbacks)
    : state_(std::make_shared<detail::KeepAliveState>()) {
    state_->connection = std::move(connection);
    state_->id = id;
    state_->callbacks = std::move(callbacks);
    state_->connection->register_stream(&state_->control);
    thread_ = std::thread([state = state_] { detail::KeepAliveLoop(state).run(); });
}

LeaseKeepAlive::~LeaseKeepAlive() {
    state_->connection->unregister_stream(&state_->control);
    detail::stop_thread(state_->control, thread_);
}

LeaseId LeaseKeepAlive::id() const noexcept {
    return state_->id;
}

bool LeaseKeepAlive::lost() const noexcept {
    return state_->lost.load();
}

std::chrono::seconds LeaseKeepAlive::ttl() const noexcept {
    return std::chrono::seconds(state_->ttl.load());
}

}  // namespace twill::kv
