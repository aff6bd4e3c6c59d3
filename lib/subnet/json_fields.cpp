#include "json_fields.hpp"

#include "twill/error.hpp"

namespace twill::subnet::detail {

nlohmann::json parse_object(std::string_view text, std::string_view what) {
    auto value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) throw ParseError(what, "not valid JSON");
    if (!value.is_object()) throw ParseError(what, "not a JSON object");
    return value;
}

namespace {
const nlohmann::json* member(const nlohmann::json& object, const char* name) {
    auto it = object.find(name);
    if (it == object.end() || it->is_null()) return nullptr;
    return &*it;
}
}  // namespace

std::optional<std::string> optional_string(const nlohmann::json& object, const char* name,
                                           std::string_view field) {
    const auto* value = member(object, name);
    if (!value) return std::nullopt;
    if (!value->is_string()) throw ParseError(field, "must be a string");
    return value->get<std::string>();
}

std::optional<bool> optional_bool(const nlohmann::json& object, const char* name,
                                  std::string_view field) {
    const auto* value = member(object, name);
    if (!value) return std::nullopt;
    if (!value->is_boolean()) throw ParseError(field, "must be true or false");
    return value->get<bool>();
}

std::optional<std::int64_t> optional_integer(const nlohmann::json& object, const char* name,
                                             std::string_view field, std::int64_t min,
                                             std::int64_t max) {
    const auto* value = member(object, name);
    if (!value) return std::nullopt;
    const auto range = std::to_string(min) + ".." + std::to_string(max);
    if (value->is_number_unsigned()) {
        const auto v = value->get<std::uint64_t>();
        if (v > static_cast<std::uint64_t>(max) ||
            (min > 0 && v < static_cast<std::uint64_t>(min))) {
            throw ParseError(field, std::to_string(v) + " out of range " + range);
        }
        return static_cast<std::int64_t>(v);
    }
    if (!value->is_number_integer()) throw ParseError(field, "must be an integer");
    const auto v = value->get<std::int64_t>();
    if (v < min || v > max) throw ParseError(field, std::to_string(v) + " out of range " + range);
    return v;
}

}  // namespace twill::subnet::detail
