#include "twill/node/sysctl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "twill/error.hpp"
#include "twill/sys/fd.hpp"
#include "twill/sys/file.hpp"

namespace twill::node {

namespace {

std::string path_of(std::string_view name) {
    std::string path = "/proc/sys/" + std::string(name);
    std::replace(path.begin() + 10, path.end(), '.', '/');
    return path;
}

}  // namespace

std::optional<std::string> read_sysctl(std::string_view name) {
    try {
        auto content = sys::read_file(path_of(name));
        if (!content) return std::nullopt;
        while (!content->empty() && (content->back() == '\n' || content->back() == ' ')) {
            content->pop_back();
        }
        return content;
    } catch (const Error&) {
        return std::nullopt;
    }
}

void write_sysctl(std::string_view name, std::string_view value) {
    const auto path = path_of(name);
    sys::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) throw_errno("open " + path);
    const std::string text = std::string(value) + "\n";
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
        throw_errno("write " + std::string(value) + " to " + path);
    }
}

}  // namespace twill::node
