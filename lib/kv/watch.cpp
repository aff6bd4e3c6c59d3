#include "twill/kv/watch.hpp"

#include <spdlog/spdlog.h>

#include "connection.hpp"
#include "convert.hpp"
#include "stream_control.hpp"

namespace twill::kv {

namespace detail {

struct WatchState {
    std::shared_ptr<Connection> connection;
    std::string key;
    WatchOptions options;
    WatchCallbacks callbacks;
    StreamControl control;
    std::atomic<Revision> revision{0};
    std::atomic<bool> connected{false};
};

namespace {

std::string describe(const WatchState& state) {
    return state.options.prefix ? state.key + " (prefix)" : state.key;
}

etcdserverpb::WatchRequest create_request(const WatchState& state, Revision start) {
    etcdserverpb::WatchRequest request;
    auto* create = request.mutable_create_request();
    if (state.options.prefix) {
        create->set_key(state.key.empty() ? std::string(1, '\0') : state.key);
        create->set_range_end(prefix_range_end(state.key));
    } else {
        create->set_key(state.key);
    }
    create->set_start_revision(start);
    create->set_prev_kv(state.options.prev_kv);
    create->set_progress_notify(state.options.progress_notify);
    return request;
}

class WatchLoop {
  public:
    explicit WatchLoop(std::shared_ptr<WatchState> state)
        : state_(std::move(state)), connection_(*state_->connection) {}

    void run() {
        next_ = state_->options.start_revision;
        need_snapshot_ = next_ == 0;
        while (!state_->control.stopped()) {
            if (need_snapshot_ && !snapshot()) {
                if (!state_->control.sleep_for(backoff_.next())) return;
                continue;
            }
            const std::size_t index = connection_.preferred();
            const grpc::Status status = stream(index);
            if (state_->control.stopped()) return;
            if (status.ok()) continue;  // compacted: relist at once
            connection_.failed(index);
            report(connection_.error("watch", describe(*state_), status, index));
            if (!state_->control.sleep_for(backoff_.next())) return;
        }
    }

  private:
    // Lists the key or prefix and delivers it as the new state; false after a failure.
    bool snapshot() {
        etcdserverpb::RangeResponse response;
        RangeOptions options;
        options.prefix = state_->options.prefix;
        const auto request = range_request(state_->key, options);
        try {
            connection_.call(
                "watch list", describe(*state_), Retry::Idempotent,
                [&](Stubs& endpoint, grpc::ClientContext& context) {
                    return endpoint.kv->Range(&context, request, &response);
                },
                [this] { return state_->control.stopped(); });
        } catch (const KvError& e) {
            if (!state_->control.stopped()) report(e);
            return false;
        }
        const RangeResult result = from_proto(response);
        if (state_->control.stopped()) return true;
        if (state_->callbacks.on_snapshot)
            state_->callbacks.on_snapshot(result.revision, result.kvs);
        state_->revision.store(result.revision);
        next_ = result.revision + 1;
        need_snapshot_ = false;
        return true;
    }

    // Runs one stream until it breaks. OK: ended on purpose (stop, or compaction: relist).
    grpc::Status stream(std::size_t index) {
        grpc::Status failure;
        const auto stubs = connection_.await_ready(index, Deadline::max(), failure,
                                                   [this] { return state_->control.stopped(); });
        if (!stubs) return failure;
        grpc::ClientContext context;
        if (!state_->control.attach(&context)) return grpc::Status::OK;
        auto stream = stubs->watch->Watch(&context);
        bool open = stream->Write(create_request(*state_, next_));
        std::optional<grpc::Status> ended;  // set when we end the stream ourselves
        etcdserverpb::WatchResponse response;
        while (open && !ended && stream->Read(&response)) {
            ended = handle(response, index);
        }
        state_->connected.store(false);
        if (ended) context.TryCancel();
        grpc::Status status = stream->Finish();
        state_->control.detach();
        if (ended) return *ended;
        if (status.ok())
            status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "watch stream closed by etcd");
        return status;
    }

    // Returns a status to end the stream with, or nullopt to keep reading.
    std::optional<grpc::Status> handle(const etcdserverpb::WatchResponse& response,
                                       std::size_t index) {
        if (response.created()) {
            state_->connected.store(true);
            connection_.succeeded(index);
            backoff_.reset();
        }
        if (response.compact_revision() > 0) {
            spdlog::info("etcd watch {}: revision {} compacted (oldest kept {}), relisting",
                         describe(*state_), next_, response.compact_revision());
            need_snapshot_ = true;
            return grpc::Status::OK;
        }
        if (response.canceled()) {
            return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                "watch canceled by etcd: " + response.cancel_reason());
        }
        if (state_->control.stopped()) return grpc::Status::OK;
        if (response.events_size() > 0) {
            std::vector<WatchEvent> events;
            events.reserve(static_cast<std::size_t>(response.events_size()));
            for (const auto& event : response.events()) events.push_back(from_proto(event));
            // The header revision may run ahead of the events when etcd splits a catch-up
            // into batches; the last event's revision is what has been delivered.
            const Revision delivered = events.back().kv.mod_revision;
            if (state_->callbacks.on_events) state_->callbacks.on_events(events, delivered);
            state_->revision.store(delivered);
            next_ = delivered + 1;
        } else if (!response.created()) {
            // A progress notification: etcd sends it only to a watcher that is in sync.
            const Revision revision = response.header().revision();
            if (revision >= next_) {
                next_ = revision + 1;
                state_->revision.store(revision);
            }
            if (state_->callbacks.on_progress) state_->callbacks.on_progress(revision);
        }
        return std::nullopt;
    }

    void report(const KvError& error) {
        spdlog::debug("{}", error.what());
        if (state_->callbacks.on_error && !state_->control.stopped())
            state_->callbacks.on_error(error);
    }

    std::shared_ptr<WatchState> state_;
    Connection& connection_;
    Backoff backoff_;
    Revision next_ = 0;
    bool need_snapshot_ = false;
};

}  // namespace
}  // namespace detail

Watch::Watch(std::shared_ptr<detail::Connection> connection, std::string key, WatchOptions options,
             WatchCallbacks callbacks)
    : state_(std::make_shared<detail::WatchState>()) {
    state_->connection = std::move(connection);
    state_->key = std::move(key);
    state_->options = options;
    state_->callbacks = std::move(callbacks);
    state_->connection->register_stream(&state_->control);
    thread_ = std::thread([state = state_] { detail::WatchLoop(state).run(); });
}

Watch::~Watch() {
    state_->connection->unregister_stream(&state_->control);
    detail::stop_thread(state_->control, thread_);
}

const std::string& Watch::key() const noexcept {
    return state_->key;
}

Revision Watch::revision() const noexcept {
    return state_->revision.load();
}

bool Watch::connected() const noexcept {
    return state_->connected.load();
}

}  // namespace twill::kv
