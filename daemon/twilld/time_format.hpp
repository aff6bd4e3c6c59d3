#pragma once
#include <chrono>
#include <string>

namespace twill::daemon {

// "2026-11-25T12:03:01Z"; empty for the zero time point.
std::string rfc3339(std::chrono::system_clock::time_point t);

}  // namespace twill::daemon
