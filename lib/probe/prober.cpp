#include "twill/probe/prober.hpp"

#include <algorithm>

#include "twill/error.hpp"

namespace twill::probe {

namespace {

// A bucket holds up to 20 ms worth of probes (at least one): bursts stay short.
double bucket_capacity(double rate) {
    return std::max(1.0, rate * 0.02);
}

std::chrono::nanoseconds seconds_of(double seconds) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(seconds));
}

// When a bucket refilling at `rate` next holds a whole token.
TimePoint token_time(double tokens, double rate, TimePoint now) {
    if (tokens >= 1) return now;
    return now + seconds_of((1 - tokens) / rate);
}

}  // namespace

void validate(const ProbeOptions& options) {
    if (options.interval.count() <= 0) throw ParseError("--probe-interval", "must be positive");
    if (!(options.rate > 0))
        throw ParseError("--probe-rate", "must be a positive number of probes per second");
    if (!(options.round_rate > 0)) throw ParseError("round rate", "must be positive");
    if (options.retries < 0) throw ParseError("retries", "must not be negative");
    if (options.timeout && options.timeout->count() <= 0)
        throw ParseError("probe timeout", "must be positive");
}

std::string_view to_string(Reachability reachability) {
    switch (reachability) {
        case Reachability::reachable:
            return "reachable";
        case Reachability::unreachable:
            return "unreachable";
        case Reachability::unknown:
            break;
    }
    return "unknown";
}

std::vector<Microseconds> PeerHealth::rtt_history() const {
    std::vector<Microseconds> result;
    result.reserve(history_count_);
    for (std::size_t i = 0; i < history_count_; ++i) {
        result.push_back(
            history_[(history_next_ + history_size - history_count_ + i) % history_size]);
    }
    return result;
}

void PeerHealth::record_rtt(Microseconds rtt) {
    last_rtt = rtt;
    history_[history_next_] = rtt;
    history_next_ = static_cast<std::uint8_t>((history_next_ + 1) % history_size);
    if (history_count_ < history_size) ++history_count_;
}

Prober::Prober(ProbeOptions options) : options_(options) {
    validate(options_);
    timeout_ = options_.timeout.value_or(
        std::max(std::chrono::milliseconds(1),
                 std::min(std::chrono::milliseconds(1000), options_.interval / 4)));
    bucket_.tokens = bucket_capacity(options_.rate);
}

std::chrono::nanoseconds Prober::effective_interval() const {
    const auto by_rate = seconds_of(static_cast<double>(peers_.size()) / options_.rate);
    return std::max<std::chrono::nanoseconds>(options_.interval, by_rate);
}

void Prober::refill(double& tokens, TimePoint& refilled, double rate, TimePoint now) const {
    if (refilled != TimePoint{} && now > refilled) {
        tokens = std::min(bucket_capacity(rate),
                          tokens + std::chrono::duration<double>(now - refilled).count() * rate);
    }
    if (now > refilled) refilled = now;
}

void Prober::reschedule(const Key& key, Peer& peer, TimePoint next) {
    periodic_.erase({peer.next_periodic, key});
    peer.next_periodic = next;
    periodic_.emplace(next, key);
}

const PeerHealth* Prober::find(const Key& key) const {
    const auto it = peers_.find(key);
    return it == peers_.end() ? nullptr : &it->second.health;
}

void Prober::set_targets(std::vector<Target> targets, TimePoint now) {
    const auto by_key = [](const Target& a, const Target& b) { return a.key < b.key; };
    if (!std::is_sorted(targets.begin(), targets.end(), by_key))
        std::sort(targets.begin(), targets.end(), by_key);
    // One merge walk over the table and the sorted targets.
    std::vector<Key> added;
    auto it = peers_.begin();
    for (auto& target : targets) {
        while (it != peers_.end() && it->first < target.key) it = remove(it);
        if (it != peers_.end() && it->first == target.key) {
            // Another node on a freed subnet is another peer: nothing of the old one carries over.
            if (it->second.health.address == target.address &&
                it->second.health.node == target.node) {
                ++it;
                continue;
            }
            it = remove(it);
        }
        Peer peer;
        peer.health.node = std::move(target.node);
        peer.health.address = target.address;
        peer.generation = next_generation_++;
        it = std::next(peers_.emplace_hint(it, target.key, std::move(peer)));
        added.push_back(target.key);
    }
    while (it != peers_.end()) it = remove(it);
    if (added.empty()) return;

    // Periodic probes of a batch of new peers are spread over the interval by phase; each is
    // probed once right away (front of the queue) as well.
    const auto interval = effective_interval();
    const auto batch = static_cast<std::int64_t>(added.size() + 1);
    for (std::size_t i = 0; i < added.size(); ++i) {
        auto& peer = peers_.at(added[i]);
        peer.next_periodic = now + interval / batch * static_cast<std::int64_t>(i + 1);
        periodic_.emplace(peer.next_periodic, added[i]);
    }
    for (auto key = added.rbegin(); key != added.rend(); ++key) {
        peers_.at(*key).queued_urgent = true;
        urgent_.push_front(*key);
    }
}

