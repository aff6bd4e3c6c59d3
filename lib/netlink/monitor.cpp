#include "twill/netlink/monitor.hpp"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "libnl.hpp"
#include "transport.hpp"
#include "twill/error.hpp"

namespace twill::netlink {

struct Monitor::Socket {
    detail::LibnlPtr<nl_sock> socket;
    std::vector<char> buffer = std::vector<char>(64 * 1024);
};

namespace {

Event::Action action_of(std::uint16_t type) {
    switch (type) {
        case RTM_DELLINK:
        case RTM_DELADDR:
        case RTM_DELROUTE:
        case RTM_DELNEIGH:
            return Event::Action::removed;
        default:
            return Event::Action::added;
    }
}

std::optional<Event> parse_event(const nlmsghdr* message) {
    const Event::Action action = action_of(message->nlmsg_type);
    const auto family = *static_cast<const std::uint8_t*>(NLMSG_DATA(message));
    switch (message->nlmsg_type) {
        case RTM_NEWLINK:
        case RTM_DELLINK:
            // AF_BRIDGE link messages are bridge port state notes; the port's own AF_UNSPEC
            // message reports the link itself.
            if (family == AF_BRIDGE) break;
            if (auto link = detail::parse_link(message))
                return Event{Event::Kind::link, action, std::move(*link)};
            break;
        case RTM_NEWADDR:
        case RTM_DELADDR:
            if (auto address = detail::parse_address(message))
                return Event{Event::Kind::address, action, *address};
            break;
        case RTM_NEWROUTE:
        case RTM_DELROUTE:
            if (static_cast<const rtmsg*>(NLMSG_DATA(message))->rtm_flags & RTM_F_CLONED) break;
            if (auto route = detail::parse_route(message))
                return Event{Event::Kind::route, action, std::move(*route)};
            break;
        case RTM_NEWNEIGH:
        case RTM_DELNEIGH:
            if (family == AF_BRIDGE) {
                if (auto entry = detail::parse_fdb(message))
                    return Event{Event::Kind::fdb, action, *entry};
            } else if (auto neighbour = detail::parse_neighbour(message)) {
                return Event{Event::Kind::neighbour, action, *neighbour};
            }
            break;
        default:
            break;
    }
    return std::nullopt;
}

}  // namespace

Monitor::Monitor(MonitorOptions options) : socket_(std::make_unique<Socket>()) {
    socket_->socket = detail::open_route_socket(nullptr);
    subscribe(options);
}

Monitor::Monitor(const Netns& netns, MonitorOptions options) : socket_(std::make_unique<Socket>()) {
    socket_->socket = detail::open_route_socket(&netns);
    subscribe(options);
}

Monitor::Monitor(Monitor&&) noexcept = default;
Monitor& Monitor::operator=(Monitor&&) noexcept = default;
Monitor::~Monitor() = default;

void Monitor::subscribe(const MonitorOptions& options) {
    nl_sock* sock = socket_->socket.get();
    const int fd = nl_socket_get_fd(sock);
    const std::pair<bool, int> groups[] = {
        {options.links, RTNLGRP_LINK},
        {options.addresses, RTNLGRP_IPV4_IFADDR},
        {options.addresses, RTNLGRP_IPV6_IFADDR},
        {options.routes, RTNLGRP_IPV4_ROUTE},
        {options.routes, RTNLGRP_IPV6_ROUTE},
        {options.neighbours, RTNLGRP_NEIGH},
    };
    for (const auto& [wanted, group] : groups) {
        if (!wanted) continue;
        if (::setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) != 0)
            throw_errno("subscribe to rtnetlink group " + std::to_string(group));
    }
    // Root may exceed net.core.rmem_max; others get what the limit allows.
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &options.receive_buffer_bytes, sizeof(int)) !=
        0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options.receive_buffer_bytes, sizeof(int));
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        throw_errno("make monitor socket non-blocking");
}

int Monitor::fd() const noexcept {
    return nl_socket_get_fd(socket_->socket.get());
}

DrainResult Monitor::drain() {
    DrainResult result;
    auto& buffer = socket_->buffer;
    for (;;) {
        const ssize_t received = ::recv(fd(), buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (received < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == ENOBUFS) {  // notifications were dropped; the socket works on
                result.resync_needed = true;
                continue;
            }
            throw_errno("read rtnetlink notifications");
        }
        int remaining = static_cast<int>(received);
        for (auto* message = reinterpret_cast<const nlmsghdr*>(buffer.data());
             mnl_nlmsg_ok(message, remaining); message = mnl_nlmsg_next(message, &remaining)) {
            if (message->nlmsg_type == NLMSG_OVERRUN) result.resync_needed = true;
            if (message->nlmsg_type < NLMSG_MIN_TYPE) continue;
            if (auto event = parse_event(message)) result.events.push_back(std::move(*event));
        }
    }
    return result;
}

}  // namespace twill::netlink
