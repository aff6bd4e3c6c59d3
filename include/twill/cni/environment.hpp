#pragma once
// The CNI_* environment a runtime passes to a plugin, validated per command.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace twill::cni {

enum class Command { Add, Del, Check, Version, Status, Gc };

std::optional<Command> parse_command(std::string_view text);
std::string_view to_string(Command command);

struct Environment {
    Command command = Command::Version;
    std::string container_id;                               // CNI_CONTAINERID
    std::string netns;                                      // CNI_NETNS (a path)
    std::string ifname;                                     // CNI_IFNAME
    std::vector<std::pair<std::string, std::string>> args;  // CNI_ARGS "K=V;K2=V2"
    std::string path;                                       // CNI_PATH
};

// A lookup like ::getenv (injectable for tests); returns nullptr when unset.
using EnvLookup = std::function<const char*(const char*)>;

// Reads and validates the variables `command` needs (ADD and CHECK: container id, netns,
// ifname; DEL: container id and ifname). Throws CniError code 4 naming the variable.
Environment parse_environment(const EnvLookup& lookup);

// The spec's rules, shared by the environment and GC's attachment list (throw CniError 4).
void validate_container_id(std::string_view id, std::string_view field);
void validate_ifname(std::string_view ifname, std::string_view field);

}  // namespace twill::cni
