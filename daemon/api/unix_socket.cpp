#include "unix_socket.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <twill/error.hpp>
#include <twill/sys/fd.hpp>

namespace twill::api {

void check_unix_socket_path(const std::filesystem::path& path) {
    if (path.empty()) throw ParseError("socket path", "empty");
    if (path.native().size() >= sizeof(sockaddr_un::sun_path))
        throw ParseError("socket path", path.native() + " is longer than the " +
                                            std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                            " bytes a unix socket address holds");
}

int probe_unix_socket(const std::filesystem::path& path) {
    check_unix_socket_path(path);
    sys::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("create unix socket");
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.native().size());
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0)
        return 0;
    return errno;
}

}  // namespace twill::api
