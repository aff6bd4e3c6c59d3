#pragma once
// When the periodic resync runs. It is a safety net with no deadline of its own, and with
// thousands of peers it holds the loop for tens of milliseconds, so a lease change arriving
// meanwhile waits for it. A resync that falls due while lease changes are arriving (a burst
// of nodes joining or leaving) waits for a quiet moment instead, but never longer than
// `max_delay` past its due time. Kernel notifications still start full runs at once.
#include <algorithm>
#include <chrono>

namespace twill::daemon {

struct ResyncTiming {
    using Clock = std::chrono::steady_clock;
    std::chrono::milliseconds quiet{20};  // no lease change for this long
    std::chrono::milliseconds max_delay{5000};

    // How much longer a resync that fell due at `due` waits at `now`, a lease change having
    // last arrived, or a run having last finished applying some, at `last_change`: zero to
    // run now.
    Clock::duration wait(Clock::time_point due, Clock::time_point last_change,
                         Clock::time_point now) const {
        const auto deadline = due + max_delay;
        const auto quiet_from = last_change + quiet;
        if (now >= deadline || now >= quiet_from) return Clock::duration::zero();
        return std::min(quiet_from, deadline) - now;
    }
};

}  // namespace twill::daemon
