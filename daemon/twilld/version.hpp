#pragma once
#include <string_view>

namespace twill::daemon {
inline constexpr std::string_view kVersion = TWILL_VERSION;
}
