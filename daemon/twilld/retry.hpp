#pragma once
// The one startup retry loop: an attempt that fails with an Error is logged (once per distinct
// reason, at error level, "<what>: <reason>; retrying") and tried again after a capped,
// jittered backoff, until it succeeds or the daemon stops.
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "twill/error.hpp"
#include "twill/kv/backoff.hpp"

namespace twill::daemon {

enum class OnParseError {
    retry,  // the input comes from outside (etcd) and may be fixed while twilld waits
    fail,   // the input is twilld's own flags: waiting cannot fix it
};

// `pause(delay)` waits and returns false when the daemon stops; then this throws Error
// ("stopped while <what>").
template <class Attempt>
auto retry_until_done(std::string_view what, OnParseError on_parse_error,
                      const std::function<bool(std::chrono::milliseconds)>& pause, Attempt attempt)
    -> decltype(attempt()) {
    Backoff backoff;
    std::string last_problem;
    for (;;) {
        try {
            return attempt();
        } catch (const ParseError& e) {
            if (on_parse_error == OnParseError::fail) throw;
            if (e.what() != last_problem) spdlog::error("{}: {}; retrying", what, e.what());
            last_problem = e.what();
        } catch (const Error& e) {
            if (e.what() != last_problem) spdlog::error("{}: {}; retrying", what, e.what());
            last_problem = e.what();
        }
        if (!pause(backoff.next())) throw Error("stopped while waiting for " + std::string(what));
    }
}

}  // namespace twill::daemon
