#include "transport.hpp"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <optional>

#include "twill/error.hpp"
#include "twill/netlink/failpoints.hpp"

namespace twill::netlink::detail {

namespace {

constexpr std::size_t receive_buffer_size = 64 * 1024;  // the kernel fills at most 32 KiB per read
constexpr int max_dump_attempts = 10;

std::size_t family_header_size(std::uint16_t type) {
    switch (type) {
        case RTM_GETLINK:
            return sizeof(ifinfomsg);
        case RTM_GETADDR:
            return sizeof(ifaddrmsg);
        case RTM_GETROUTE:
            return sizeof(rtmsg);
        case RTM_GETNEIGH:
            return sizeof(ndmsg);
        default:
            return sizeof(rtgenmsg);
    }
}

}  // namespace

LibnlPtr<nl_sock> open_route_socket(const Netns* netns) {
    LibnlPtr<nl_sock> socket(nl_socket_alloc());
    if (!socket) throw SystemError("allocate netlink socket", ENOMEM);
    auto connect = [&] { return nl_connect(socket.get(), NETLINK_ROUTE); };
    const int result = netns ? netns->run(connect) : connect();
    if (result < 0) {
        const std::string where = netns ? " in network namespace " + netns->description() : "";
        // nl_connect fails on socket()/bind(): errno still holds the reason.
        throw SystemError("open rtnetlink socket" + where, errno ? errno : EINVAL);
    }
    const int one = 1;
    const int fd = nl_socket_get_fd(socket.get());
    // Not inherited by programs twill starts (wireguard-go), whatever libnl's version does.
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    // Extended acks carry the kernel's own explanation; capped acks do not echo the request.
    ::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    ::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    return socket;
}

RtnlSocket::RtnlSocket(const Netns* netns)
    : socket_(open_route_socket(netns)),
      buffer_(receive_buffer_size),
      seq_(
          static_cast<std::uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count())) {
}

int RtnlSocket::fd() const noexcept {
    return nl_socket_get_fd(socket_.get());
}

void RtnlSocket::send(nlmsghdr* header, const Describe& describe) {
    for (;;) {
        const ssize_t sent = ::send(fd(), header, header->nlmsg_len, 0);
        if (sent >= 0) return;
        if (errno != EINTR) throw_errno(describe() + " (send)");
    }
}

void RtnlSocket::request(nl_msg* message, const Describe& describe,
                         const MessageHandler& on_reply) {
    nlmsghdr* header = nlmsg_hdr(message);
    header->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    header->nlmsg_seq = ++seq_;
    header->nlmsg_pid = 0;
    send(header, describe);
    receive(header->nlmsg_seq, on_reply, describe);
}

void RtnlSocket::dump(std::uint16_t type, std::uint8_t family, const MessageHandler& on_message,
                      const std::function<void()>& on_restart, const Describe& describe) {
    check_failpoint(type == RTM_GETROUTE  ? "dump_routes"
                    : type == RTM_GETLINK ? "dump_links"
                    : type == RTM_GETADDR ? "dump_addresses"
                    : family == AF_BRIDGE ? "dump_fdb"
                                          : "dump_neighbours");
    alignas(
        nlmsghdr) char request[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(rtmsg) + sizeof(ifinfomsg))]{};
    for (int attempt = 1;; ++attempt) {
        nlmsghdr* header = mnl_nlmsg_put_header(request);
        header->nlmsg_type = type;
        header->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        header->nlmsg_seq = ++seq_;
        auto* family_header = static_cast<std::uint8_t*>(
            mnl_nlmsg_put_extra_header(header, family_header_size(type)));
        family_header[0] = family;  // every rtnetlink header starts with its family
        send(header, describe);
        if (!receive(header->nlmsg_seq, on_message, describe)) return;
        if (attempt == max_dump_attempts)
            throw SystemError(describe() + " (kept changing during the dump)", EAGAIN);
        if (on_restart) on_restart();
    }
}

bool RtnlSocket::receive(std::uint32_t seq, const MessageHandler& on_message,
                         const Describe& describe) {
    bool interrupted = false;
    // A handler that throws must not leave the rest of the answer unread: the kernel keeps
    // a dump going on this socket (and refuses the next one with EBUSY) until it is read.
    std::exception_ptr handler_failure;
    std::optional<KernelError> kernel_error;
    for (;;) {
        const ssize_t received = ::recv(fd(), buffer_.data(), buffer_.size(), MSG_TRUNC);
        if (received < 0) {
            if (errno == EINTR) continue;
            throw_errno(describe() + " (receive)");
        }
        if (static_cast<std::size_t>(received) > buffer_.size())
            throw SystemError(describe() + " (answer larger than the receive buffer)", EMSGSIZE);
        bool finished = false;
        int remaining = static_cast<int>(received);
        for (auto* message = reinterpret_cast<const nlmsghdr*>(buffer_.data());
             !finished && mnl_nlmsg_ok(message, remaining);
             message = mnl_nlmsg_next(message, &remaining)) {
            if (message->nlmsg_seq != seq) continue;  // the tail of an abandoned earlier request
            if (message->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
            if (message->nlmsg_type == NLMSG_ERROR) {
                finished = true;
                if (static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(message))->error != 0)
                    kernel_error = parse_kernel_error(message);
            } else if (message->nlmsg_type == NLMSG_DONE) {
                finished = true;
                if (message->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) &&
                    *static_cast<const int*>(mnl_nlmsg_get_payload(message)) < 0)
                    kernel_error = parse_kernel_error(message);
            } else if (message->nlmsg_type >= NLMSG_MIN_TYPE && on_message && !handler_failure) {
                try {
                    on_message(message);
                } catch (...) {
                    handler_failure = std::current_exception();
                }
            }
        }
        if (!finished) continue;
        if (handler_failure) std::rethrow_exception(handler_failure);
        // describe() only now: it may issue requests that reuse the buffer.
        if (kernel_error) throw_kernel_error(*kernel_error, describe());
        return interrupted;
    }
}

KernelError parse_kernel_error(const nlmsghdr* message) {
    KernelError result;
    const auto* payload = static_cast<const char*>(mnl_nlmsg_get_payload(message));
    const std::size_t payload_len = message->nlmsg_len - MNL_NLMSG_HDRLEN;
    if (message->nlmsg_type == NLMSG_DONE) {
        if (payload_len >= sizeof(int)) result.code = -*reinterpret_cast<const int*>(payload);
    } else if (payload_len >= sizeof(nlmsgerr)) {
        const auto* err = reinterpret_cast<const nlmsgerr*>(payload);
        result.code = -err->error;
        if (message->nlmsg_flags & NLM_F_ACK_TLVS) {
            std::size_t offset = sizeof(nlmsgerr);
            if (!(message->nlmsg_flags & NLM_F_CAPPED))
                offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
            if (offset < payload_len) {
                const char* text = nullptr;
                mnl_attr_parse_payload(
                    payload + offset, payload_len - offset,
                    [](const nlattr* attribute, void* data) {
                        if (mnl_attr_get_type(attribute) == NLMSGERR_ATTR_MSG &&
                            mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) == 0)
                            *static_cast<const char**>(data) = mnl_attr_get_str(attribute);
                        return MNL_CB_OK;
                    },
                    &text);
                if (text) result.message = text;
            }
        }
    }
    if (result.code <= 0) result.code = EPROTO;
    return result;
}

void throw_kernel_error(const KernelError& error, const std::string& what) {
    throw SystemError(error.message.empty() ? what : what + " [kernel: " + error.message + "]",
                      error.code);
}

}  // namespace twill::netlink::detail
