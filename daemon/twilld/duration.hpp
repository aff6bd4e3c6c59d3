#pragma once
#include <chrono>
#include <string>
#include <string_view>

namespace twill::daemon {

// A flag duration: a plain number of seconds ("30") or a number with a unit ("500ms", "90s",
// "5m", "24h"). Throws ParseError naming `field` for anything else or a negative value.
std::chrono::milliseconds parse_duration(std::string_view text, std::string_view field);
std::string format_duration(std::chrono::milliseconds d);

}  // namespace twill::daemon
