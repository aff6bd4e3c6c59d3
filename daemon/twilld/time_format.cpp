#include "time_format.hpp"

#include <ctime>

namespace twill::daemon {

std::string rfc3339(std::chrono::system_clock::time_point t) {
    if (t.time_since_epoch().count() == 0) return "";
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buffer;
}

}  // namespace twill::daemon
