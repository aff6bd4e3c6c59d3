#include "resync_timing.hpp"

#include <gtest/gtest.h>

namespace twill::daemon {
namespace {

using namespace std::chrono_literals;
using Clock = ResyncTiming::Clock;

TEST(ResyncTiming, RunsAtOnceWhenNoLeaseChangedLately) {
    const ResyncTiming timing;
    const Clock::time_point due{1000s};
    EXPECT_EQ(timing.wait(due, due - 1s, due), Clock::duration::zero());
    EXPECT_EQ(timing.wait(due, due - 20ms, due), Clock::duration::zero());
    // A resync is never held by a change that came before the daemon started (epoch).
    EXPECT_EQ(timing.wait(due, Clock::time_point{}, due), Clock::duration::zero());
}

TEST(ResyncTiming, WaitsForAQuietMomentDuringABurst) {
    const ResyncTiming timing;
    const Clock::time_point due{1000s};
    // A change 5 ms ago: 15 ms more of quiet.
    EXPECT_EQ(timing.wait(due, due - 5ms, due), 15ms);
    // Changes keep arriving: each look waits for quiet after the latest.
    EXPECT_EQ(timing.wait(due, due + 100ms, due + 101ms), 19ms);
}

TEST(ResyncTiming, NeverLaterThanItsMaximumDelay) {
    ResyncTiming timing;
    timing.max_delay = 1s;
    const Clock::time_point due{1000s};
    // Changes every millisecond for ever: the resync runs 1 s after it fell due.
    EXPECT_EQ(timing.wait(due, due + 990ms, due + 990ms), 10ms);
    EXPECT_EQ(timing.wait(due, due + 1000ms, due + 1000ms), Clock::duration::zero());
    EXPECT_EQ(timing.wait(due, due + 2s, due + 2s), Clock::duration::zero());
}

}  // namespace
}  // namespace twill::daemon
