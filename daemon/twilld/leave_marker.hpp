#pragma once
// `<state-dir>/left`: written by a successful `netctl leave`, so that a twilld restarted by
// its supervisor (systemd, the DaemonSet) stays out of the cluster instead of joining again.
// `netctl join`, `twilld --join` or deleting the file ends it.
#include <filesystem>
#include <optional>
#include <string>

namespace twill::daemon {

std::filesystem::path leave_marker_path(const std::filesystem::path& state_dir);
// The marker's text (when and why the node left), or nullopt when the node has not left.
std::optional<std::string> read_leave_marker(const std::filesystem::path& state_dir);
bool has_left(const std::filesystem::path& state_dir);
void write_leave_marker(const std::filesystem::path& state_dir, const std::string& why);
// No error when there is none.
void remove_leave_marker(const std::filesystem::path& state_dir);

}  // namespace twill::daemon
