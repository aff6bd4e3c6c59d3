#pragma once
// Typed reads of JSON object members that throw ParseError naming the member, shared by the
// config and lease codecs.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace twill::subnet::detail {

// Parses `text` as a JSON object; `what` names it in errors ("config", "lease value").
nlohmann::json parse_object(std::string_view text, std::string_view what);

// The member `name` of `object` if present (and not null); `field` is the name used in errors.
std::optional<std::string> optional_string(const nlohmann::json& object, const char* name,
                                           std::string_view field);
std::optional<bool> optional_bool(const nlohmann::json& object, const char* name,
                                  std::string_view field);
// An integer between `min` and `max` inclusive.
std::optional<std::int64_t> optional_integer(const nlohmann::json& object, const char* name,
                                             std::string_view field, std::int64_t min,
                                             std::int64_t max);

}  // namespace twill::subnet::detail