std::map<Key, Prober::Peer>::iterator Prober::remove(std::map<Key, Peer>::iterator it) {
    const auto key = it->first;
    set_state(it->second.health, Reachability::unknown);
    periodic_.erase({it->second.next_periodic, key});
    // Queue entries and outstanding probes of the key are dropped lazily: by generation, and
    // a round skips a key whose outcome is gone.
    for (auto& [id, round] : rounds_) {
        const auto outcome = round.outcomes.find(key);
        if (outcome == round.outcomes.end()) continue;
        if (!round.decided.contains(key)) --round.pending;
        round.decided.erase(key);
        round.outcomes.erase(outcome);
    }
    return peers_.erase(it);
}

Probe Prober::send(const Key& key, Peer& peer, TimePoint now, std::uint64_t round) {
    const std::uint64_t token = next_token_++;
    outstanding_.emplace(token, Outstanding{key, now, round, peer.generation});
    ++peer.outstanding;
    ++peer.health.sent;
    ++sent_total_;
    return Probe{token, peer.health.address};
}

std::vector<Probe> Prober::take_due(TimePoint now) {
    std::vector<Probe> probes;
    const auto interval = effective_interval();
    refill(bucket_.tokens, bucket_.refilled, options_.rate, now);
    while (bucket_.tokens >= 1) {
        Key key;
        Peer* peer = nullptr;
        if (!urgent_.empty()) {
            key = urgent_.front();
            urgent_.pop_front();
            const auto it = peers_.find(key);
            if (it == peers_.end() || !it->second.queued_urgent) continue;  // stale entry
            peer = &it->second;
            peer->queued_urgent = false;
            // The periodic schedule stays as it is, so every peer keeps its phase and is
            // probed at least once per interval whatever came in between.
        } else if (!periodic_.empty() && periodic_.begin()->first <= now) {
            const auto due = periodic_.begin()->first;
            key = periodic_.begin()->second;
            peer = &peers_.at(key);
            reschedule(key, *peer, std::max(due + interval, now + interval / 2));
            if (peer->outstanding > 0) continue;  // still waiting: skip this period
        } else {
            break;
        }
        probes.push_back(send(key, *peer, now, 0));
        bucket_.tokens -= 1;
    }
    for (auto& [id, round] : rounds_) {
        refill(round.tokens, round.refilled, options_.round_rate, now);
        while (round.tokens >= 1 && !round.queue.empty()) {
            const auto key = round.queue.front();
            round.queue.pop_front();
            const auto it = peers_.find(key);
            const auto outcome = round.outcomes.find(key);
            if (it == peers_.end() || outcome == round.outcomes.end() ||
                round.decided.contains(key))
                continue;
            probes.push_back(send(key, it->second, now, id));
            ++outcome->second.attempts;
            round.tokens -= 1;
        }
    }
    return probes;
}

std::optional<Microseconds> Prober::on_reply(std::uint64_t token, const net::Address& from,
                                             TimePoint now) {
    const auto it = outstanding_.find(token);
    if (it == outstanding_.end()) return std::nullopt;
    const auto probe = it->second;
    const auto p = peers_.find(probe.key);
    if (p == peers_.end() || p->second.generation != probe.generation) {
        outstanding_.erase(it);
        return std::nullopt;
    }
    if (p->second.health.address != from) return std::nullopt;
    outstanding_.erase(it);
    --p->second.outstanding;
    // The reply's time is the kernel's receive stamp (realtime) carried over to the steady
    // clock; under a realtime adjustment that can land a little before the send. A reply
    // came back, so the round trip took at least a microsecond.
    const auto rtt =
        std::max(std::chrono::duration_cast<Microseconds>(now - probe.sent), Microseconds(1));
    record_success(probe.key, p->second, rtt, now, probe.round);
    return rtt;
}

std::size_t Prober::expire(TimePoint now) {
    std::size_t lost = 0;
    // Tokens grow with send time, so the first outstanding probe is the oldest.
    while (!outstanding_.empty() && outstanding_.begin()->second.sent + timeout_ <= now) {
        const auto probe = outstanding_.begin()->second;
        outstanding_.erase(outstanding_.begin());
        const auto p = peers_.find(probe.key);
        if (p == peers_.end() || p->second.generation != probe.generation) continue;
        --p->second.outstanding;
        record_loss(probe.key, p->second, probe.sent, probe.round);
        ++lost;
    }
    return lost;
}

