#include "twill/firewall/change_monitor.hpp"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>

#include "twill/error.hpp"

namespace twill::firewall {

ChangeMonitor::ChangeMonitor()
    : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_NETFILTER)) {
    if (!fd_) throw_errno("open nftables notification socket");
    sockaddr_nl address{};
    address.nl_family = AF_NETLINK;
    if (::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0) {
        throw_errno("bind nftables notification socket");
    }
    const int group = NFNLGRP_NFTABLES;
    if (::setsockopt(fd_.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
        throw_errno("join netlink group NFNLGRP_NFTABLES");
    }
}

bool ChangeMonitor::drain() {
    std::array<char, 16384> buffer;
    bool changed = false;
    for (;;) {
        const ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), 0);
        if (n > 0) {
            changed = true;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == ENOBUFS) {  // notifications were lost: assume a change
            changed = true;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) throw_errno("read nftables notifications");
        return changed;
    }
}

}  // namespace twill::firewall
