#pragma once
// The one host setting twill owns (DESIGN.md principle 3): forwarding, in the calling
// thread's network namespace. Names are sysctl's dotted names ("net.ipv4.ip_forward").
#include <optional>
#include <string>
#include <string_view>

namespace twill::node {

// The value without its trailing newline; nullopt when it cannot be read.
std::optional<std::string> read_sysctl(std::string_view name);
// Throws SystemError naming the file.
void write_sysctl(std::string_view name, std::string_view value);

}  // namespace twill::node
