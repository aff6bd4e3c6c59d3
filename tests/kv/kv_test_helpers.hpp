#pragma once
#include <chrono>
#include <functional>
#include <thread>

namespace twill::kv::testing {

// Polls `condition` until it holds or `timeout` passes (sanitizer builds are slow, so
// timeouts are generous; a test never asserts on how fast something happened).
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return condition();
}

}  // namespace twill::kv::testing
