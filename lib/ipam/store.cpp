#include "twill/ipam/store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <unordered_set>

#include "twill/sys/fd.hpp"
#include "twill/sys/file.hpp"

namespace twill::ipam {

namespace {

constexpr const char* lock_name = "lock";
constexpr const char* temp_name = ".reserving";

std::string cursor_name(net::Family family) {
    return family == net::Family::v4 ? "last_reserved_ip.v4" : "last_reserved_ip.v6";
}

void write_all(int fd, std::string_view content, const std::string& what) {
    while (!content.empty()) {
        const ssize_t n = ::write(fd, content.data(), content.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("write " + what);
        }
        content.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::optional<std::string> read_at(int dir_fd, const std::string& name,
                                   const std::filesystem::path& dir) {
    sys::UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT) return std::nullopt;
        throw_errno("open " + (dir / name).string());
    }
    char buffer[512];
    std::string content;
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read " + (dir / name).string());
        }
        if (n == 0 || content.size() > 4096) break;
        content.append(buffer, static_cast<std::size_t>(n));
    }
    return content;
}

Attachment parse_owner(std::string_view content) {
    auto next_line = [&content]() {
        const auto end = content.find('\n');
        auto line = content.substr(0, end);
        content = end == std::string_view::npos ? std::string_view{} : content.substr(end + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // host-local writes \r\n
        return std::string(line);
    };
    Attachment owner;
    owner.container_id = next_line();
    owner.ifname = next_line();
    return owner;
}

// The store's directory, opened and flock()ed for one operation.
class LockedDir {
  public:
    explicit LockedDir(const std::filesystem::path& dir) : dir_(dir) {
        fd_.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd_ && errno == ENOENT) {
            sys::make_directories(dir, 0755);
            fd_.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        }
        if (!fd_) throw_errno("open " + dir.string());
        lock_.reset(::openat(fd_.get(), lock_name, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
        if (!lock_) throw_errno("open " + (dir / lock_name).string());
        while (::flock(lock_.get(), LOCK_EX) < 0) {
            if (errno != EINTR) throw_errno("lock " + (dir / lock_name).string());
        }
    }

    int fd() const { return fd_.get(); }
    const std::filesystem::path& path() const { return dir_; }

    // Every file named by an address, with its owner read back when `with_owners`.
    std::vector<Reservation> reservations(bool with_owners) const {
        std::vector<Reservation> result;
        const int dup_fd = ::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dup_fd < 0) throw_errno("open " + dir_.string());
        DIR* dir = ::fdopendir(dup_fd);
        if (!dir) {
            ::close(dup_fd);
            throw_errno("read directory " + dir_.string());
        }
        while (const dirent* entry = ::readdir(dir)) {
            const auto address = net::Address::try_parse(entry->d_name);
            if (!address) continue;
            Reservation r{*address, {}};
            if (with_owners) {
                auto content = read_at(fd_.get(), entry->d_name, dir_);
                if (!content) continue;  // released meanwhile (cannot happen under the lock)
                r.owner = parse_owner(*content);
            }
            result.push_back(std::move(r));
        }
        ::closedir(dir);
        return result;
    }

    void remove(const net::Address& address) const {
        const auto name = address.to_string();
        if (::unlinkat(fd_.get(), name.c_str(), 0) < 0 && errno != ENOENT) {
            throw_errno("remove reservation " + (dir_ / name).string());
        }
    }

    // A process killed before it unlinked its temporary file leaves it behind; it may even
    // be a second link to a finished reservation, so it is unlinked, never truncated.
    void remove_leftover_temp() const {
        if (::unlinkat(fd_.get(), temp_name, 0) < 0 && errno != ENOENT) {
            throw_errno("remove " + (dir_ / temp_name).string());
        }
    }

    // Writes the owner to the temporary file, then links it into place: the reservation
    // appears complete or not at all. False when the address is taken.
    bool create(const net::Address& address, const Attachment& owner) const {
        const auto name = address.to_string();
        remove_leftover_temp();
        {
            sys::UniqueFd temp(
                ::openat(fd_.get(), temp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
            if (!temp) throw_errno("create " + (dir_ / temp_name).string());
            write_all(temp.get(), owner.container_id + "\n" + owner.ifname + "\n",
                      (dir_ / temp_name).string());
        }
        const int linked = ::linkat(fd_.get(), temp_name, fd_.get(), name.c_str(), 0);
        const int link_errno = errno;
        ::unlinkat(fd_.get(), temp_name, 0);
        if (linked < 0) {
            if (link_errno == EEXIST) return false;
            throw SystemError("reserve " + (dir_ / name).string(), link_errno);
        }
        return true;
    }

    std::optional<net::Address> cursor(net::Family family) const {
        const auto content = read_at(fd_.get(), cursor_name(family), dir_);
        if (!content) return std::nullopt;
        auto text = std::string_view(*content);
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
        return net::Address::try_parse(text);
    }

    // Best effort: a torn cursor only makes the next search start at the beginning.
    void set_cursor(const net::Address& address) const {
        const auto name = cursor_name(address.family());
        sys::UniqueFd fd(
            ::openat(fd_.get(), name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd) throw_errno("write " + (dir_ / name).string());
        write_all(fd.get(), address.to_string(), (dir_ / name).string());
    }

  private:
    std::filesystem::path dir_;
    sys::UniqueFd fd_;
    sys::UniqueFd lock_;
};

}  // namespace

Store::Store(std::filesystem::path dir) : dir_(std::move(dir)) {}

net::Address Store::reserve(const net::Prefix& subnet_in, const net::Address& gateway,
                            const Attachment& owner) {
    const auto subnet = subnet_in.network();
    LockedDir dir(dir_);
    std::unordered_set<net::Address> taken;
    for (const auto& r : dir.reservations(false)) {
        if (r.address.family() != subnet.family()) continue;
        if (subnet.contains(r.address)) {
            taken.insert(r.address);
        } else {
            dir.remove(r.address);  // the node's subnet changed: that address is not ours now
        }
    }

    // Host offsets [first, last]: never the network address (offset 0), nor the IPv4
    // broadcast address; capped for huge IPv6 subnets, where the cap is never reached.
    const int host_bits = subnet.host_bits();
    if (host_bits < 2)
        throw Exhausted("no free address in " + subnet.to_string() + ": subnet too small");
    const std::uint64_t size =
        host_bits >= 63 ? (std::uint64_t{1} << 62) : (std::uint64_t{1} << host_bits);
    const std::uint64_t first = 1;
    const std::uint64_t last = subnet.family() == net::Family::v4 ? size - 2 : size - 1;
    const std::uint64_t count = last - first + 1;

    std::uint64_t start = first;
    if (const auto cursor = dir.cursor(subnet.family()); cursor && subnet.contains(*cursor)) {
        const auto offset = cursor->host_index(subnet.length());
        start = offset >= first && offset < last ? offset + 1 : first;
    }
    const auto base = subnet.first();
    for (std::uint64_t i = 0; i < count && i <= taken.size() + 1; ++i) {
        const std::uint64_t offset = first + (start - first + i) % count;
        const auto candidate = base.plus(offset);
        if (candidate == gateway || taken.contains(candidate)) continue;
        if (!dir.create(candidate, owner)) continue;
        dir.set_cursor(candidate);
        return candidate;
    }
    throw Exhausted("no free address in " + subnet.to_string() + " (" +
                    std::to_string(taken.size()) + " reserved in " + dir_.string() + ")");
}

std::vector<net::Address> Store::release(const Attachment& owner) {
    LockedDir dir(dir_);
    dir.remove_leftover_temp();
    std::vector<net::Address> released;
    for (const auto& r : dir.reservations(true)) {
        if (r.owner == owner) {
            dir.remove(r.address);
            released.push_back(r.address);
        }
    }
    return released;
}

std::vector<Reservation> Store::release_all_except(const std::set<Attachment>& keep) {
    LockedDir dir(dir_);
    dir.remove_leftover_temp();
    std::vector<Reservation> released;
    for (auto& r : dir.reservations(true)) {
        if (keep.contains(r.owner)) continue;
        dir.remove(r.address);
        released.push_back(std::move(r));
    }
    return released;
}

std::vector<Reservation> Store::list() const {
    LockedDir dir(dir_);
    return dir.reservations(true);
}

std::optional<Reservation> Store::find(const net::Address& address) const {
    LockedDir dir(dir_);
    const auto content = read_at(dir.fd(), address.to_string(), dir_);
    if (!content) return std::nullopt;
    return Reservation{address, parse_owner(*content)};
}

}  // namespace twill::ipam
