#pragma once
// A raw ICMP (or ICMPv6) socket that sends echo requests carrying a probe token and reads
// back the echo replies that answer this socket's requests. Raw sockets see every echo reply
// in the network namespace; the identifier and a magic word in the payload tell ours apart.
#include <chrono>
#include <cstdint>
#include <functional>

#include "twill/net/address.hpp"
#include "twill/sys/fd.hpp"

namespace twill::probe {

struct EchoReply {
    net::Address from;
    std::uint64_t token = 0;
    // When the kernel received it (SO_TIMESTAMPNS), on the steady clock: an RTT does not
    // include how long the reply waited in the socket for a busy event loop.
    std::chrono::steady_clock::time_point received;
};

class EchoSocket {
  public:
    // Needs CAP_NET_RAW. Throws SystemError naming the socket.
    explicit EchoSocket(net::Family family);

    int fd() const { return fd_.get(); }
    net::Family family() const { return family_; }
    std::uint16_t identifier() const { return identifier_; }

    // Sends one echo request; returns 0 or the errno of a failed send (no route, no buffer
    // space: the probe then simply goes unanswered and counts as lost).
    int send(const net::Address& to, std::uint64_t token);

    // Reads every queued datagram without blocking and calls `on_reply` for each echo reply
    // to this socket. Returns how many datagrams were read.
    std::size_t receive(const std::function<void(const EchoReply&)>& on_reply);

  private:
    net::Family family_;
    sys::UniqueFd fd_;
    std::uint16_t identifier_;
    std::uint16_t sequence_ = 0;
};

}  // namespace twill::probe
