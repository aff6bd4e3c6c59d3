#include "twill/probe/echo_socket.hpp"

#include <arpa/inet.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <array>
#include <cstring>

#include "twill/error.hpp"

namespace twill::probe {

namespace {

constexpr std::array<std::uint8_t, 8> kMagic{'t', 'w', 'i', 'l', 'l', 'p', 'r', 'b'};
constexpr std::size_t kEchoHeader = 8;  // type, code, checksum, identifier, sequence
constexpr std::size_t kPayload = kMagic.size() + sizeof(std::uint64_t);
constexpr std::uint8_t kEchoRequest4 = 8, kEchoReply4 = 0;

std::uint16_t internet_checksum(const std::uint8_t* data, std::size_t size) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < size; i += 2)
        sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
    if (size % 2) sum += static_cast<std::uint32_t>(data[size - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

std::uint16_t random_identifier() {
    std::uint16_t value = 0;
    if (::getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value))
        throw_errno("getrandom for the ICMP identifier");
    return value;
}

}  // namespace

EchoSocket::EchoSocket(net::Family family) : family_(family), identifier_(random_identifier()) {
    const bool v4 = family == net::Family::v4;
    const char* what = v4 ? "raw ICMP socket" : "raw ICMPv6 socket";
    const int domain = v4 ? AF_INET : AF_INET6;
    const int protocol = v4 ? static_cast<int>(IPPROTO_ICMP) : static_cast<int>(IPPROTO_ICMPV6);
    fd_.reset(::socket(domain, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
    if (!fd_) throw_errno(std::string("open ") + what);
    const int on = 1;
    if (::setsockopt(fd_.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0)
        throw_errno(std::string("set SO_TIMESTAMPNS on the ") + what);
    // Only echo replies reach the socket; everything else is filtered in the kernel.
    if (v4) {
        icmp_filter filter{};
        filter.data = ~(1U << kEchoReply4);
        if (::setsockopt(fd_.get(), SOL_RAW, ICMP_FILTER, &filter, sizeof filter) < 0)
            throw_errno("set ICMP_FILTER on the raw ICMP socket");
    } else {
        icmp6_filter filter{};
        ICMP6_FILTER_SETBLOCKALL(&filter);
        ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
        if (::setsockopt(fd_.get(), IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) < 0)
            throw_errno("set ICMP6_FILTER on the raw ICMPv6 socket");
    }
}

int EchoSocket::send(const net::Address& to, std::uint64_t token) {
    if (to.family() != family_)
        throw Error("probe " + to.to_string() + ": address family differs from the socket's");
    std::array<std::uint8_t, kEchoHeader + kPayload> packet{};
    packet[0] = family_ == net::Family::v4 ? kEchoRequest4 : ICMP6_ECHO_REQUEST;
    const std::uint16_t id = htons(identifier_), seq = htons(++sequence_);
    std::memcpy(&packet[4], &id, 2);
    std::memcpy(&packet[6], &seq, 2);
    std::memcpy(&packet[kEchoHeader], kMagic.data(), kMagic.size());
    std::memcpy(&packet[kEchoHeader + kMagic.size()], &token, sizeof token);
    // The kernel computes the ICMPv6 checksum (it covers a pseudo header); ICMPv4's is ours.
    if (family_ == net::Family::v4) {
        const std::uint16_t checksum = htons(internet_checksum(packet.data(), packet.size()));
        std::memcpy(&packet[2], &checksum, 2);
    }
    sockaddr_storage storage{};
    socklen_t length = 0;
    if (family_ == net::Family::v4) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
        sin->sin_family = AF_INET;
        std::memcpy(&sin->sin_addr, to.bytes().data(), 4);
        length = sizeof(sockaddr_in);
    } else {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
        sin6->sin6_family = AF_INET6;
        std::memcpy(&sin6->sin6_addr, to.bytes().data(), 16);
        length = sizeof(sockaddr_in6);
    }
    if (::sendto(fd_.get(), packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&storage),
                 length) < 0)
        return errno;
    return 0;
}

std::size_t EchoSocket::receive(const std::function<void(const EchoReply&)>& on_reply) {
    std::size_t count = 0;
    std::array<std::uint8_t, 1500> buffer{};
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(timespec))> control{};
    for (;;) {
        sockaddr_storage storage{};
        iovec io{buffer.data(), buffer.size()};
        msghdr message{};
        message.msg_name = &storage;
        message.msg_namelen = sizeof storage;
        message.msg_iov = &io;
        message.msg_iovlen = 1;
        message.msg_control = control.data();
        message.msg_controllen = control.size();
        const ssize_t size = ::recvmsg(fd_.get(), &message, 0);
        if (size < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return count;
            if (errno == EINTR) continue;
            throw_errno("read the raw ICMP socket");
        }
        ++count;
        // A raw IPv4 socket hands over the IP header too; ICMPv6 starts at the ICMP header.
        std::size_t offset = 0;
        if (family_ == net::Family::v4) {
            if (size < 20) continue;
            offset = static_cast<std::size_t>(buffer[0] & 0x0f) * 4;
        }
        if (static_cast<std::size_t>(size) < offset + kEchoHeader + kPayload) continue;
        const std::uint8_t* icmp = buffer.data() + offset;
        if (icmp[0] != (family_ == net::Family::v4 ? kEchoReply4 : ICMP6_ECHO_REPLY)) continue;
        std::uint16_t id = 0;
        std::memcpy(&id, icmp + 4, 2);
        if (ntohs(id) != identifier_) continue;
        if (std::memcmp(icmp + kEchoHeader, kMagic.data(), kMagic.size()) != 0) continue;
        EchoReply reply;
        std::memcpy(&reply.token, icmp + kEchoHeader + kMagic.size(), sizeof reply.token);
        reply.received = std::chrono::steady_clock::now();
        for (auto* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
            timespec stamp{};
            std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
            const auto at = std::chrono::system_clock::time_point(
                std::chrono::duration_cast<std::chrono::system_clock::duration>(
                    std::chrono::seconds(stamp.tv_sec) + std::chrono::nanoseconds(stamp.tv_nsec)));
            const auto waited = std::chrono::system_clock::now() - at;
            if (waited > std::chrono::system_clock::duration::zero()) reply.received -= waited;
        }
        net::Address& from = reply.from;
        if (storage.ss_family == AF_INET) {
            const auto* sin = reinterpret_cast<const sockaddr_in*>(&storage);
            from = net::Address::from_bytes(
                net::Family::v4, {reinterpret_cast<const std::uint8_t*>(&sin->sin_addr), 4});
        } else if (storage.ss_family == AF_INET6) {
            const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage);
            from = net::Address::from_bytes(
                net::Family::v6, {reinterpret_cast<const std::uint8_t*>(&sin6->sin6_addr), 16});
        } else {
            continue;
        }
        on_reply(reply);
    }
}

}  // namespace twill::probe
