// The probe schedule and health rules over a fake clock.
#include "twill/probe/prober.hpp"

#include <gtest/gtest.h>

#include "twill/error.hpp"

namespace twill::probe {
namespace {

using namespace std::chrono_literals;

Target target(int n) {
    // n's gateway: 10.0.0.1 + n * 256.
    const auto gateway = net::Address::v4(0x0a000001U + (static_cast<std::uint32_t>(n) << 8));
    return Target{net::Prefix(gateway.masked(24), 24), "n" + std::to_string(n), gateway};
}

std::vector<Target> targets(int count) {
    std::vector<Target> result;
    for (int i = 1; i <= count; ++i) result.push_back(target(i));
    return result;
}

ProbeOptions options(std::chrono::milliseconds interval, double rate = 200) {
    ProbeOptions o;
    o.interval = interval;
    o.rate = rate;
    return o;
}

const PeerHealth& health(const Prober& prober, const Key& key) {
    const auto* found = prober.find(key);
    if (!found) throw std::out_of_range("no peer " + key.to_string());
    return *found;
}

class ProberTest : public ::testing::Test {
  protected:
    // Runs the prober from now_ to `until` the way twilld's loop does: wake, expire, send;
    // `answer` decides which probes get a reply after `rtt`.
    void run_until(Prober& prober, TimePoint until, const std::function<bool(const Probe&)>& answer,
                   std::chrono::microseconds rtt = 300us) {
        struct InFlight {
            TimePoint at;
            Probe probe;
        };
        std::vector<InFlight> replies;
        while (now_ < until) {
            prober.expire(now_);
            for (const auto& probe : prober.take_due(now_)) {
                sent_.push_back({now_, probe});
                if (answer(probe)) replies.push_back({now_ + rtt, probe});
            }
            auto next = std::min(prober.next_wakeup(now_), until);
            for (const auto& r : replies) next = std::min(next, r.at);
            if (next <= now_) next = now_ + 1ms;
            now_ = next;
            std::erase_if(replies, [&](const InFlight& r) {
                if (r.at > now_) return false;
                prober.on_reply(r.probe.token, r.probe.address, now_);
                return true;
            });
        }
    }
    std::size_t sent_to(const net::Address& address, TimePoint from, TimePoint to) const {
        std::size_t n = 0;
        for (const auto& [at, probe] : sent_)
            n += probe.address == address && at >= from && at < to;
        return n;
    }

