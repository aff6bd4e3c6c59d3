#include "twill/kv/backoff.hpp"

#include <algorithm>
#include <random>

namespace twill {

namespace {
double uniform(double low, double high) {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    return std::uniform_real_distribution<double>(low, high)(engine);
}
}  // namespace

Backoff::Backoff() : Backoff(Options{}) {}

Backoff::Backoff(Options options)
    : options_(options), current_ms_(static_cast<double>(options.initial.count())) {}

std::chrono::milliseconds Backoff::next() {
    const double max_ms = static_cast<double>(options_.max.count());
    const double base = std::min(current_ms_, max_ms);
    const double jitter = std::clamp(options_.jitter, 0.0, 1.0);
    const double delay = uniform(base * (1.0 - jitter), base);
    current_ms_ = std::min(current_ms_ * options_.multiplier, max_ms);
    ++attempts_;
    return std::chrono::milliseconds(static_cast<std::int64_t>(delay));
}

void Backoff::reset() noexcept {
    current_ms_ = static_cast<double>(options_.initial.count());
    attempts_ = 0;
}

}  // namespace twill
