#pragma once
// Network namespaces: a handle (an open fd on the namespace), named namespaces like
// `ip netns add/del` (for tests and the demo), and running code inside a namespace on a
// temporary thread so that the caller's thread never moves for good.
#include <sys/types.h>

#include <exception>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "twill/sys/fd.hpp"

namespace twill::netlink {

// Where iproute2 keeps named namespaces.
inline constexpr std::string_view netns_run_dir = "/var/run/netns";

class Netns {
  public:
    // The calling thread's network namespace.
    static Netns current();
    // A namespace file (CNI_NETNS is such a path: /var/run/netns/x, /proc/<pid>/ns/net).
    // Throws SystemError naming the path.
    static Netns open_path(const std::filesystem::path& path);
    // /var/run/netns/<name>; throws SystemError (ENOENT when it does not exist).
    static Netns open_name(std::string_view name);
    static std::optional<Netns> try_open_name(std::string_view name);

    // `ip netns add <name>`: a new namespace bind-mounted at /var/run/netns/<name> (the
    // directory is made a shared mount as iproute2 does). Throws SystemError (EEXIST if the
    // name is taken); leaves nothing behind on failure.
    static Netns create(std::string_view name);
    // `ip netns del <name>`: unmounts and removes the name. Returns false when it did not
    // exist; other failures throw. The namespace itself lives on while fds or processes
    // still hold it.
    static bool remove(std::string_view name);
    static std::filesystem::path path_of(std::string_view name);

    Netns(Netns&&) noexcept = default;
    Netns& operator=(Netns&&) noexcept = default;
    Netns(const Netns&) = delete;
    Netns& operator=(const Netns&) = delete;
    Netns duplicate() const;

    int fd() const noexcept { return fd_.get(); }
    // The path it was opened from ("" for current()); for messages.
    const std::string& description() const noexcept { return description_; }
    // Namespace identity (device and inode of the nsfs file).
    ino_t inode() const noexcept { return inode_; }
    bool same_as(const Netns& other) const noexcept {
        return inode_ == other.inode_ && dev_ == other.dev_;
    }

    // Runs `fn` on a temporary thread that entered this namespace and returns its result;
    // an exception thrown by `fn` is rethrown here. The calling thread is untouched.
    template <typename Fn>
    std::invoke_result_t<Fn&> run(Fn&& fn) const {
        using Result = std::invoke_result_t<Fn&>;
        if constexpr (std::is_void_v<Result>) {
            run_on_thread([&] { fn(); });
        } else {
            std::optional<Result> result;
            run_on_thread([&] { result.emplace(fn()); });
            return std::move(*result);
        }
    }

  private:
    Netns(sys::UniqueFd fd, std::string description);
    void run_on_thread(const std::function<void()>& fn) const;

    sys::UniqueFd fd_;
    std::string description_;
    ino_t inode_ = 0;
    dev_t dev_ = 0;
};

// A named namespace this process created and removes again in its destructor (tests, demo).
class OwnedNetns {
  public:
    explicit OwnedNetns(std::string name);  // Netns::create
    OwnedNetns(OwnedNetns&& other) noexcept;
    OwnedNetns& operator=(OwnedNetns&& other) noexcept;
    OwnedNetns(const OwnedNetns&) = delete;
    OwnedNetns& operator=(const OwnedNetns&) = delete;
    ~OwnedNetns();

    const std::string& name() const noexcept { return name_; }
    std::filesystem::path path() const { return Netns::path_of(name_); }
    const Netns& netns() const noexcept { return *netns_; }
    operator const Netns&() const noexcept { return *netns_; }

  private:
    void release() noexcept;
    std::string name_;
    std::optional<Netns> netns_;
};

}  // namespace twill::netlink
