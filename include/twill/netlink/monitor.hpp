#pragma once
// netlink::Monitor: change notifications for links, addresses, routes, neighbours and FDB
// entries of one namespace, for an event loop (Boost.Asio: wrap fd() in a
// posix::stream_descriptor, async_wait(wait_read), then drain()).
#include <memory>
#include <variant>
#include <vector>

#include "twill/netlink/netns.hpp"
#include "twill/netlink/objects.hpp"

namespace twill::netlink {

struct Event {
    enum class Kind { link, address, route, neighbour, fdb };
    enum class Action { added, removed };  // "added" also means changed (RTM_NEW*)

    Kind kind;
    Action action;
    std::variant<Link, InterfaceAddress, Route, Neighbour, FdbEntry> object;
};

struct MonitorOptions {
    bool links = true;
    bool addresses = true;   // v4 and v6
    bool routes = true;      // v4 and v6
    bool neighbours = true;  // ARP/NDP and FDB (both arrive on RTNLGRP_NEIGH)
    // Socket receive buffer: how many notifications may queue before the kernel drops them.
    int receive_buffer_bytes = 4 * 1024 * 1024;
};

struct DrainResult {
    std::vector<Event> events;
    // The kernel dropped notifications (ENOBUFS: the socket overran). Events were lost:
    // the caller must dump and reconcile everything it watches.
    bool resync_needed = false;
};

class Monitor {
  public:
    explicit Monitor(MonitorOptions options = {});  // the calling thread's namespace
    explicit Monitor(const Netns& netns, MonitorOptions options = {});
    Monitor(Monitor&&) noexcept;
    Monitor& operator=(Monitor&&) noexcept;
    Monitor(const Monitor&) = delete;
    Monitor& operator=(const Monitor&) = delete;
    ~Monitor();

    // Non-blocking socket; readable when events are pending.
    int fd() const noexcept;
    // Parses everything pending without blocking. Messages of other kinds are skipped.
    // Throws SystemError for failures other than overrun.
    DrainResult drain();

  private:
    struct Socket;
    void subscribe(const MonitorOptions& options);
    std::unique_ptr<Socket> socket_;
};

}  // namespace twill::netlink
