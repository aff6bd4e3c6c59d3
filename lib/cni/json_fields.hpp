#pragma once
// Typed access to JSON fields whose errors name the field ("prevResult.ips[0].address:
// expected a string"). Private to lib/cni.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "twill/error.hpp"

namespace twill::cni::detail {

inline std::string join(std::string_view parent, std::string_view key) {
    return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
}
inline std::string index(std::string_view parent, std::size_t i) {
    return std::string(parent) + "[" + std::to_string(i) + "]";
}

inline const nlohmann::json* find(const nlohmann::json& object, std::string_view key) {
    const auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
}

inline std::optional<std::string> optional_string(const nlohmann::json& object,
                                                  std::string_view key, std::string_view parent) {
    const auto* value = find(object, key);
    if (!value) return std::nullopt;
    if (!value->is_string()) throw ParseError(join(parent, key), "expected a string");
    return value->get<std::string>();
}

inline std::string required_string(const nlohmann::json& object, std::string_view key,
                                   std::string_view parent) {
    auto value = optional_string(object, key, parent);
    if (!value) throw ParseError(join(parent, key), "missing");
    return *value;
}

inline std::optional<int> optional_int(const nlohmann::json& object, std::string_view key,
                                       std::string_view parent) {
    const auto* value = find(object, key);
    if (!value) return std::nullopt;
    if (!value->is_number_integer()) throw ParseError(join(parent, key), "expected an integer");
    const auto n = value->get<long long>();
    if (n < 0 || n > 0x7fffffff) throw ParseError(join(parent, key), "out of range");
    return static_cast<int>(n);
}

inline const nlohmann::json* optional_array(const nlohmann::json& object, std::string_view key,
                                            std::string_view parent) {
    const auto* value = find(object, key);
    if (value && !value->is_array()) throw ParseError(join(parent, key), "expected an array");
    return value;
}

inline void require_object(const nlohmann::json& value, std::string_view field) {
    if (!value.is_object()) throw ParseError(field, "expected an object");
}

}  // namespace twill::cni::detail
