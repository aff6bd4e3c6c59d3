// EchoSocket against a real kernel: two namespaces on the test fabric.
#include <gtest/gtest.h>
#include <poll.h>

#include "netns_topology.hpp"
#include "require_root.hpp"
#include "twill/probe/echo_socket.hpp"
#include "twill/probe/prober.hpp"

namespace twill::probe {
namespace {

using namespace std::chrono_literals;

class EchoSocketNetns : public ::testing::Test {
  protected:
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        topology_.emplace();
        topology_->add_node("a");
        topology_->add_node("b");
    }
    std::optional<testing::NetnsTopology> topology_;
};

// Drives a Prober over a real socket until `until`, the way twilld's loop does.
void drive(Prober& prober, EchoSocket& socket, TimePoint until) {
    while (Clock::now() < until) {
        const auto now = Clock::now();
        prober.expire(now);
        for (const auto& probe : prober.take_due(now)) socket.send(probe.address, probe.token);
        const auto wake = std::min(prober.next_wakeup(Clock::now()), until);
        const auto wait =
            std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now());
        pollfd pfd{socket.fd(), POLLIN, 0};
        ::poll(&pfd, 1, static_cast<int>(std::clamp<std::int64_t>(wait.count(), 0, 100)));
        socket.receive([&](const EchoReply& r) { prober.on_reply(r.token, r.from, r.received); });
    }
}

// Until one echo to `to` has come back: a fabric just made may still be bringing its links up
// and resolving neighbours, and a probe lost to that is not what these tests measure.
bool path_answers(EchoSocket& socket, net::Address to) {
    constexpr std::uint64_t warm_up_token = 0xfeed;
    bool answered = false;
    const auto deadline = Clock::now() + 10s;
    while (!answered && Clock::now() < deadline) {
        socket.send(to, warm_up_token);
        pollfd pfd{socket.fd(), POLLIN, 0};
        ::poll(&pfd, 1, 200);
        socket.receive(
            [&](const EchoReply& r) { answered = answered || r.token == warm_up_token; });
    }
    return answered;
}

TEST_F(EchoSocketNetns, RepliesComeBackWithTheirTokenAndSilenceCountsAsLoss) {
    const auto b = topology_->node("b").address();
    const auto nowhere = net::Address::parse("192.0.2.99");
    topology_->node("a").netns.netns().run([&] {
        EchoSocket socket(net::Family::v4);
        ASSERT_TRUE(path_answers(socket, b)) << "b never answered an echo";
        ProbeOptions options;
        options.interval = 2s;
        options.timeout = 300ms;
        Prober prober(options);
        const auto b_key = net::Prefix::parse("192.0.2.0/24"),
                   nowhere_key = net::Prefix::parse("192.0.3.0/24");
        prober.set_targets({{b_key, "b", b}, {nowhere_key, "nowhere", nowhere}}, Clock::now());
        drive(prober, socket, Clock::now() + 1500ms);
        const auto& reached = *prober.find(b_key);
        EXPECT_EQ(reached.state, Reachability::reachable);
        ASSERT_TRUE(reached.last_rtt);
        EXPECT_GT(reached.last_rtt->count(), 0);
        EXPECT_LT(*reached.last_rtt, 300ms);
        const auto& silent = *prober.find(nowhere_key);
        EXPECT_EQ(silent.state, Reachability::unreachable);
        EXPECT_EQ(silent.lost, 3U);
    });
}

TEST_F(EchoSocketNetns, IgnoresEchoRepliesToOtherSockets) {
    const auto b = topology_->node("b").address();
    topology_->node("a").netns.netns().run([&] {
        {
            // Its own socket: the replies of the warm-up are not what the two below look at.
            EchoSocket warm_up(net::Family::v4);
            ASSERT_TRUE(path_answers(warm_up, b)) << "b never answered an echo";
        }
        EchoSocket ours(net::Family::v4), theirs(net::Family::v4);
        ASSERT_EQ(theirs.send(b, 42), 0);
        std::this_thread::sleep_for(200ms);
        std::size_t matched = 0;
        const auto read = ours.receive([&](const EchoReply&) { ++matched; });
        EXPECT_GE(read, 1U);     // a raw socket sees the other socket's reply...
        EXPECT_EQ(matched, 0U);  // ...and leaves it alone
        std::uint64_t token = 0;
        const auto read_at = Clock::now();
        theirs.receive([&](const EchoReply& r) {
            EXPECT_EQ(r.from, b);
            token = r.token;
            // The kernel's receive time, not the read's: the reply waited ~200 ms unread.
            EXPECT_LT(r.received, read_at - 100ms);
        });
        EXPECT_EQ(token, 42U);
    });
}

TEST_F(EchoSocketNetns, ASendWithoutARouteReturnsItsErrno) {
    topology_->node("a").netns.netns().run([&] {
        EchoSocket socket(net::Family::v4);
        EXPECT_EQ(socket.send(net::Address::parse("203.0.113.5"), 1), ENETUNREACH);
    });
}

TEST_F(EchoSocketNetns, WorksOverIpv6Too) {
    topology_->node("a").netns.netns().run([&] {
        EchoSocket socket(net::Family::v6);
        ASSERT_EQ(socket.send(net::Address::parse("::1"), 7), 0);
        std::uint64_t token = 0;
        for (int i = 0; i < 50 && token == 0; ++i) {
            std::this_thread::sleep_for(10ms);
            socket.receive([&](const EchoReply& r) { token = r.token; });
        }
        EXPECT_EQ(token, 7U);
    });
}

}  // namespace
}  // namespace twill::probe
