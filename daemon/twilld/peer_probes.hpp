#pragma once
// Peer health probing inside twilld: a probe::Prober driven by the event loop, its raw ICMP
// socket(s) (one per family: a dual-stack peer is probed at both of its gateways) and timer,
// and what netctl and /metrics show of it. Everything runs on the loop.
#include <twill/api/twilld.pb.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon_metrics.hpp"
#include "twill/probe/echo_socket.hpp"
#include "twill/probe/prober.hpp"

namespace twill::daemon {

class PeerProbes {
  public:
    using RoundDone = std::function<void(std::vector<api::v1::ProbeOutcome>)>;

    PeerProbes(boost::asio::io_context& io, probe::ProbeOptions options, DaemonMetrics& metrics);
    PeerProbes(const PeerProbes&) = delete;
    PeerProbes& operator=(const PeerProbes&) = delete;

    // Opens a socket for each of the network's families. Without them (no CAP_NET_RAW)
    // probing stays off and disabled_reason() says why; nothing else depends on it.
    void start(const std::vector<net::Family>& families);
    void stop();
    bool enabled() const { return !channels_.empty(); }
    const std::string& disabled_reason() const { return disabled_reason_; }

    // The gateways to probe, sorted by subnet (as leases are): each peer's, and a dual-stack
    // peer's IPv6 one keyed by its IPv6 subnet.
    void set_peers(std::vector<probe::Target> peers);

    // The health of the gateway in this subnet, for netctl; nullopt when not probed.
    std::optional<api::v1::PeerHealth> health(const net::Prefix& subnet) const;
    // Counts peers (nodes), not gateways: a peer is unreachable when any of its gateways is,
    // reachable when all are.
    api::v1::ProbeSummary summary() const;
    // One round over every peer now; `done` runs on the loop with the outcomes.
    void start_round(RoundDone done);

  private:
    void run();
    void finish_rounds();
    void receive();
    struct Channel {
        explicit Channel(net::Family family) : socket(family) {}
        probe::EchoSocket socket;
        std::optional<boost::asio::posix::stream_descriptor> descriptor;
    };
    struct NodeCounts {
        std::size_t reachable = 0, unreachable = 0, unknown = 0;
    };

    void arm_timer();
    void arm_socket(Channel& channel);
    void on_readable();
    void update_gauges();
    NodeCounts count_nodes() const;
    std::string wall_time(probe::TimePoint t) const;

    boost::asio::io_context& io_;
    probe::ProbeOptions options_;
    DaemonMetrics& metrics_;
    probe::Prober prober_;
    std::vector<std::unique_ptr<Channel>> channels_;
    std::vector<probe::Target> targets_;  // what set_peers was given, to count nodes
    boost::asio::steady_timer timer_;
    probe::TimePoint timer_at_ = probe::TimePoint::max();
    probe::TimePoint last_run_{};
    std::string disabled_reason_ = "not started";
    std::map<std::uint64_t, RoundDone> rounds_;
    std::uint64_t send_errors_ = 0;
};

}  // namespace twill::daemon