void Prober::record_success(const Key& key, Peer& peer, Microseconds rtt, TimePoint now,
                            std::uint64_t round) {
    auto& health = peer.health;
    health.record_rtt(rtt);
    health.last_success = now;
    health.consecutive_losses = 0;
    health.first_loss.reset();
    health.unreachable_since.reset();
    set_state(health, Reachability::reachable);
    if (round == 0) return;
    const auto r = rounds_.find(round);
    if (r == rounds_.end() || r->second.decided.contains(key)) return;
    const auto o = r->second.outcomes.find(key);
    if (o == r->second.outcomes.end()) return;
    auto& outcome = o->second;
    outcome.reachable = true;
    outcome.rtt = rtt;
    r->second.decided.insert(key);
    --r->second.pending;
}

void Prober::record_loss(const Key& key, Peer& peer, TimePoint sent_at, std::uint64_t round) {
    auto& health = peer.health;
    ++health.lost;
    ++lost_total_;
    ++health.consecutive_losses;
    if (!health.first_loss) health.first_loss = sent_at;
    const bool exhausted = health.consecutive_losses > static_cast<std::uint32_t>(options_.retries);
    if (exhausted && health.state != Reachability::unreachable) {
        health.unreachable_since = health.first_loss;
        set_state(health, Reachability::unreachable);
    }
    if (round == 0) {
        if (!exhausted && health.state != Reachability::unreachable && !peer.queued_urgent) {
            peer.queued_urgent = true;
            urgent_.push_back(key);
        }
        return;
    }
    const auto r = rounds_.find(round);
    if (r == rounds_.end() || r->second.decided.contains(key)) return;
    const auto o = r->second.outcomes.find(key);
    if (o == r->second.outcomes.end()) return;
    auto& outcome = o->second;
    if (outcome.attempts <= options_.retries) {
        r->second.queue.push_front(key);
        return;
    }
    outcome.reachable = false;
    r->second.decided.insert(key);
    --r->second.pending;
}

void Prober::set_state(PeerHealth& health, Reachability state) {
    if (health.state == state) return;
    if (health.state == Reachability::reachable) --reachable_;
    if (health.state == Reachability::unreachable) --unreachable_;
    if (state == Reachability::reachable) ++reachable_;
    if (state == Reachability::unreachable) ++unreachable_;
    health.state = state;
}

TimePoint Prober::next_wakeup(TimePoint now) const {
    TimePoint next = TimePoint::max();
    if (!outstanding_.empty()) next = std::min(next, outstanding_.begin()->second.sent + timeout_);
    const auto tokens_at =
        token_time(bucket_.tokens, options_.rate, std::max(now, bucket_.refilled));
    if (!urgent_.empty()) next = std::min(next, tokens_at);
    if (!periodic_.empty()) next = std::min(next, std::max(periodic_.begin()->first, tokens_at));
    for (const auto& [id, round] : rounds_) {
        if (!round.queue.empty()) {
            next = std::min(
                next, token_time(round.tokens, options_.round_rate, std::max(now, round.refilled)));
        }
    }
    return next;
}

std::uint64_t Prober::start_round(TimePoint now) {
    const auto id = next_round_++;
    auto& round = rounds_[id];
    round.tokens = bucket_capacity(options_.round_rate);
    round.refilled = now;
    for (const auto& [key, peer] : peers_) {
        round.queue.push_back(key);
        round.outcomes[key] =
            RoundOutcome{peer.health.node, peer.health.address, false, std::nullopt, 0};
    }
    round.pending = peers_.size();
    return id;
}

std::optional<std::map<Key, RoundOutcome>> Prober::take_round(std::uint64_t id) {
    const auto it = rounds_.find(id);
    if (it == rounds_.end()) return std::map<Key, RoundOutcome>{};
    if (it->second.pending > 0) return std::nullopt;
    auto outcomes = std::move(it->second.outcomes);
    rounds_.erase(it);
    return outcomes;
}

ProbeSummary Prober::summary() const {
    ProbeSummary s;
    s.peers = peers_.size();
    s.reachable = reachable_;
    s.unreachable = unreachable_;
    s.unknown = s.peers - reachable_ - unreachable_;
    s.effective_interval =
        std::chrono::duration_cast<std::chrono::milliseconds>(effective_interval());
    s.stretched = s.effective_interval > options_.interval;
    return s;
}

}  // namespace twill::probe
