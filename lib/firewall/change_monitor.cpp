#include "twill/firewall/change_monitor.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "twill/error.hpp"
#include "twill/firewall/ruleset.hpp"

namespace twill::firewall {

namespace {

// Every nf_tables object message (table, chain, rule, set, element, object, flowtable) names
// its table in attribute 1 (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, ...).
constexpr unsigned short kTableAttribute = 1;

bool names_twill_table(const nlmsghdr* message) {
    if ((message->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES) return false;
    if ((message->nlmsg_type & 0xff) == NFT_MSG_NEWGEN) return false;
    if (message->nlmsg_len < NLMSG_LENGTH(sizeof(nfgenmsg))) return false;
    const auto* header = static_cast<const nfgenmsg*>(NLMSG_DATA(message));
    if (header->nfgen_family != NFPROTO_INET) return false;
    const auto* cursor = reinterpret_cast<const char*>(header) + NLMSG_ALIGN(sizeof(nfgenmsg));
    const auto* end = reinterpret_cast<const char*>(message) + message->nlmsg_len;
    while (cursor + NLA_HDRLEN <= end) {
        nlattr attribute;
        std::memcpy(&attribute, cursor, sizeof attribute);
        if (attribute.nla_len < NLA_HDRLEN || cursor + attribute.nla_len > end) return false;
        if ((attribute.nla_type & NLA_TYPE_MASK) == kTableAttribute) {
            std::string_view name(cursor + NLA_HDRLEN, attribute.nla_len - NLA_HDRLEN);
            while (!name.empty() && name.back() == '\0') name.remove_suffix(1);
            return name == table_name;
        }
        cursor += NLA_ALIGN(attribute.nla_len);
    }
    return false;
}

}  // namespace

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
    alignas(nlmsghdr) std::array<char, 16384> buffer;
    bool changed = false;
    for (;;) {
        const ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), 0);
        if (n > 0) {
            std::size_t left = static_cast<std::size_t>(n);
            for (auto* message = reinterpret_cast<const nlmsghdr*>(buffer.data());
                 NLMSG_OK(message, left); message = NLMSG_NEXT(message, left)) {
                changed = changed || names_twill_table(message);
            }
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == ENOBUFS) {  // notifications were lost: assume a change
            changed = true;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            throw_errno("read nftables notifications");
        return changed;
    }
}

}  // namespace twill::firewall
