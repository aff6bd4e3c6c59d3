#pragma once
// Peer health probing inside twilld: a probe::Prober driven by the event loop, its raw ICMP
// socket and timer, and what netctl and /metrics show of it. Everything runs on the loop.
#include <twill/api/twilld.pb.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
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

    // Opens the socket for the Network's family. Without it (no CAP_NET_RAW) probing stays
    // off and disabled_reason() says why; nothing else depends on it.
    void start(net::Family family);
    void stop();
    bool enabled() const { return socket_.has_value(); }
    const std::string& disabled_reason() const { return disabled_reason_; }

    // The peers to probe, sorted by subnet (as leases are): each peer's gateway.
    void set_peers(std::vector<probe::Target> peers);

    // The health of the peer with this subnet, for netctl; nullopt when not probed.
    std::optional<api::v1::PeerHealth> health(const net::Prefix& subnet) const;
    api::v1::ProbeSummary summary() const;
    // One round over every peer now; `done` runs on the loop with the outcomes.
    void start_round(RoundDone done);

  private:
    void run();
    void finish_rounds();
    void receive();
    void arm_timer();
    void arm_socket();
    void on_readable();
    void update_gauges();
    std::string wall_time(probe::TimePoint t) const;

    boost::asio::io_context& io_;
    probe::ProbeOptions options_;
    DaemonMetrics& metrics_;
    probe::Prober prober_;
    std::optional<probe::EchoSocket> socket_;
    std::optional<boost::asio::posix::stream_descriptor> descriptor_;
    boost::asio::steady_timer timer_;
    probe::TimePoint timer_at_ = probe::TimePoint::max();
    probe::TimePoint last_run_{};
    std::string disabled_reason_ = "not started";
    std::map<std::uint64_t, RoundDone> rounds_;
    std::uint64_t send_errors_ = 0;
};

}  // namespace twill::daemon
