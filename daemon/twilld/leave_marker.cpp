#include "leave_marker.hpp"

#include <unistd.h>

#include <cerrno>

#include "twill/error.hpp"
#include "twill/sys/file.hpp"

namespace twill::daemon {

std::filesystem::path leave_marker_path(const std::filesystem::path& state_dir) {
    return state_dir / "left";
}

bool has_left(const std::filesystem::path& state_dir) {
    return leave_reason(state_dir).has_value();
}

std::optional<std::string> leave_reason(const std::filesystem::path& state_dir) {
    auto text = sys::read_file(leave_marker_path(state_dir));
    if (!text) return std::nullopt;
    while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
    return text;
}

void write_leave_marker(const std::filesystem::path& state_dir, const std::string& why) {
    sys::make_directories(state_dir);
    sys::write_file_atomic(leave_marker_path(state_dir), why + "\n", 0600);
}

void remove_leave_marker(const std::filesystem::path& state_dir) {
    const auto path = leave_marker_path(state_dir);
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) throw_errno("remove " + path.string());
}

}  // namespace twill::daemon
