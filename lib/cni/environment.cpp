#include "twill/cni/environment.hpp"

#include <array>
#include <cctype>

#include "twill/cni/error.hpp"

namespace twill::cni {

namespace {
constexpr std::array<std::pair<Command, std::string_view>, 6> command_names{{
    {Command::Add, "ADD"},
    {Command::Del, "DEL"},
    {Command::Check, "CHECK"},
    {Command::Version, "VERSION"},
    {Command::Status, "STATUS"},
    {Command::Gc, "GC"},
}};

[[noreturn]] void invalid(std::string_view field, std::string_view reason) {
    throw CniError(ErrorCode::InvalidEnvironment, std::string(field) + ": " + std::string(reason));
}

std::string required(const EnvLookup& lookup, const char* name) {
    const char* value = lookup(name);
    if (value == nullptr || *value == '\0') invalid(name, "required but not set");
    return value;
}

std::string optional_value(const EnvLookup& lookup, const char* name) {
    const char* value = lookup(name);
    return value ? value : "";
}

std::vector<std::pair<std::string, std::string>> parse_args(std::string_view text) {
    std::vector<std::pair<std::string, std::string>> args;
    while (!text.empty()) {
        const auto end = text.find(';');
        const auto pair = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            invalid("CNI_ARGS", "\"" + std::string(pair) + "\" is not KEY=VALUE");
        }
        args.emplace_back(std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1)));
    }
    return args;
}
}  // namespace

std::optional<Command> parse_command(std::string_view text) {
    for (const auto& [command, name] : command_names) {
        if (name == text) return command;
    }
    return std::nullopt;
}

std::string_view to_string(Command command) {
    for (const auto& [c, name] : command_names) {
        if (c == command) return name;
    }
    return "?";
}

void validate_container_id(std::string_view id, std::string_view field) {
    // The spec's pattern: ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$
    if (id.empty()) invalid(field, "empty");
    for (std::size_t i = 0; i < id.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(id[i]);
        const bool ok = std::isalnum(c) || (i > 0 && (c == '_' || c == '.' || c == '-'));
        if (!ok)
            invalid(field, "\"" + std::string(id) + "\" has an invalid character at position " +
                               std::to_string(i));
    }
}

void validate_ifname(std::string_view ifname, std::string_view field) {
    if (ifname.empty()) invalid(field, "empty");
    if (ifname.size() > 15)
        invalid(field, "\"" + std::string(ifname) + "\" is longer than 15 characters");
    if (ifname == "." || ifname == "..")
        invalid(field, "\"" + std::string(ifname) + "\" is not a valid name");
    for (const char c : ifname) {
        if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c))) {
            invalid(field, "\"" + std::string(ifname) + "\" contains '/', ':' or whitespace");
        }
    }
}

Environment parse_environment(const EnvLookup& lookup) {
    Environment env;
    const auto command_text = required(lookup, "CNI_COMMAND");
    const auto command = parse_command(command_text);
    if (!command) invalid("CNI_COMMAND", "unknown command \"" + command_text + "\"");
    env.command = *command;
    const bool attachment =
        env.command == Command::Add || env.command == Command::Del || env.command == Command::Check;
    if (attachment) {
        env.container_id = required(lookup, "CNI_CONTAINERID");
        validate_container_id(env.container_id, "CNI_CONTAINERID");
        env.ifname = required(lookup, "CNI_IFNAME");
        validate_ifname(env.ifname, "CNI_IFNAME");
        env.netns = env.command == Command::Del ? optional_value(lookup, "CNI_NETNS")
                                                : required(lookup, "CNI_NETNS");
    }
    env.args = parse_args(optional_value(lookup, "CNI_ARGS"));
    env.path = optional_value(lookup, "CNI_PATH");
    return env;
}

}  // namespace twill::cni
