#pragma once
#include <string>

namespace twill::daemon {
// spdlog to stderr, "text" or "json" (one object per line), at `level`.
void setup_logging(const std::string& level, const std::string& format);
}  // namespace twill::daemon
