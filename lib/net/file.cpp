#include "twill/sys/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "twill/error.hpp"
#include "twill/sys/fd.hpp"

namespace twill::sys {

namespace {
void write_all(int fd, std::string_view content, const std::filesystem::path& path) {
    while (!content.empty()) {
        const ssize_t n = ::write(fd, content.data(), content.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("write " + path.string());
        }
        content.remove_prefix(static_cast<std::size_t>(n));
    }
}

void fsync_directory(const std::filesystem::path& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("open directory " + dir.string());
    if (::fsync(fd.get()) < 0) throw_errno("fsync directory " + dir.string());
}
}  // namespace

void write_file_atomic(const std::filesystem::path& path, std::string_view content, mode_t mode) {
    const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    std::random_device random;
    const auto temp = dir / ("." + path.filename().string() + ".tmp." + std::to_string(random()));
    UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (!fd) throw_errno("create " + temp.string());
    try {
        if (::fchmod(fd.get(), mode) < 0) throw_errno("chmod " + temp.string());
        write_all(fd.get(), content, temp);
        if (::fsync(fd.get()) < 0) throw_errno("fsync " + temp.string());
        fd.reset();
        if (::rename(temp.c_str(), path.c_str()) < 0)
            throw_errno("rename " + temp.string() + " to " + path.string());
    } catch (...) {
        ::unlink(temp.c_str());
        throw;
    }
    fsync_directory(dir);
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return std::nullopt;
        throw_errno("open " + path.string());
    }
    std::string content;
    char buffer[8192];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read " + path.string());
        }
        if (n == 0) break;
        content.append(buffer, static_cast<std::size_t>(n));
    }
    return content;
}

void make_directories(const std::filesystem::path& path, mode_t mode) {
    std::filesystem::path current;
    for (const auto& part : path) {
        current /= part;
        if (::mkdir(current.c_str(), mode) < 0 && errno != EEXIST) {
            throw_errno("create directory " + current.string());
        }
    }
}

}  // namespace twill::sys
