#include "leave_marker.hpp"

#include <unistd.h>

#include <cerrno>

#include "twill/error.hpp"
#include "twill/sys/file.hpp"

namespace twill::daemon {

std::filesystem::path leave_marker_path(const std::filesystem::path& state_dir) {
    return state_dir / "left";
}

std::optional<std::string> read_leave_marker(const std::filesystem::path& state_dir) {
    auto text = sys::read_file(leave_marker_path(state_dir));
    if (text) {
        while (!text->empty() && text->back() == '\n') text->pop_back();
    }
    return text;
}

bool has_left(const std::filesystem::path& state_dir) {
    return read_leave_marker(state_dir).has_value();
}

void write_leave_marker(const std::filesystem::path& state_dir, const std::string& why) {
    sys::make_directories(state_dir, 0700);
    sys::write_file_atomic(leave_marker_path(state_dir), why + "\n", 0644);
}

void remove_leave_marker(const std::filesystem::path& state_dir) {
    const auto path = leave_marker_path(state_dir);
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) throw_errno("remove " + path.string());
}

}  // namespace twill::daemon
