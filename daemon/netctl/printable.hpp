#pragma once
#include <string>
#include <string_view>

namespace twill::netctl {

// Text from etcd (node names, lease values) or the daemon made safe for a terminal: control
// characters (escape sequences, newlines, carriage returns) and DEL are shown as \xNN, so a
// crafted node name can neither forge table rows nor drive the terminal.
std::string printable(std::string_view text);

}  // namespace twill::netctl
