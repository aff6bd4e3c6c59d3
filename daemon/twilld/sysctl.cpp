#include "sysctl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "twill/error.hpp"
#include "twill/sys/fd.hpp"
#include "twill/sys/file.hpp"

namespace twill::daemon {

namespace {
constexpr const char* kIpForward = "/proc/sys/net/ipv4/ip_forward";
}

std::optional<bool> ip_forward_enabled() {
    try {
        auto content = sys::read_file(kIpForward);
        if (!content || content->empty()) return std::nullopt;
        return content->front() == '1';
    } catch (const Error&) {
        return std::nullopt;
    }
}

void enable_ip_forward() {
    sys::UniqueFd fd(::open(kIpForward, O_WRONLY | O_CLOEXEC));
    if (!fd) throw_errno(std::string("open ") + kIpForward);
    if (::write(fd.get(), "1\n", 2) != 2) throw_errno(std::string("write 1 to ") + kIpForward);
}

}  // namespace twill::daemon
