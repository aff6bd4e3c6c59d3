#include "peer_probes.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "time_format.hpp"
#include "twill/error.hpp"
#include "twill/sys/fd.hpp"

namespace twill::daemon {

namespace {

double milliseconds(probe::Microseconds us) {
    return static_cast<double>(us.count()) / 1000.0;
}

// Sends and expiries are handled at most once per tick: at 200 probes/s that is 4 probes per
// wakeup instead of one wakeup per send and another per timeout. Probes stay spread evenly at
// this granularity, and the token bucket holds exactly one tick of probes.
constexpr auto kTick = std::chrono::milliseconds(20);

}  // namespace

PeerProbes::PeerProbes(boost::asio::io_context& io, probe::ProbeOptions options,
                       DaemonMetrics& metrics)
    : io_(io), options_(options), metrics_(metrics), prober_(options), timer_(io) {}

void PeerProbes::start(const std::vector<net::Family>& families) {
    if (enabled()) return;
    try {
        for (const auto family : families) {
            auto channel = std::make_unique<Channel>(family);
            sys::UniqueFd watched(sys::dup_cloexec(channel->socket.fd()));
            channel->descriptor.emplace(io_, watched.get());
            watched.release();
            channels_.push_back(std::move(channel));
        }
        disabled_reason_.clear();
        for (auto& channel : channels_) arm_socket(*channel);
        spdlog::info(
            "probing peers through the overlay: each at least every {} ms, at most {} probes/s",
            options_.interval.count(), options_.rate);
    } catch (const std::exception& e) {
        // Error, or boost::system::system_error from registering the descriptor.
        channels_.clear();
        disabled_reason_ = e.what();
        spdlog::error("peer probes are off: {}", e.what());
    }
}

void PeerProbes::stop() {
    timer_.cancel();
    for (auto& channel : channels_) channel->descriptor->cancel();
    channels_.clear();
    rounds_.clear();
    disabled_reason_ = "stopped";
}

void PeerProbes::set_peers(std::vector<probe::Target> peers) {
    if (!enabled()) return;
    const auto started = probe::Clock::now();
    const auto count = peers.size();
    targets_ = peers;
    prober_.set_targets(std::move(peers), started);
    run();
    spdlog::debug(
        "probe targets: {} peers, updated in {} us", count,
        std::chrono::duration_cast<std::chrono::microseconds>(probe::Clock::now() - started)
            .count());
}

void PeerProbes::run() {
    if (!enabled()) return;
    // Replies already in the socket count before their probes could expire.
    receive();
    const auto now = probe::Clock::now();
    last_run_ = now;
    metrics_.probes_lost.Increment(static_cast<double>(prober_.expire(now)));
    const auto probes = prober_.take_due(now);
    for (const auto& probe : probes) {
        std::string error;
        try {
            const auto channel = std::find_if(
                channels_.begin(), channels_.end(),
                [&](const auto& c) { return c->socket.family() == probe.address.family(); });
            if (channel == channels_.end()) {
                error = "no socket for its family";
            } else if (const int code = (*channel)->socket.send(probe.address, probe.token);
                       code != 0) {
                error = std::strerror(code);
            }
        } catch (const Error& e) {
            error = e.what();
        }
        // Unanswerable (no route yet, no buffer space): it times out and counts as lost.
        if (!error.empty() && send_errors_++ % 1000 == 0) {
            spdlog::debug("probe {}: {} ({} send errors so far)", probe.address.to_string(), error,
                          send_errors_);
        }
    }
    metrics_.probes_sent.Increment(static_cast<double>(probes.size()));
    finish_rounds();
    update_gauges();
    arm_timer();
}

void PeerProbes::finish_rounds() {
    for (auto it = rounds_.begin(); it != rounds_.end();) {
        auto outcomes = prober_.take_round(it->first);
        if (!outcomes) {
            ++it;
            continue;
        }
        std::vector<api::v1::ProbeOutcome> reply;
        for (const auto& [key, outcome] : *outcomes) {
            auto& o = reply.emplace_back();
            o.set_node(outcome.node);
            o.set_subnet(key.to_string());
            o.set_address(outcome.address.to_string());
            o.set_reachable(outcome.reachable);
            if (outcome.rtt) o.set_rtt_ms(milliseconds(*outcome.rtt));
            o.set_attempts(static_cast<std::uint32_t>(outcome.attempts));
        }
        auto done = std::move(it->second);
        it = rounds_.erase(it);
        done(std::move(reply));
    }
}

void PeerProbes::arm_timer() {
    auto next = prober_.next_wakeup(probe::Clock::now());
    if (next != probe::TimePoint::max()) next = std::max(next, last_run_ + kTick);
    if (next == timer_at_) return;
    timer_at_ = next;
    if (next == probe::TimePoint::max()) {
        timer_.cancel();
        return;
    }
    timer_.expires_at(next);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        timer_at_ = probe::TimePoint::max();
        run();
    });
}