    TimePoint start_ = TimePoint{} + 1h;
    TimePoint now_ = start_;
    std::vector<std::pair<TimePoint, Probe>> sent_;
};

TEST_F(ProberTest, NewPeersAreProbedAtOnceThenOncePerIntervalSpreadOverIt) {
    Prober prober(options(10s));
    prober.set_targets(targets(10), now_);
    run_until(prober, start_ + 100ms, [](const Probe&) { return true; });
    EXPECT_EQ(sent_.size(), 10U);
    EXPECT_EQ(prober.summary().reachable, 10U);
    for (int i = 1; i <= 10; ++i) {
        const auto& h = health(prober, target(i).key);
        ASSERT_TRUE(h.last_rtt) << i;
        EXPECT_EQ(*h.last_rtt, 300us);
        EXPECT_EQ(h.rtt_history(), std::vector<Microseconds>{300us});
    }

    sent_.clear();
    run_until(prober, start_ + 60s, [](const Probe&) { return true; });
    // Each peer once per 10 s on its phase (plus the probe right after start).
    for (int i = 1; i <= 10; ++i) {
        const auto n = sent_to(target(i).address, start_, start_ + 60s);
        EXPECT_GE(n, 6U) << i;
        EXPECT_LE(n, 7U) << i;
        std::vector<TimePoint> at;
        for (const auto& [t, probe] : sent_)
            if (probe.address == target(i).address) at.push_back(t);
        for (std::size_t k = 1; k < at.size(); ++k) EXPECT_LE(at[k] - at[k - 1], 10s) << i;
    }
    // Spread: no two periodic probes closer than a fifth of the even spacing (1 s).
    std::vector<TimePoint> times;
    for (const auto& [at, probe] : sent_) times.push_back(at);
    std::sort(times.begin(), times.end());
    for (std::size_t i = 1; i < times.size(); ++i) EXPECT_GE(times[i] - times[i - 1], 200ms);
}

TEST_F(ProberTest, NeverExceedsTheRateAndStretchesTheIntervalWhenPeersOutnumberIt) {
    Prober prober(options(1s, 50));
    prober.set_targets(targets(200), now_);
    const auto summary = prober.summary();
    EXPECT_TRUE(summary.stretched);
    EXPECT_EQ(summary.effective_interval, 4s);  // 200 peers at 50/s
    run_until(prober, start_ + 20s, [](const Probe&) { return true; });
    // At most rate * window + the bucket (one probe at 50/s) in any 1 s window.
    for (auto from = start_; from + 1s <= start_ + 20s; from += 250ms) {
        std::size_t n = 0;
        for (const auto& [at, probe] : sent_) n += at >= from && at < from + 1s;
        EXPECT_LE(n, 51U);
    }
    EXPECT_GE(sent_.size(), 950U);  // and it does use the rate
    for (int i = 1; i <= 200; ++i) EXPECT_GE(sent_to(target(i).address, start_, start_ + 20s), 4U);
}

TEST_F(ProberTest, APeerWhoseProbesAreLostIsRetriedThenUnreachableThenBackOnFirstReply) {
    Prober prober(options(4s));
    EXPECT_EQ(prober.timeout(), 1s);
    prober.set_targets(targets(3), now_);
    bool dropping = false;
    const auto dead = target(2).address;
    auto answer = [&](const Probe& p) { return !(dropping && p.address == dead); };
    run_until(prober, start_ + 5s, answer);
    EXPECT_EQ(prober.summary().reachable, 3U);

    dropping = true;
    const auto dropped_at = now_;
    run_until(prober, dropped_at + 8s, answer);  // two intervals
    const auto& dead_health = health(prober, target(2).key);
    EXPECT_EQ(dead_health.state, Reachability::unreachable);
    EXPECT_GE(dead_health.consecutive_losses, 3U);
    ASSERT_TRUE(dead_health.unreachable_since);
    EXPECT_GE(*dead_health.unreachable_since, dropped_at);
    EXPECT_EQ(prober.summary().unreachable, 1U);
    EXPECT_EQ(prober.summary().reachable, 2U);
    EXPECT_EQ(prober.lost_total(), dead_health.lost);
    // Unreachable: probed on its period only, never retried in a burst.
    const auto before = sent_to(dead, dropped_at, now_);
    run_until(prober, now_ + 8s, answer);
    EXPECT_LE(sent_to(dead, now_ - 8s, now_), 3U);
    EXPECT_GE(before, 3U);

    dropping = false;
    const auto restored_at = now_;
    run_until(prober, restored_at + 4s + prober.timeout(), answer);  // one interval
    EXPECT_EQ(health(prober, target(2).key).state, Reachability::reachable);
    EXPECT_FALSE(health(prober, target(2).key).unreachable_since);
}

TEST_F(ProberTest, OneLostProbeDoesNotMakeAPeerUnreachable) {
    Prober prober(options(4s));
    prober.set_targets(targets(1), now_);
    int drop = 0;
    run_until(prober, start_ + 5s, [](const Probe&) { return true; });
    drop = 1;
    run_until(prober, now_ + 10s, [&](const Probe&) { return drop-- <= 0; });
    const auto& one = health(prober, target(1).key);
    EXPECT_EQ(one.state, Reachability::reachable);
    EXPECT_EQ(one.lost, 1U);
    EXPECT_EQ(one.consecutive_losses, 0U);
}

TEST_F(ProberTest, ANewPeerGoesToTheFrontOfTheQueue) {
    Prober prober(options(30s, 100));
    prober.set_targets(targets(1000), now_);  // 10 s of probes at 100/s ahead
    run_until(prober, start_ + 1s, [](const Probe&) { return true; });
    auto all = targets(1000);
    all.push_back(target(1001));
    prober.set_targets(all, now_);
    const auto added_at = now_;
    run_until(prober, added_at + 1s, [](const Probe&) { return true; });
    EXPECT_EQ(health(prober, target(1001).key).state, Reachability::reachable);
    EXPECT_LE(*health(prober, target(1001).key).last_success - added_at, 50ms);
}

TEST_F(ProberTest, APeerThatLeavesLeavesTheTableAndItsLateReplyIsIgnored) {
    Prober prober(options(4s));
    prober.set_targets(targets(2), now_);
    const auto probes = prober.take_due(now_);
    ASSERT_EQ(probes.size(), 2U);
    prober.set_targets({target(1)}, now_);
    EXPECT_EQ(prober.size(), 1U);
    for (const auto& p : probes) prober.on_reply(p.token, p.address, now_ + 1ms);
    EXPECT_EQ(prober.summary().reachable, 1U);
    EXPECT_EQ(prober.summary().peers, 1U);
    EXPECT_EQ(prober.expire(now_ + 1h), 0U);
}

TEST_F(ProberTest, AReplyFromAnotherAddressOrWithAnUnknownTokenCountsForNothing) {
    Prober prober(options(4s));
    prober.set_targets(targets(1), now_);
    const auto probes = prober.take_due(now_);
    ASSERT_EQ(probes.size(), 1U);
    EXPECT_FALSE(prober.on_reply(probes[0].token, net::Address::parse("10.9.9.9"), now_ + 1ms));
    EXPECT_FALSE(prober.on_reply(probes[0].token + 100, probes[0].address, now_ + 1ms));
    EXPECT_EQ(prober.summary().reachable, 0U);
    EXPECT_TRUE(prober.on_reply(probes[0].token, probes[0].address, now_ + 2ms));
    EXPECT_EQ(prober.summary().reachable, 1U);
}

TEST_F(ProberTest, ARoundProbesEveryPeerWithRetriesAndReportsEach) {
    Prober prober(options(30s));
    prober.set_targets(targets(50), now_);
    run_until(prober, start_ + 1s, [](const Probe&) { return true; });
    const auto dead = target(7).address;
    sent_.clear();
    const auto round = prober.start_round(now_);
    EXPECT_FALSE(prober.take_round(round));
    const auto started = now_;
    std::optional<std::map<Key, RoundOutcome>> outcome;
    while (!(outcome = prober.take_round(round))) {
        run_until(prober, now_ + 10ms, [&](const Probe& p) { return p.address != dead; });
        ASSERT_LT(now_ - started, 10s);
    }
    ASSERT_EQ(outcome->size(), 50U);
    for (const auto& [key, o] : *outcome) {
        if (o.address == dead) {
            EXPECT_FALSE(o.reachable);
            EXPECT_EQ(o.attempts, 3);
            EXPECT_EQ(o.node, "n7");
        } else {
            EXPECT_TRUE(o.reachable) << key.to_string();
            EXPECT_EQ(o.attempts, 1);
            EXPECT_TRUE(o.rtt);
        }
    }
    // 50 probes at 1000/s plus three timeouts of the dead one, not 50 x 30 s intervals.
    EXPECT_LT(now_ - started, 4s);
    EXPECT_EQ(health(prober, target(7).key).state, Reachability::unreachable);
}

TEST_F(ProberTest, ARoundWithoutPeersIsDoneAtOnce) {
    Prober prober(ProbeOptions{});
    const auto round = prober.start_round(now_);
    const auto outcome = prober.take_round(round);
    ASSERT_TRUE(outcome);
    EXPECT_TRUE(outcome->empty());
}

TEST_F(ProberTest, AChangedAddressIsANewPeer) {
    Prober prober(options(4s));
    prober.set_targets(targets(1), now_);
    run_until(prober, start_ + 1s, [](const Probe&) { return true; });
    auto moved = target(1);
    moved.address = net::Address::parse("10.244.1.9");
    prober.set_targets({moved}, now_);
    EXPECT_EQ(health(prober, moved.key).state, Reachability::unknown);
    EXPECT_EQ(prober.summary().reachable, 0U);
}

TEST_F(ProberTest, KeepsTheLastEightRtts) {
    PeerHealth h;
    for (int i = 1; i <= 11; ++i) h.record_rtt(Microseconds(i));
    std::vector<Microseconds> want;
    for (int i = 4; i <= 11; ++i) want.push_back(Microseconds(i));
    EXPECT_EQ(h.rtt_history(), want);
    EXPECT_EQ(*h.last_rtt, Microseconds(11));
}

TEST_F(ProberTest, TargetsInAnyOrderGiveTheSameTable) {
    Prober prober(options(4s));
    auto all = targets(20);
    std::reverse(all.begin(), all.end());
    prober.set_targets(all, now_);
    EXPECT_EQ(prober.size(), 20U);
    for (int i = 1; i <= 20; ++i) EXPECT_NE(prober.find(target(i).key), nullptr);
    // Unchanged targets change nothing: no peer is queued again.
    const auto first = prober.take_due(now_);
    EXPECT_EQ(first.size(), 4U);  // the bucket: 20 ms at 200/s
    for (const auto& p : first) prober.on_reply(p.token, p.address, now_ + 1ms);
    prober.set_targets(targets(20), now_);
    // 100 ms: the first periodic phase is 4 s / 21 = 190 ms.
    run_until(prober, now_ + 100ms, [](const Probe&) { return true; });
    EXPECT_EQ(prober.summary().reachable, 20U);
    std::size_t sent = 0;
    for (int i = 1; i <= 20; ++i) sent += health(prober, target(i).key).sent;
    EXPECT_EQ(sent, 20U);
    // Another node on the same subnet (the old one left, a new one took the freed subnet)
    // is a new peer: none of the old one's health carries over, and it is probed at once.
    auto taken_over = targets(20);
    taken_over[0].node = "newcomer";
    prober.set_targets(taken_over, now_);
    const auto& newcomer = health(prober, target(1).key);
    EXPECT_EQ(newcomer.node, "newcomer");
    EXPECT_EQ(newcomer.state, Reachability::unknown);
    EXPECT_FALSE(newcomer.last_success);
    EXPECT_EQ(newcomer.sent, 0U);
    const auto due = prober.take_due(now_ + 20ms);
    ASSERT_FALSE(due.empty());
    EXPECT_EQ(due.front().address, target(1).address);
}

TEST_F(ProberTest, APeerRemovedAndReaddedDuringARoundIsSkippedByIt) {
    Prober prober(options(30s));
    prober.set_targets(targets(3), now_);
    run_until(prober, start_ + 1s, [](const Probe&) { return true; });
    const auto round = prober.start_round(now_);
    prober.set_targets({target(1), target(3)}, now_);  // 2 leaves before the round reaches it
    prober.set_targets(targets(3), now_);              // and comes back
    std::optional<std::map<Key, RoundOutcome>> outcome;
    const auto started = now_;
    while (!(outcome = prober.take_round(round))) {
        run_until(prober, now_ + 10ms, [](const Probe&) { return true; });
        ASSERT_LT(now_ - started, 10s);
    }
    EXPECT_EQ(outcome->size(), 2U);
    EXPECT_FALSE(outcome->contains(target(2).key));
    EXPECT_EQ(prober.summary().reachable, 3U);
}

TEST_F(ProberTest, AReplyReceivedBeforeTheTimeoutCountsEvenWhenReadAfterIt) {
    Prober prober(options(4s));
    prober.set_targets(targets(1), now_);
    const auto probes = prober.take_due(now_);
    ASSERT_EQ(probes.size(), 1U);
    // The loop was busy for 2 s; the kernel stamped the reply 300 us after the send.
    EXPECT_EQ(prober.on_reply(probes[0].token, probes[0].address, now_ + 300us), 300us);
    EXPECT_EQ(prober.expire(now_ + 2s), 0U);
    EXPECT_EQ(health(prober, target(1).key).state, Reachability::reachable);
}

TEST_F(ProberTest, IdleProberSleeps) {
    Prober prober(ProbeOptions{});
    EXPECT_EQ(prober.next_wakeup(now_), TimePoint::max());
    EXPECT_TRUE(prober.take_due(now_).empty());
}

TEST_F(ProberTest, BadOptionsNameTheField) {
    try {
        Prober prober(options(0s));
        FAIL();
    } catch (const ParseError& e) {
        EXPECT_NE(std::string(e.what()).find("--probe-interval"), std::string::npos) << e.what();
    }
    try {
        Prober prober(options(30s, 0));
        FAIL();
    } catch (const ParseError& e) {
        EXPECT_NE(std::string(e.what()).find("--probe-rate"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace twill::probe

namespace {

// A reply stamped before its probe was sent (the kernel's realtime stamp carried over to the
// steady clock during a clock adjustment) still counts, with the smallest possible RTT.
TEST(Prober, AReplyStampedBeforeTheSendHasAPositiveRtt) {
    twill::probe::ProbeOptions options;
    options.interval = std::chrono::seconds(2);
    twill::probe::Prober prober(options);
    const auto key = twill::net::Prefix::parse("10.244.1.0/24");
    const auto gateway = twill::net::Address::parse("10.244.1.1");
    const auto start = twill::probe::Clock::now();
    prober.set_targets({{key, "b", gateway}}, start);
    const auto probes = prober.take_due(start);
    ASSERT_EQ(probes.size(), 1u);
    const auto rtt =
        prober.on_reply(probes[0].token, gateway, start - std::chrono::microseconds(400));
    ASSERT_TRUE(rtt);
    EXPECT_GT(rtt->count(), 0);
}

}  // namespace
