#include "twill/kv/backoff.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace twill {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, GrowsExponentiallyWithinJitterAndCapsAtMax) {
    Backoff backoff({.initial = milliseconds(100),
                     .max = milliseconds(2000),
                     .multiplier = 2.0,
                     .jitter = 0.5});
    double base = 100;
    for (int attempt = 0; attempt < 12; ++attempt) {
        const auto delay = backoff.next();
        EXPECT_GE(delay.count(), static_cast<long>(base * 0.5) - 1) << "attempt " << attempt;
        EXPECT_LE(delay.count(), static_cast<long>(base)) << "attempt " << attempt;
        EXPECT_LE(delay, milliseconds(2000));
        base = std::min(base * 2, 2000.0);
    }
    EXPECT_EQ(backoff.attempts(), 12u);
}

TEST(Backoff, ResetStartsOverFromInitial) {
    Backoff backoff(
        {.initial = milliseconds(50), .max = milliseconds(2000), .multiplier = 4.0, .jitter = 0.0});
    EXPECT_EQ(backoff.next(), milliseconds(50));
    EXPECT_EQ(backoff.next(), milliseconds(200));
    EXPECT_EQ(backoff.next(), milliseconds(800));
    EXPECT_EQ(backoff.next(), milliseconds(2000));
    EXPECT_EQ(backoff.next(), milliseconds(2000));
    backoff.reset();
    EXPECT_EQ(backoff.attempts(), 0u);
    EXPECT_EQ(backoff.next(), milliseconds(50));
}

TEST(Backoff, JitterSpreadsDelays) {
    Backoff::Options options{.initial = milliseconds(1000), .max = milliseconds(1000)};
    std::set<long> seen;
    for (int i = 0; i < 20; ++i) seen.insert(Backoff(options).next().count());
    EXPECT_GT(seen.size(), 1u) << "20 fresh backoffs drew the same delay: no jitter";
}

}  // namespace
}  // namespace twill
