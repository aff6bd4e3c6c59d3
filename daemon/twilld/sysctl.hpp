#pragma once
#include <optional>
#include <string>

namespace twill::daemon {

// net.ipv4.ip_forward of the daemon's network namespace: the one host setting twill owns
// (DESIGN.md principle 3). nullopt when it cannot be read.
std::optional<bool> ip_forward_enabled();
// Sets it to 1; throws SystemError naming the file.
void enable_ip_forward();

}  // namespace twill::daemon
