#include "twill/sys/log.hpp"

#include <atomic>
#include <cstdio>

namespace twill::sys {

namespace {
std::atomic<LogSink> installed{nullptr};
}  // namespace

void set_log_sink(LogSink sink) {
    installed.store(sink);
}

void log(LogLevel level, std::string_view message) {
    if (const auto sink = installed.load()) {
        sink(level, message);
    } else if (level >= LogLevel::warn) {
        std::fprintf(stderr, "%.*s\n", static_cast<int>(message.size()), message.data());
    }
}

}  // namespace twill::sys
