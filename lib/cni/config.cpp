#include "twill/cni/config.hpp"

#include <array>
#include <nlohmann/json.hpp>

#include "json_fields.hpp"
#include "twill/cni/environment.hpp"
#include "twill/cni/error.hpp"

namespace twill::cni {

using nlohmann::json;

namespace {

constexpr std::array<std::string_view, 7> log_levels{"trace", "debug",    "info", "warn",
                                                     "error", "critical", "off"};

json decode(std::string_view text) {
    json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded())
        throw CniError(ErrorCode::DecodeFailure, "decoding config: not valid JSON");
    if (!value.is_object())
        throw CniError(ErrorCode::DecodeFailure, "decoding config: not a JSON object");
    return value;
}

void validate_network_name(const std::string& name) {
    // The spec's pattern for network names: ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$ (it becomes a
    // directory name under dataDir, so this matters).
    if (name.empty()) throw ParseError("name", "empty");
    for (std::size_t i = 0; i < name.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(name[i]);
        if (!(std::isalnum(c) || (i > 0 && (c == '_' || c == '.' || c == '-')))) {
            throw ParseError("name", "\"" + name + "\" has an invalid character at position " +
                                         std::to_string(i));
        }
    }
}

std::filesystem::path directory(const json& config, std::string_view key,
                                std::filesystem::path fallback) {
    auto value = detail::optional_string(config, key, "");
    if (!value) return fallback;
    if (value->empty() || (*value)[0] != '/')
        throw ParseError(key, "\"" + *value + "\" is not an absolute path");
    return *value;
}

std::vector<Attachment> attachments(const json& list, std::string_view field) {
    if (!list.is_array()) throw ParseError(field, "expected an array");
    std::vector<Attachment> result;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const auto f = detail::index(field, i);
        detail::require_object(list[i], f);
        result.push_back({detail::required_string(list[i], "containerID", f),
                          detail::required_string(list[i], "ifname", f)});
    }
    return result;
}

Version version_of(const json& config) {
    const auto* value = detail::find(config, "cniVersion");
    if (!value) throw CniError(ErrorCode::InvalidConfig, "cniVersion: missing");
    if (!value->is_string())
        throw CniError(ErrorCode::InvalidConfig, "cniVersion: expected a string");
    const auto text = value->get<std::string>();
    const auto version = parse_version(text);
    if (!version) {
        std::string supported;
        for (const auto v : supported_versions())
            supported += (supported.empty() ? "" : ", ") + std::string(to_string(v));
        throw CniError(
            ErrorCode::IncompatibleVersion,
            "cniVersion: \"" + text + "\" is not supported (supported: " + supported + ")");
    }
    return *version;
}

}  // namespace

std::optional<Version> peek_version(std::string_view text) {
    const json value = json::parse(text, nullptr, false);
    if (!value.is_object()) return std::nullopt;
    const auto it = value.find("cniVersion");
    if (it == value.end() || !it->is_string()) return std::nullopt;
    return parse_version(it->get<std::string>());
}

Config parse_config(std::string_view text) {
    const json value = decode(text);
    Config config;
    config.version = version_of(value);
    try {
        config.name = detail::required_string(value, "name", "");
        validate_network_name(config.name);
        config.type = detail::required_string(value, "type", "");
        config.run_dir = directory(value, "runDir", config.run_dir);
        config.data_dir = directory(value, "dataDir", config.data_dir);
        if (auto level = detail::optional_string(value, "logLevel", "")) {
            if (std::find(log_levels.begin(), log_levels.end(), *level) == log_levels.end()) {
                throw ParseError(
                    "logLevel",
                    "\"" + *level +
                        "\" is not one of trace, debug, info, warn, error, critical, off");
            }
            config.log_level = *level;
        }
        if (const auto* dns = detail::find(value, "dns")) config.dns = dns_from_json(*dns, "dns");
        if (const auto* prev = detail::find(value, "prevResult"))
            config.prev_result = result_from_json(*prev, "prevResult");
        for (const auto* key : {"cni.dev/valid-attachments", "cni.dev/attachments"}) {
            if (const auto* list = detail::find(value, key)) {
                config.valid_attachments = attachments(*list, key);
                break;
            }
        }
    } catch (const ParseError& e) {
        throw CniError(ErrorCode::InvalidConfig, e.what());
    }
    return config;
}

}  // namespace twill::cni
