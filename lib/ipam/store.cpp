#include "twill/ipam/store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <unordered_set>

#include "twill/sys/fd.hpp"
#include "twill/sys/file.hpp"

namespace twill::ipam {

namespace {

constexpr const char* lock_name = "lock";
constexpr const char* temp_name = ".reserving";
constexpr std::array families = {net::Family::v4, net::Family::v6};

std::string cursor_name(net::Family family) {
    return family == net::Family::v4 ? "last_reserved_ip.v4" : "last_reserved_ip.v6";
}

// The new cursor before it is renamed into place; one fixed name per family (writers hold the
// lock), so a killed writer's leftover is found by name.
std::string cursor_temp_name(net::Family family) {
    return "." + cursor_name(family) + ".tmp";
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

// Every file named by an address in the directory `dir_fd`, with its owner read back when
// `with_owners`. Needs no lock: reservations are linked into place whole and unlinked whole, so
// each is seen complete or not at all.
std::vector<Reservation> read_reservations(int dir_fd, const std::filesystem::path& path,
                                           bool with_owners) {
    std::vector<Reservation> result;
    const int dup_fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup_fd < 0) throw_errno("open " + path.string());
    DIR* dir = ::fdopendir(dup_fd);
    if (!dir) {
        ::close(dup_fd);
        throw_errno("read directory " + path.string());
    }
    try {
        while (const dirent* entry = ::readdir(dir)) {
            const auto address = net::Address::try_parse(entry->d_name);
            if (!address) continue;
            Reservation r{*address, {}};
            if (with_owners) {
                auto content = read_at(dir_fd, entry->d_name, path);
                if (!content) continue;  // released meanwhile
                r.owner = parse_owner(*content);
            }
            result.push_back(std::move(r));
        }
    } catch (...) {
        ::closedir(dir);
        throw;
    }
    ::closedir(dir);
    return result;
}

// The store's directory opened for reading only: no lock, nothing created or removed, so that
// twilld can count pod IPs on a read-only mount of it. Nullopt when it does not exist yet.
std::optional<sys::UniqueFd> open_for_reading(const std::filesystem::path& dir) {
    sys::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return std::nullopt;
        throw_errno("open " + dir.string());
    }
    return fd;
}

void fsync_fd(int fd, const std::string& what) {
    if (::fsync(fd) < 0) throw_errno("fsync " + what);
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

    const std::filesystem::path& path() const { return dir_; }

    std::vector<Reservation> reservations(bool with_owners) const {
        return read_reservations(fd_.get(), dir_, with_owners);
    }

    void remove(const net::Address& address) const {
        const auto name = address.to_string();
        if (::unlinkat(fd_.get(), name.c_str(), 0) < 0 && errno != ENOENT) {
            throw_errno("remove reservation " + (dir_ / name).string());
        }
    }

    // A process killed before it unlinked its temporary files leaves them behind; the
    // reservation's may even be a second link to a finished reservation, so they are
    // unlinked, never truncated.
    void remove_leftover_temps() const {
        unlink_if_present(temp_name);
        for (const auto family : families) unlink_if_present(cursor_temp_name(family));
    }

    // Makes the creations, renames and removals so far durable.
    void sync() const { fsync_fd(fd_.get(), "directory " + dir_.string()); }

    // Writes the owner to the temporary file and fsyncs it, then links it into place: the
    // reservation appears complete or not at all, also after a power loss. False when the
    // address is taken. The caller syncs the directory.
    bool create(const net::Address& address, const Attachment& owner) const {
        const auto name = address.to_string();
        {
            sys::UniqueFd temp(
                ::openat(fd_.get(), temp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
            if (!temp) throw_errno("create " + (dir_ / temp_name).string());
            write_all(temp.get(), owner.container_id + "\n" + owner.ifname + "\n",
                      (dir_ / temp_name).string());
            fsync_fd(temp.get(), (dir_ / temp_name).string());
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

    // Replaces the cursor whole (temporary file, fsync, rename): readers see the old one or
    // the new one, never an empty or partial one. The caller syncs the directory.
    void set_cursor(const net::Address& address) const {
        const auto name = cursor_name(address.family());
        const auto temp = cursor_temp_name(address.family());
        {
            sys::UniqueFd fd(::openat(fd_.get(), temp.c_str(),
                                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
            if (!fd) throw_errno("create " + (dir_ / temp).string());
            write_all(fd.get(), address.to_string(), (dir_ / temp).string());
            fsync_fd(fd.get(), (dir_ / temp).string());
        }
        if (::renameat(fd_.get(), temp.c_str(), fd_.get(), name.c_str()) < 0)
            throw_errno("rename " + (dir_ / temp).string() + " to " + name);
    }

  private:
    void unlink_if_present(const std::string& name) const {
        if (::unlinkat(fd_.get(), name.c_str(), 0) < 0 && errno != ENOENT) {
            throw_errno("remove " + (dir_ / name).string());
        }
    }

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
    dir.remove_leftover_temps();
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
        dir.sync();  // the reservation and the cursor (and any drops above) are durable now
        return candidate;
    }
    throw Exhausted("no free address in " + subnet.to_string() + " (" +
                    std::to_string(taken.size()) + " reserved in " + dir_.string() + ")");
}

std::vector<net::Address> Store::release(const Attachment& owner) {
    LockedDir dir(dir_);
    dir.remove_leftover_temps();
    std::vector<net::Address> released;
    for (const auto& r : dir.reservations(true)) {
        if (r.owner == owner) {
            dir.remove(r.address);
            released.push_back(r.address);
        }
    }
    if (!released.empty()) dir.sync();
    return released;
}

std::vector<Reservation> Store::release_all_except(const std::set<Attachment>& keep) {
    LockedDir dir(dir_);
    dir.remove_leftover_temps();
    std::vector<Reservation> released;
    for (auto& r : dir.reservations(true)) {
        if (keep.contains(r.owner)) continue;
        dir.remove(r.address);
        released.push_back(std::move(r));
    }
    if (!released.empty()) dir.sync();
    return released;
}

std::vector<Reservation> Store::list() const {
    const auto fd = open_for_reading(dir_);
    if (!fd) return {};
    return read_reservations(fd->get(), dir_, true);
}

std::vector<Reservation> Store::owned_by(const Attachment& owner) const {
    auto all = list();
    std::erase_if(all, [&](const Reservation& r) { return r.owner != owner; });
    return all;
}

std::optional<Reservation> Store::find(const net::Address& address) const {
    const auto fd = open_for_reading(dir_);
    if (!fd) return std::nullopt;
    const auto content = read_at(fd->get(), address.to_string(), dir_);
    if (!content) return std::nullopt;
    return Reservation{address, parse_owner(*content)};
}

}  // namespace twill::ipam
