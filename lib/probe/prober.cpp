#include "twill/probe/prober.hpp"

#include <algorithm>

#include "twill/error.hpp"

namespace twill::probe {

namespace {

// A bucket holds up to 20 ms worth of probes (at least one): bursts stay short.
double bucket_capacity(double rate) { return std::max(1.0, rate * 0.02); }

std::chrono::nanoseconds seconds_of(double seconds) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(seconds));
}

// When a bucket refilling at `rate` next holds a whole token.
TimePoint token_time(double tokens, double rate, TimePoint now) {
    if (tokens >= 1) return now;
    return now + seconds_of((1 - tokens) / rate);
}

}  // namespace

void validate(const ProbeOptions& options) {
    if (options.interval.count() <= 0) throw ParseError("--probe-interval", "must be positive");
    if (!(options.rate > 0)) throw ParseError("--probe-rate", "must be a positive number of probes per second");
    if (!(options.round_rate > 0)) throw ParseError("round rate", "must be positive");
    if (options.retries < 0) throw ParseError("retries", "must not be negative");
    if (options.timeout && options.timeout->count() <= 0) throw ParseError("probe timeout", "must be positive");
}

std::string_view to_string(Reachability reachability) {
    switch (reachability) {
        case Reachability::reachable: return "reachable";
        case Reachability::unreachable: return "unreachable";
        case Reachability::unknown: break;
    }
    return "unknown";
}

Prober::Prober(ProbeOptions options) : options_(options) {
    validate(options_);
    timeout_ = options_.timeout.value_or(
        std::max(std::chrono::milliseconds(1), std::min(std::chrono::milliseconds(1000), options_.interval / 4)));
    bucket_.tokens = bucket_capacity(options_.rate);
}

std::chrono::nanoseconds Prober::effective_interval() const {
    const auto by_rate = seconds_of(static_cast<double>(health_.size()) / options_.rate);
    return std::max<std::chrono::nanoseconds>(options_.interval, by_rate);
}

void Prober::refill(double& tokens, TimePoint& refilled, double rate, TimePoint now) const {
    if (refilled != TimePoint{} && now > refilled) {
        tokens = std::min(bucket_capacity(rate), tokens + std::chrono::duration<double>(now - refilled).count() * rate);
    }
    if (now > refilled) refilled = now;
}

void Prober::reschedule(const std::string& key, TimePoint next) {
    auto& schedule = schedule_.at(key);
    periodic_.erase({schedule.next_periodic, key});
    schedule.next_periodic = next;
    periodic_.emplace(next, key);
}

void Prober::set_targets(const std::vector<Target>& targets, TimePoint now) {
    std::map<std::string, const Target*> wanted;
    for (const auto& target : targets) wanted[target.key] = &target;
    std::vector<std::string> gone;
    for (const auto& [key, health] : health_) {
        const auto it = wanted.find(key);
        if (it == wanted.end() || it->second->address != health.address) gone.push_back(key);
    }
    for (const auto& key : gone) remove(key);

    std::vector<std::string> added;
    for (const auto& [key, target] : wanted) {
        auto [it, inserted] = health_.try_emplace(key);
        it->second.node = target->node;
        if (!inserted) continue;
        it->second.address = target->address;
        added.push_back(key);
    }
    if (added.empty()) return;
    // Periodic probes of a batch of new peers are spread over the interval by phase; each is
    // probed once right away (front of the queue) as well.
    const auto interval = effective_interval();
    for (std::size_t i = 0; i < added.size(); ++i) {
        const auto& key = added[i];
        const auto phase = interval * static_cast<std::int64_t>(i + 1) / static_cast<std::int64_t>(added.size() + 1);
        auto& schedule = schedule_[key];
        schedule = Schedule{};
        schedule.generation = next_generation_++;
        schedule.next_periodic = now + phase;
        periodic_.emplace(schedule.next_periodic, key);
    }
    for (auto it = added.rbegin(); it != added.rend(); ++it) {
        schedule_[*it].queued_urgent = true;
        urgent_.push_front(*it);
    }
}

void Prober::remove(const std::string& key) {
    const auto it = health_.find(key);
    if (it == health_.end()) return;
    set_state(it->second, Reachability::unknown);
    health_.erase(it);
    if (const auto s = schedule_.find(key); s != schedule_.end()) {
        periodic_.erase({s->second.next_periodic, key});
        schedule_.erase(s);
    }
    // Queue entries and outstanding probes of the key are dropped lazily (by generation).
    for (auto& [id, round] : rounds_) {
        const auto outcome = round.outcomes.find(key);
        if (outcome == round.outcomes.end()) continue;
        if (!round.decided.contains(key)) --round.pending;
        round.decided.erase(key);
        round.outcomes.erase(outcome);
    }
}

Probe Prober::send(const std::string& key, TimePoint now, std::uint64_t round) {
    auto& schedule = schedule_.at(key);
    auto& health = health_.at(key);
    const std::uint64_t token = next_token_++;
    outstanding_.emplace(token, Outstanding{key, now, round, schedule.generation});
    ++schedule.outstanding;
    ++health.sent;
    ++sent_total_;
    return Probe{token, health.address};
}

