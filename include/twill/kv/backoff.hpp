#pragma once
// The one retry backoff of the code base: jittered exponential backoff, capped (DESIGN.md
// principle 5: "reconnects with jittered backoff capped at 2 s"). Used by the etcd client for
// reconnects and failover rounds; the daemon reuses it for its own retry loops.
#include <chrono>
#include <cstdint>

namespace twill {

class Backoff {
  public:
    struct Options {
        std::chrono::milliseconds initial{100};
        std::chrono::milliseconds max{2000};
        double multiplier = 2.0;
        // Each delay is drawn uniformly from [(1 - jitter) * d, d], so that many clients
        // that lost the same server do not come back in lockstep.
        double jitter = 0.5;
    };

    Backoff();
    explicit Backoff(Options options);

    // The delay before the next attempt; grows by `multiplier` up to `max`.
    std::chrono::milliseconds next();
    // After a success: the next delay starts from `initial` again.
    void reset() noexcept;
    // Attempts (calls of next()) since construction or the last reset().
    std::uint32_t attempts() const noexcept { return attempts_; }
    const Options& options() const noexcept { return options_; }

  private:
    Options options_;
    double current_ms_;
    std::uint32_t attempts_ = 0;
};

}  // namespace twill
