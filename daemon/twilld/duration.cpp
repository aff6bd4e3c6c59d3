#include "duration.hpp"

#include <charconv>
#include <cmath>

#include "twill/error.hpp"

namespace twill::daemon {

std::chrono::milliseconds parse_duration(std::string_view text, std::string_view field) {
    auto fail = [&](std::string_view why) -> std::chrono::milliseconds {
        throw ParseError(field, "\"" + std::string(text) + "\" " + std::string(why) +
                                    " (want seconds, or a number with ms, s, m or h)");
    };
    if (text.empty()) return fail("is empty");
    double value = 0;
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    auto [unit_start, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc{} || unit_start == begin) return fail("is not a duration");
    if (value < 0 || !std::isfinite(value)) return fail("is negative");
    const std::string_view unit(unit_start, static_cast<std::size_t>(end - unit_start));
    double ms = 0;
    if (unit.empty() || unit == "s")
        ms = value * 1000;
    else if (unit == "ms")
        ms = value;
    else if (unit == "m")
        ms = value * 60'000;
    else if (unit == "h")
        ms = value * 3'600'000;
    else
        return fail("has an unknown unit");
    if (ms > 1e15) return fail("is too long");
    return std::chrono::milliseconds(static_cast<long long>(std::llround(ms)));
}

std::string format_duration(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms % 3'600'000 == 0 && ms != 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms % 60'000 == 0 && ms != 0) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

}  // namespace twill::daemon
