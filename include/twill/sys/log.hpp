#pragma once
// Logging for the libraries the CNI plugin links (lib/net, lib/netlink, lib/ipam, lib/cni):
// a level and a message handed to the sink the program installs (twilld: spdlog; the plugin:
// a line of its own on stderr), so the plugin carries no logging library. Without a sink,
// warnings and errors go to stderr as they are.
#include <string_view>

namespace twill::sys {

enum class LogLevel { debug, info, warn, error };
using LogSink = void (*)(LogLevel level, std::string_view message);

void set_log_sink(LogSink sink);
void log(LogLevel level, std::string_view message);

}  // namespace twill::sys
