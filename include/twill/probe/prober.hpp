#pragma once
// Peer health by ICMP echo through the overlay: which peer to probe when, what came back, what
// each peer's health is. Pure logic over a caller-given clock, so its timing is testable; the
// caller (twilld) sends the probes it hands out on an EchoSocket and feeds replies back.
//
// Schedule: every peer is probed at least once per effective interval = max(interval, peers /
// rate), its periodic probes spread over that interval by phase, never more than `rate` probes
// per second. A new peer and a retry after a loss go to the front of the queue (still within
// the rate). A lost probe is retried up to `retries` times before the peer counts as
// unreachable, so a single dropped packet never flips a peer; an unreachable peer is not
// retried (dead peers must not multiply the probe load), only probed on its period.
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "twill/net/address.hpp"
#include "twill/net/prefix.hpp"

namespace twill::probe {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Microseconds = std::chrono::microseconds;

struct ProbeOptions {
    std::chrono::milliseconds interval{std::chrono::seconds(30)};
    double rate = 200;         // periodic and retry probes per second
    double round_rate = 1000;  // probes per second of a round asked for by `netctl check --probe`
    int retries = 2;           // quick re-probes after a loss before "unreachable"
    // How long a probe waits for its reply. Default: min(1 s, interval / 4), so a peer whose
    // packets stop is unreachable within two intervals (one period + (1 + retries) timeouts).
    std::optional<std::chrono::milliseconds> timeout;
};

// Throws ParseError naming the field for a non-positive interval, rate or round rate, or
// negative retries.
void validate(const ProbeOptions& options);

enum class Reachability { unknown, reachable, unreachable };
std::string_view to_string(Reachability reachability);

struct PeerHealth {
    static constexpr std::size_t history_size = 8;

    // The last RTTs, oldest first (at most history_size).
    std::vector<Microseconds> rtt_history() const;
    void record_rtt(Microseconds rtt);

    std::string node;
    net::Address address;  // what is probed: the peer's gateway on its bridge
    Reachability state = Reachability::unknown;
    std::optional<Microseconds> last_rtt;
    std::optional<TimePoint> last_success;
    std::optional<TimePoint> unreachable_since;  // first loss of the run that made it unreachable
    std::optional<TimePoint> first_loss;         // of the current run of consecutive losses
    std::uint32_t consecutive_losses = 0;
    std::uint64_t sent = 0;
    std::uint64_t lost = 0;

  private:
    // A ring, not a deque: thousands of peers must not each hold a deque's 512-byte block.
    std::array<Microseconds, history_size> history_{};
    std::uint8_t history_count_ = 0;
    std::uint8_t history_next_ = 0;
};

// A peer is identified by its subnet.
using Key = net::Prefix;

struct Target {
    Key key;
    std::string node;
    net::Address address;
};

struct Probe {
    std::uint64_t token;  // carried in the echo payload and answered back
    net::Address address;
};

// The outcome of one `check --probe` round, per peer key.
struct RoundOutcome {
    std::string node;
    net::Address address;
    bool reachable = false;
    std::optional<Microseconds> rtt;
    int attempts = 0;
};

struct ProbeSummary {
    std::size_t peers = 0;
    std::size_t reachable = 0;
    std::size_t unreachable = 0;
    std::size_t unknown = 0;
    std::chrono::milliseconds effective_interval{0};
    bool stretched = false;  // peers / interval exceeds the rate: the interval is longer
};

class Prober {
  public:
    explicit Prober(ProbeOptions options);

    // The peers to probe now. New keys are probed first; removed ones leave the table and
    // their outstanding probes are forgotten. A changed address counts as a new peer.
    // Linear in the number of peers when `targets` is sorted by key (as leases are).
    void set_targets(std::vector<Target> targets, TimePoint now);

    // Probes to send now, within the rates. Each is outstanding until answered or expired.
    std::vector<Probe> take_due(TimePoint now);
    // A reply: the RTT when it answers an outstanding probe from the address it was sent to.
    std::optional<Microseconds> on_reply(std::uint64_t token, const net::Address& from,
                                         TimePoint now);
    // Probes whose timeout passed count as lost; returns how many.
    std::size_t expire(TimePoint now);
    // When take_due or expire next has work (TimePoint::max() when idle).
    TimePoint next_wakeup(TimePoint now) const;

    // A round over every current peer at round_rate, with the same retry rule. Rounds share
    // the probes' results with the periodic health.
    std::uint64_t start_round(TimePoint now);
    // The outcomes of a finished round (and forgets it); nullopt while it runs.
    std::optional<std::map<Key, RoundOutcome>> take_round(std::uint64_t id);

    // The health of one peer; nullptr when it is not in the table.
    const PeerHealth* find(const Key& key) const;
    std::size_t size() const { return peers_.size(); }
    ProbeSummary summary() const;
    std::chrono::milliseconds timeout() const { return timeout_; }
    std::uint64_t sent_total() const { return sent_total_; }
    std::uint64_t lost_total() const { return lost_total_; }

  private:
    struct Peer {
        PeerHealth health;
        TimePoint next_periodic;
        std::uint64_t generation = 0;  // tells a re-added key's probes from its old ones
        bool queued_urgent = false;
        int outstanding = 0;
    };
    struct Outstanding {
        Key key;
        TimePoint sent;
        std::uint64_t round = 0;  // 0: periodic or retry
        std::uint64_t generation = 0;
    };
    struct Round {
        std::deque<Key> queue;
        std::map<Key, RoundOutcome> outcomes;
        std::set<Key> decided;
        std::size_t pending = 0;  // peers without an outcome yet
        double tokens = 1;
        TimePoint refilled;
    };
    struct Bucket {
        double tokens = 1;
        TimePoint refilled;
    };

    std::chrono::nanoseconds effective_interval() const;
    void refill(double& tokens, TimePoint& refilled, double rate, TimePoint now) const;
    void reschedule(const Key& key, Peer& peer, TimePoint next);
    Probe send(const Key& key, Peer& peer, TimePoint now, std::uint64_t round);
    void record_loss(const Key& key, Peer& peer, TimePoint sent_at, std::uint64_t round);
    void record_success(const Key& key, Peer& peer, Microseconds rtt, TimePoint now,
                        std::uint64_t round);
    void set_state(PeerHealth& health, Reachability state);
    std::map<Key, Peer>::iterator remove(std::map<Key, Peer>::iterator it);

    ProbeOptions options_;
    std::chrono::milliseconds timeout_;
    std::map<Key, Peer> peers_;
    std::set<std::pair<TimePoint, Key>> periodic_;
    std::deque<Key> urgent_;
    std::map<std::uint64_t, Outstanding> outstanding_;  // by token: tokens grow with send time
    std::map<std::uint64_t, Round> rounds_;
    Bucket bucket_;
    std::uint64_t next_token_ = 1;
    std::uint64_t next_round_ = 1;
    std::uint64_t next_generation_ = 1;
    std::size_t reachable_ = 0;
    std::size_t unreachable_ = 0;
    std::uint64_t sent_total_ = 0;
    std::uint64_t lost_total_ = 0;
};

}  // namespace twill::probe
