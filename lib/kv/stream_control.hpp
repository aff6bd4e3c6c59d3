#pragma once
// Stopping a stream thread (Watch, LeaseKeepAlive) from its owner: cancels the stream the
// thread waits on and wakes it from a backoff sleep.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace twill::kv::detail {

class StreamControl {
  public:
    void stop() {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        if (context_) context_->TryCancel();
        wake_.notify_all();
    }

    // Ends the stream running now without stopping the thread: it reconnects, on a fresh
    // channel (Connection::reset).
    void interrupt() {
        std::lock_guard lock(mutex_);
        if (context_) context_->TryCancel();
    }

    bool stopped() {
        std::lock_guard lock(mutex_);
        return stopping_;
    }

    // Sleeps for `duration`; false if stop() came first.
    template <class Duration>
    bool sleep_for(Duration duration) {
        std::unique_lock lock(mutex_);
        return !wake_.wait_for(lock, duration, [this] { return stopping_; });
    }

    // The stream's context, for stop() to cancel; false if stop() came first.
    bool attach(grpc::ClientContext* context) {
        std::lock_guard lock(mutex_);
        if (stopping_) return false;
        context_ = context;
        return true;
    }

    void detach() {
        std::lock_guard lock(mutex_);
        context_ = nullptr;
    }

  private:
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    grpc::ClientContext* context_ = nullptr;
};

// Stops the thread and joins it, or lets it finish on its own when the owner is destroyed
// from inside one of the thread's callbacks.
inline void stop_thread(StreamControl& control, std::thread& thread) {
    control.stop();
    if (!thread.joinable()) return;
    if (thread.get_id() == std::this_thread::get_id()) {
        thread.detach();
    } else {
        thread.join();
    }
}

}  // namespace twill::kv::detail
