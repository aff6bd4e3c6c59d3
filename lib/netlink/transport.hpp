#pragma once
// Internal: an rtnetlink socket (libnl's nl_sock, opened in a given namespace) and the
// request/answer exchange on it, read with libmnl so that the kernel's errno and extended
// ack message reach the caller unchanged.
#include <linux/netlink.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "libnl.hpp"
#include "twill/netlink/netns.hpp"

namespace twill::netlink::detail {

// A connected NETLINK_ROUTE socket in `netns` (nullptr: the calling thread's namespace).
LibnlPtr<nl_sock> open_route_socket(const Netns* netns);

using MessageHandler = std::function<void(const nlmsghdr*)>;
// Builds the operation's description for an error message, only when one is thrown.
using Describe = std::function<std::string()>;

class RtnlSocket {
  public:
    explicit RtnlSocket(const Netns* netns);

    int fd() const noexcept;

    // Sends `message` with NLM_F_ACK and waits for the answer; data replies (to a GET) go to
    // `on_reply`. Throws SystemError "<describe()>: <reason> (errno N)".
    void request(nl_msg* message, const Describe& describe, const MessageHandler& on_reply = {});
    // One dump request of `type` for `family`; each answer goes to `on_message`. When the
    // kernel flags the dump as interrupted (the table changed meanwhile) `on_restart` runs and
    // the dump starts over.
    void dump(std::uint16_t type, std::uint8_t family, const MessageHandler& on_message,
              const std::function<void()>& on_restart, const Describe& describe);

  private:
    // Reads answers to `seq` until the ack, error or end of dump. Returns whether a dump
    // was flagged interrupted.
    bool receive(std::uint32_t seq, const MessageHandler& on_message, const Describe& describe);
    void send(nlmsghdr* header, const Describe& describe);

    LibnlPtr<nl_sock> socket_;
    std::vector<char> buffer_;
    std::uint32_t seq_;
};

// A kernel error answer (NLMSG_ERROR, or NLMSG_DONE of a failed dump): the errno and the
// extended ack text when the kernel sent one.
struct KernelError {
    int code = EPROTO;
    std::string message;
};
KernelError parse_kernel_error(const nlmsghdr* answer);
// SystemError "<what> [kernel: <message>]: <strerror> (errno N)".
[[noreturn]] void throw_kernel_error(const KernelError& error, const std::string& what);

}  // namespace twill::netlink::detail
