#pragma once
// The leave marker: `netctl leave` writes it in --state-dir; a twilld that finds it stays out
// of the network (no lease, not ready) until `netctl join` or `twilld --join` removes it.
// Its file name lives here only.
#include <filesystem>
#include <optional>
#include <string>

namespace twill::daemon {

// <state_dir>/left
std::filesystem::path leave_marker_path(const std::filesystem::path& state_dir);

bool has_left(const std::filesystem::path& state_dir);
// Why the node left (the marker's text), nullopt when there is no marker.
std::optional<std::string> leave_reason(const std::filesystem::path& state_dir);

// Written atomically (creating state_dir when missing): a crash leaves the old state or the
// whole marker. Throws SystemError naming the path.
void write_leave_marker(const std::filesystem::path& state_dir, const std::string& why);
// No marker is fine; any other failure throws SystemError naming the path.
void remove_leave_marker(const std::filesystem::path& state_dir);

}  // namespace twill::daemon
