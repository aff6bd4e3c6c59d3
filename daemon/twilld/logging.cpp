#include "logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "twill/sys/log.hpp"

namespace twill::daemon {

namespace {

// %j: the message as a JSON string (quoted and escaped), so a log line stays one valid object
// whatever the message holds.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        const auto text = nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
                              .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        dest.append(text.data(), text.data() + text.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JsonMessageFlag>();
    }
};

}  // namespace

void setup_logging(const std::string& level, const std::string& format) {
    auto logger = spdlog::stderr_logger_mt("twilld");
    if (format == "json") {
        auto formatter = std::make_unique<spdlog::pattern_formatter>();
        formatter->add_flag<JsonMessageFlag>('j').set_pattern(
            R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":%j})");
        logger->set_formatter(std::move(formatter));
    } else {
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %-5l %v");
    }
    logger->set_level(spdlog::level::from_str(level));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
    // The libraries the plugin shares log through twill::sys::log: into the same logger.
    sys::set_log_sink([](sys::LogLevel level, std::string_view message) {
        const auto mapped = level == sys::LogLevel::debug  ? spdlog::level::debug
                            : level == sys::LogLevel::info ? spdlog::level::info
                            : level == sys::LogLevel::warn ? spdlog::level::warn
                                                           : spdlog::level::err;
        spdlog::log(mapped, "{}", message);
    });
}

}  // namespace twill::daemon
