#pragma once
// CNI specification versions the plugin speaks. A config of any supported version is
// accepted; results are written in the version the config asked for.
#include <optional>
#include <span>
#include <string_view>

namespace twill::cni {

enum class Version { v0_3_0, v0_3_1, v0_4_0, v1_0_0, v1_1_0 };

std::optional<Version> parse_version(std::string_view text);
std::string_view to_string(Version version);
// Every version above, oldest first (the VERSION verb lists them).
std::span<const Version> supported_versions();
constexpr Version latest_version = Version::v1_1_0;

// What a version allows: CHECK came with 0.4.0, STATUS and GC with 1.1.0, and results
// before 1.0.0 carry "version" in each IP.
inline bool supports_check(Version v) {
    return v >= Version::v0_4_0;
}
inline bool supports_status_and_gc(Version v) {
    return v >= Version::v1_1_0;
}
inline bool ips_carry_version(Version v) {
    return v < Version::v1_0_0;
}

}  // namespace twill::cni
