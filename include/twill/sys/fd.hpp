#pragma once
#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "twill/error.hpp"

namespace twill::sys {

// Owns a file descriptor and closes it once. Every fd twill opens lives in one of these.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) reset(std::exchange(other.fd_, -1));
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

  private:
    int fd_ = -1;
};

// A duplicate of `fd` with close-on-exec, so that programs twill starts (wireguard-go) never
// inherit it. Throws SystemError.
inline int dup_cloexec(int fd) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) throw_errno("duplicate file descriptor " + std::to_string(fd));
    return copy;
}

}  // namespace twill::sys
