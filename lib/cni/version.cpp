#include "twill/cni/version.hpp"

#include <array>
#include <utility>

namespace twill::cni {

namespace {
constexpr std::array<std::pair<Version, std::string_view>, 5> names{{
    {Version::v0_3_0, "0.3.0"},
    {Version::v0_3_1, "0.3.1"},
    {Version::v0_4_0, "0.4.0"},
    {Version::v1_0_0, "1.0.0"},
    {Version::v1_1_0, "1.1.0"},
}};
constexpr std::array<Version, 5> all{Version::v0_3_0, Version::v0_3_1, Version::v0_4_0,
                                     Version::v1_0_0, Version::v1_1_0};
}  // namespace

std::optional<Version> parse_version(std::string_view text) {
    for (const auto& [version, name] : names) {
        if (name == text) return version;
    }
    return std::nullopt;
}

std::string_view to_string(Version version) {
    for (const auto& [v, name] : names) {
        if (v == version) return name;
    }
    return "?";
}

std::span<const Version> supported_versions() {
    return all;
}

}  // namespace twill::cni
