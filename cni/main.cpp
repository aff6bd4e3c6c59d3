// twill, the CNI plugin. containerd (or any CNI runtime) runs it once per verb with the
// CNI_* environment and the network config on stdin; it answers on stdout (a result, or a
// spec error as JSON with a non-zero exit). Nothing goes to stderr unless asked for with the
// config key "logLevel" or the environment variable TWILL_CNI_LOG_LEVEL.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "invocation.hpp"

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

void enable_logging(const std::string& level) {
    if (level.empty() || level == "off") return;
    auto logger = spdlog::stderr_color_st("twill");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l twill[%P] %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(level));
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
    spdlog::debug("{} container {} ifname {} netns {}", cni::to_string(invocation.env.command),
                  invocation.env.container_id, invocation.env.ifname, invocation.env.netns);
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
    spdlog::set_level(spdlog::level::off);
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
    spdlog::error("{} (code {})", message, static_cast<int>(code));
    const auto version = cni::peek_version(input).value_or(cni::latest_version);
    write_stdout(cni::error_json(code, message, details, version));
    return 1;
}
