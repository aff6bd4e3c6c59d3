// Every socket twill opens is close-on-exec: wireguard-go, which twilld starts, must inherit
// none of twilld's netlink sockets (it would hold them, and their memberships, after twilld is
// gone).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "require_root.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/netlink/monitor.hpp"
#include "twill/netlink/wireguard.hpp"
#include "twill/sys/fd.hpp"

using namespace twill;

namespace {

// Sockets of this process without FD_CLOEXEC, as "fd N".
std::vector<std::string> inheritable_sockets() {
    std::vector<std::string> found;
    DIR* dir = ::opendir("/proc/self/fd");
    if (!dir) return {"cannot list /proc/self/fd"};
    while (const dirent* entry = ::readdir(dir)) {
        const int fd = std::atoi(entry->d_name);
        if (fd <= 2 || fd == ::dirfd(dir)) continue;
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
        if (!(::fcntl(fd, F_GETFD) & FD_CLOEXEC)) found.push_back("fd " + std::to_string(fd));
    }
    ::closedir(dir);
    return found;
}

TEST(CloseOnExec, NetlinkSocketsAndTheirDuplicatesAreNotInherited) {
    TWILL_REQUIRE_ROOT();
    netlink::Handle handle;
    netlink::Monitor monitor;
    auto wireguard = netlink::WireguardNetlink::open();  // nullopt without the kernel module
    sys::UniqueFd copy(sys::dup_cloexec(monitor.fd()));
    EXPECT_TRUE(inheritable_sockets().empty()) << testing::PrintToString(inheritable_sockets());
    (void)wireguard;
}

}  // namespace
