#include "twill/netlink/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "twill/error.hpp"
#include "twill/sys/file.hpp"
#include "twill/sys/log.hpp"

namespace twill::netlink {

namespace {

void check_name(std::string_view name) {
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos)
        throw ParseError("network namespace name",
                         "\"" + std::string(name) + "\" is not a valid name");
}

// iproute2 makes the run directory a shared mount (bind-mounting it on itself first if it is
// not a mount point yet), so that namespaces mounted there show up in every mount namespace.
void make_run_dir_shared() {
    const std::string dir(netns_run_dir);
    sys::make_directories(dir, 0755);
    bool bound = false;
    while (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0) {
        if (errno != EINVAL || bound) throw_errno("make " + dir + " a shared mount");
        if (::mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0)
            throw_errno("bind-mount " + dir + " on itself");
        bound = true;
    }
}

}  // namespace

Netns::Netns(sys::UniqueFd fd, std::string description)
    : fd_(std::move(fd)), description_(std::move(description)) {
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) throw_errno("stat network namespace " + description_);
    inode_ = st.st_ino;
    dev_ = st.st_dev;
}

Netns Netns::current() {
    sys::UniqueFd fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open current network namespace");
    return Netns(std::move(fd), "");
}

Netns Netns::open_path(const std::filesystem::path& path) {
    sys::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open network namespace " + path.string());
    return Netns(std::move(fd), path.string());
}

std::filesystem::path Netns::path_of(std::string_view name) {
    check_name(name);
    return std::filesystem::path(netns_run_dir) / std::string(name);
}

Netns Netns::open_name(std::string_view name) {
    return open_path(path_of(name));
}

std::optional<Netns> Netns::try_open_name(std::string_view name) {
    try {
        return open_name(name);
    } catch (const SystemError& e) {
        if (e.code() == ENOENT) return std::nullopt;
        throw;
    }
}

Netns Netns::duplicate() const {
    sys::UniqueFd fd(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
    if (!fd) throw_errno("duplicate network namespace handle " + description_);
    return Netns(std::move(fd), description_);
}

Netns Netns::create(std::string_view name) {
    const auto path = path_of(name);
    make_run_dir_shared();
    {
        sys::UniqueFd placeholder(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0));
        if (!placeholder) throw_errno("create network namespace " + path.string());
    }
    int error = 0;
    std::string step;
    // unshare() moves the calling thread for good, so a thread of its own does it.
    std::thread([&] {
        if (::unshare(CLONE_NEWNET) != 0) {
            error = errno;
            step = "unshare";
        } else if (::mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) !=
                   0) {
            error = errno;
            step = "bind-mount";
        }
    }).join();
    if (error) {
        ::unlink(path.c_str());
        throw SystemError("create network namespace " + path.string() + " (" + step + ")", error);
    }
    return open_path(path);
}

bool Netns::remove(std::string_view name) {
    const auto path = path_of(name);
    if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
        throw_errno("unmount network namespace " + path.string());
    if (::unlink(path.c_str()) != 0) {
        if (errno == ENOENT) return false;
        throw_errno("remove network namespace " + path.string());
    }
    return true;
}

void Netns::run_on_thread(const std::function<void()>& fn) const {
    int error = 0;
    std::exception_ptr exception;
    std::thread([&] {
        if (::setns(fd_.get(), CLONE_NEWNET) != 0) {
            error = errno;
            return;
        }
        try {
            fn();
        } catch (...) {
            exception = std::current_exception();
        }
    }).join();
    if (error) throw SystemError("enter network namespace " + description_, error);
    if (exception) std::rethrow_exception(exception);
}

OwnedNetns::OwnedNetns(std::string name) : name_(std::move(name)), netns_(Netns::create(name_)) {}

OwnedNetns::OwnedNetns(OwnedNetns&& other) noexcept
    : name_(std::move(other.name_)), netns_(std::move(other.netns_)) {
    other.netns_.reset();
}

OwnedNetns& OwnedNetns::operator=(OwnedNetns&& other) noexcept {
    if (this != &other) {
        release();
        name_ = std::move(other.name_);
        netns_ = std::move(other.netns_);
        other.netns_.reset();
    }
    return *this;
}

OwnedNetns::~OwnedNetns() {
    release();
}

void OwnedNetns::release() noexcept {
    if (!netns_) return;
    netns_.reset();
    try {
        Netns::remove(name_);
    } catch (const std::exception& e) {
        sys::log(sys::LogLevel::warn, e.what());  // a destructor cannot throw
    }
}

}  // namespace twill::netlink
