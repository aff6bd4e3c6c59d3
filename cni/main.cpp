// twill, the CNI plugin. containerd (or any CNI runtime) runs it once per verb with the
// CNI_* environment and the network config on stdin; it answers on stdout (a result, or a
// spec error as JSON with a non-zero exit). Nothing goes to stderr unless asked for with the
// config key "logLevel" or the environment variable TWILL_CNI_LOG_LEVEL.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "invocation.hpp"
#include "twill/error.hpp"
#include "twill/sys/log.hpp"

namespace {

using namespace twill;

std::string read_stdin() {
    std::string text;
    char buffer[16384];
    for (;;) {
        const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw cni::CniError(cni::ErrorCode::IoFailure,
                                "read config from stdin: " + std::string(std::strerror(errno)));
        }
        if (n == 0) return text;
        text.append(buffer, static_cast<std::size_t>(n));
    }
}

void write_stdout(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

// The threshold of the plugin's log on stderr; above error: off (the default: a runtime shows
// the plugin's stderr only when it fails, and the error JSON says what went wrong).
std::atomic<int> log_threshold{static_cast<int>(sys::LogLevel::error) + 1};

void write_log_line(sys::LogLevel level, std::string_view message) {
    if (static_cast<int>(level) < log_threshold.load()) return;
    static constexpr const char* names[] = {"debug", "info", "warning", "error"};
    char stamp[32];
    const auto now = std::chrono::system_clock::now();
    const auto seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    std::fprintf(stderr, "%s.%03dZ %s twill[%d] %.*s\n", stamp, static_cast<int>(millis.count()),
                 names[static_cast<int>(level)], static_cast<int>(::getpid()),
                 static_cast<int>(message.size()), message.data());
}

// "debug", "info", "warn"/"warning", "error"; "off" or empty: nothing. Unknown: ParseError.
void enable_logging(const std::string& level) {
    if (level.empty() || level == "off") return;
    if (level == "debug" || level == "trace")
        log_threshold = static_cast<int>(sys::LogLevel::debug);
    else if (level == "info")
        log_threshold = static_cast<int>(sys::LogLevel::info);
    else if (level == "warn" || level == "warning")
        log_threshold = static_cast<int>(sys::LogLevel::warn);
    else if (level == "error" || level == "err" || level == "critical")
        log_threshold = static_cast<int>(sys::LogLevel::error);
    else
        throw ParseError("logLevel", "\"" + level + "\" is not debug, info, warn, error or off");
}

std::string version_reply() {
    nlohmann::json versions = nlohmann::json::array();
    for (const auto v : cni::supported_versions()) versions.push_back(cni::to_string(v));
    return nlohmann::json{{"cniVersion", cni::to_string(cni::latest_version)},
                          {"supportedVersions", versions}}
        .dump();
}

void require_version(cni::Command command, cni::Version version) {
    const bool allowed = command == cni::Command::Check    ? cni::supports_check(version)
                         : command == cni::Command::Status ? cni::supports_status_and_gc(version)
                         : command == cni::Command::Gc     ? cni::supports_status_and_gc(version)
                                                           : true;
    if (!allowed) {
        throw cni::CniError(cni::ErrorCode::IncompatibleVersion,
                            "cniVersion: " + std::string(cni::to_string(version)) +
                                " does not allow " + std::string(cni::to_string(command)));
    }
}

// Runs the command; returns what goes to stdout on success.
std::string run(const std::string& input) {
    plugin::Invocation invocation;
    invocation.env = cni::parse_environment([](const char* name) { return std::getenv(name); });
    if (invocation.env.command == cni::Command::Version) return version_reply();
    invocation.config = cni::parse_config(input);
    enable_logging(std::getenv("TWILL_CNI_LOG_LEVEL") ? "" : invocation.config.log_level);
    require_version(invocation.env.command, invocation.config.version);
    sys::log(sys::LogLevel::debug, std::string(cni::to_string(invocation.env.command)) +
                                       " container " + invocation.env.container_id + " ifname " +
                                       invocation.env.ifname + " netns " + invocation.env.netns);
    switch (invocation.env.command) {
        case cni::Command::Add:
            return plugin::add(invocation);
        case cni::Command::Del:
            plugin::del(invocation);
            break;
        case cni::Command::Check:
            plugin::check(invocation);
            break;
        case cni::Command::Status:
            plugin::status(invocation);
            break;
        case cni::Command::Gc:
            plugin::gc(invocation);
            break;
        case cni::Command::Version:
            break;
    }
    return {};
}

}  // namespace

int main() {
    sys::set_log_sink(write_log_line);
    if (const char* level = std::getenv("TWILL_CNI_LOG_LEVEL")) {
        try {
            enable_logging(level);
        } catch (const std::exception&) {
            // An unknown level is not worth failing a pod start for; logging stays off.
        }
    }
    std::string input;
    cni::ErrorCode code = cni::ErrorCode::Internal;
    std::string message;
    std::string details;
    try {
        input = read_stdin();
        const auto output = run(input);
        if (!output.empty()) write_stdout(output);
        return 0;
    } catch (const cni::CniError& e) {
        code = e.code();
        message = e.what();
        details = e.details();
    } catch (const std::exception& e) {
        message = e.what();
    }
    sys::log(sys::LogLevel::error,
             message + " (code " + std::to_string(static_cast<int>(code)) + ")");
    const auto version = cni::peek_version(input).value_or(cni::latest_version);
    write_stdout(cni::error_json(code, message, details, version));
    return 1;
}