std::vector<Probe> Prober::take_due(TimePoint now) {
    std::vector<Probe> probes;
    const auto interval = effective_interval();
    refill(bucket_.tokens, bucket_.refilled, options_.rate, now);
    while (bucket_.tokens >= 1) {
        std::string key;
        if (!urgent_.empty()) {
            key = std::move(urgent_.front());
            urgent_.pop_front();
            const auto s = schedule_.find(key);
            if (s == schedule_.end() || !s->second.queued_urgent) continue;  // stale entry
            s->second.queued_urgent = false;
            // An immediate probe stands in for a periodic one due soon.
            if (s->second.next_periodic < now + interval / 2) {
                reschedule(key, std::max(s->second.next_periodic + interval, now + interval / 2));
            }
        } else if (!periodic_.empty() && periodic_.begin()->first <= now) {
            const auto due = periodic_.begin()->first;
            key = periodic_.begin()->second;
            reschedule(key, std::max(due + interval, now + interval / 2));
            if (schedule_.at(key).outstanding > 0) continue;  // still waiting: skip this period
        } else {
            break;
        }
        probes.push_back(send(key, now, 0));
        bucket_.tokens -= 1;
    }
    for (auto& [id, round] : rounds_) {
        refill(round.tokens, round.refilled, options_.round_rate, now);
        while (round.tokens >= 1 && !round.queue.empty()) {
            auto key = std::move(round.queue.front());
            round.queue.pop_front();
            if (!health_.contains(key) || round.decided.contains(key)) continue;
            probes.push_back(send(key, now, id));
            ++round.outcomes.at(key).attempts;
            round.tokens -= 1;
        }
    }
    return probes;
}

std::optional<Microseconds> Prober::on_reply(std::uint64_t token, const net::Address& from, TimePoint now) {
    const auto it = outstanding_.find(token);
    if (it == outstanding_.end()) return std::nullopt;
    const auto probe = it->second;
    const auto s = schedule_.find(probe.key);
    if (s == schedule_.end() || s->second.generation != probe.generation) {
        outstanding_.erase(it);
        return std::nullopt;
    }
    if (health_.at(probe.key).address != from) return std::nullopt;
    outstanding_.erase(it);
    --s->second.outstanding;
    const auto rtt = std::chrono::duration_cast<Microseconds>(now - probe.sent);
    record_success(probe.key, rtt, now, probe.round);
    return rtt;
}

std::size_t Prober::expire(TimePoint now) {
    std::size_t lost = 0;
    while (!outstanding_.empty() && outstanding_.begin()->second.sent + timeout_ <= now) {
        const auto probe = outstanding_.begin()->second;
        outstanding_.erase(outstanding_.begin());
        const auto s = schedule_.find(probe.key);
        if (s == schedule_.end() || s->second.generation != probe.generation) continue;
        --s->second.outstanding;
        record_loss(probe.key, probe.sent, probe.round);
        ++lost;
    }
    return lost;
}

void Prober::record_success(const std::string& key, Microseconds rtt, TimePoint now, std::uint64_t round) {
    auto& health = health_.at(key);
    health.last_rtt = rtt;
    health.rtt_history.push_back(rtt);
    while (health.rtt_history.size() > PeerHealth::history_size) health.rtt_history.pop_front();
    health.last_success = now;
    health.consecutive_losses = 0;
    health.first_loss.reset();
    health.unreachable_since.reset();
    set_state(health, Reachability::reachable);
    if (round == 0) return;
    const auto r = rounds_.find(round);
    if (r == rounds_.end() || r->second.decided.contains(key)) return;
    auto& outcome = r->second.outcomes.at(key);
    outcome.reachable = true;
    outcome.rtt = rtt;
    r->second.decided.insert(key);
    --r->second.pending;
}

void Prober::record_loss(const std::string& key, TimePoint sent_at, std::uint64_t round) {
    auto& health = health_.at(key);
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
        auto& schedule = schedule_.at(key);
        if (!exhausted && health.state != Reachability::unreachable && !schedule.queued_urgent) {
            schedule.queued_urgent = true;
            urgent_.push_back(key);
        }
        return;
    }
    const auto r = rounds_.find(round);
    if (r == rounds_.end() || r->second.decided.contains(key)) return;
    auto& outcome = r->second.outcomes.at(key);
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
    const auto tokens_at = token_time(bucket_.tokens, options_.rate, std::max(now, bucket_.refilled));
    if (!urgent_.empty()) next = std::min(next, tokens_at);
    if (!periodic_.empty()) next = std::min(next, std::max(periodic_.begin()->first, tokens_at));
    for (const auto& [id, round] : rounds_) {
        if (!round.queue.empty()) next = std::min(next, token_time(round.tokens, options_.round_rate, std::max(now, round.refilled)));
    }
    return next;
}

std::uint64_t Prober::start_round(TimePoint now) {
    const auto id = next_round_++;
    auto& round = rounds_[id];
    round.tokens = bucket_capacity(options_.round_rate);
    round.refilled = now;
    for (const auto& [key, health] : health_) {
        round.queue.push_back(key);
        round.outcomes[key] = RoundOutcome{health.node, health.address, false, std::nullopt, 0};
    }
    round.pending = health_.size();
    return id;
}

std::optional<std::map<std::string, RoundOutcome>> Prober::take_round(std::uint64_t id) {
    const auto it = rounds_.find(id);
    if (it == rounds_.end()) return std::map<std::string, RoundOutcome>{};
    if (it->second.pending > 0) return std::nullopt;
    auto outcomes = std::move(it->second.outcomes);
    rounds_.erase(it);
    return outcomes;
}

ProbeSummary Prober::summary() const {
    ProbeSummary s;
    s.peers = health_.size();
    s.reachable = reachable_;
    s.unreachable = unreachable_;
    s.unknown = s.peers - reachable_ - unreachable_;
    s.effective_interval = std::chrono::duration_cast<std::chrono::milliseconds>(effective_interval());
    s.stretched = s.effective_interval > options_.interval;
    return s;
}

}  // namespace twill::probe