void PeerProbes::arm_socket(Channel& channel) {
    channel.descriptor->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                                   [this, &channel](const boost::system::error_code& ec) {
                                       // Cancelled (stop) before the channel goes away.
                                       if (ec || !enabled()) return;
                                       on_readable();
                                       arm_socket(channel);
                                   });
}

void PeerProbes::receive() {
    for (auto& channel : channels_) {
        try {
            channel->socket.receive([this](const probe::EchoReply& reply) {
                if (const auto rtt = prober_.on_reply(reply.token, reply.from, reply.received)) {
                    metrics_.probe_rtt_seconds.Observe(static_cast<double>(rtt->count()) / 1e6);
                }
            });
        } catch (const Error& e) {
            spdlog::warn("peer probes: {}", e.what());
        }
    }
}

void PeerProbes::on_readable() {
    receive();
    // A reply creates no probe work: sends and expiries wait for the next tick.
    finish_rounds();
    update_gauges();
}

PeerProbes::NodeCounts PeerProbes::count_nodes() const {
    std::map<std::string_view, probe::Reachability> worst;
    for (const auto& target : targets_) {
        const auto* found = prober_.find(target.key);
        const auto state = found ? found->state : probe::Reachability::unknown;
        auto [it, fresh] = worst.emplace(target.node, state);
        if (fresh) continue;
        if (state == probe::Reachability::unreachable ||
            (state == probe::Reachability::unknown && it->second == probe::Reachability::reachable))
            it->second = state;
    }
    NodeCounts counts;
    for (const auto& [node, state] : worst) {
        if (state == probe::Reachability::reachable)
            ++counts.reachable;
        else if (state == probe::Reachability::unreachable)
            ++counts.unreachable;
        else
            ++counts.unknown;
    }
    return counts;
}

void PeerProbes::update_gauges() {
    const auto counts = count_nodes();
    metrics_.peers_reachable.Set(static_cast<double>(counts.reachable));
    metrics_.peers_unreachable.Set(static_cast<double>(counts.unreachable));
}

std::string PeerProbes::wall_time(probe::TimePoint t) const {
    const auto age = probe::Clock::now() - t;
    return rfc3339(std::chrono::time_point_cast<std::chrono::system_clock::duration>(
        std::chrono::system_clock::now() - age));
}

std::optional<api::v1::PeerHealth> PeerProbes::health(const net::Prefix& subnet) const {
    if (!enabled()) return std::nullopt;
    const auto* found = prober_.find(subnet);
    if (!found) return std::nullopt;
    const auto& h = *found;
    api::v1::PeerHealth out;
    out.set_state(std::string(probe::to_string(h.state)));
    out.set_address(h.address.to_string());
    if (h.last_rtt) out.set_rtt_ms(milliseconds(*h.last_rtt));
    for (const auto& rtt : h.rtt_history()) out.add_rtt_history_ms(milliseconds(rtt));
    if (h.last_success) out.set_last_seen(wall_time(*h.last_success));
    out.set_consecutive_losses(h.consecutive_losses);
    if (h.unreachable_since) out.set_unreachable_since(wall_time(*h.unreachable_since));
    out.set_probes_sent(h.sent);
    out.set_probes_lost(h.lost);
    return out;
}

api::v1::ProbeSummary PeerProbes::summary() const {
    api::v1::ProbeSummary out;
    out.set_enabled(enabled());
    out.set_interval_seconds(std::chrono::duration<double>(options_.interval).count());
    out.set_rate(options_.rate);
    if (!enabled()) return out;
    const auto s = prober_.summary();
    const auto counts = count_nodes();
    out.set_reachable(static_cast<std::uint32_t>(counts.reachable));
    out.set_unreachable(static_cast<std::uint32_t>(counts.unreachable));
    out.set_unknown(static_cast<std::uint32_t>(counts.unknown));
    out.set_effective_interval_seconds(std::chrono::duration<double>(s.effective_interval).count());
    out.set_stretched(s.stretched);
    out.set_probes_sent(prober_.sent_total());
    out.set_probes_lost(prober_.lost_total());
    return out;
}

void PeerProbes::start_round(RoundDone done) {
    if (!enabled()) throw Error("peer probes are off: " + disabled_reason_);
    rounds_.emplace(prober_.start_round(probe::Clock::now()), std::move(done));
    // The round's first probes go out from the loop, not from here: the round has started,
    // so nothing may throw past this point (a round without peers finishes there too).
    boost::asio::post(io_, [this] { run(); });
}

}  // namespace twill::daemon
