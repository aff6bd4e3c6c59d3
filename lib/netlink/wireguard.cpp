#include "twill/netlink/wireguard.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>

#include "twill/error.hpp"

namespace twill::netlink {

std::string WireguardEndpoint::to_string() const {
    const auto text = address.to_string();
    return (address.is_v6() ? "[" + text + "]" : text) + ":" + std::to_string(port);
}

namespace {

constexpr std::size_t receive_buffer_size = 64 * 1024;

class MessageBuffer {
  public:
    MessageBuffer(std::size_t size, std::uint16_t family_id, std::uint8_t command,
                  std::uint16_t flags, std::uint32_t seq)
        : bytes_(size) {
        header_ = mnl_nlmsg_put_header(bytes_.data());
        header_->nlmsg_type = family_id;
        header_->nlmsg_flags = flags;
        header_->nlmsg_seq = seq;
        auto* genl =
            static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(header_, sizeof(genlmsghdr)));
        genl->cmd = command;
        genl->version = WG_GENL_VERSION;
    }
    nlmsghdr* header() { return header_; }
    std::size_t size() const { return bytes_.size(); }
    GenlMessage take() {
        bytes_.resize(header_->nlmsg_len);
        return std::move(bytes_);
    }

  private:
    GenlMessage bytes_;
    nlmsghdr* header_ = nullptr;
};

void put_ifname(nlmsghdr* header, std::string_view ifname) {
    const std::string name(ifname);
    mnl_attr_put_strz(header, WGDEVICE_A_IFNAME, name.c_str());
}

// One peer as a nested attribute; false (and nothing added) when it does not fit.
bool put_peer(nlmsghdr* header, std::size_t size, const WireguardPeerChange& change) {
    const auto& peer = change.peer;
    nlattr* nest = mnl_attr_nest_start_check(header, size, 0);
    if (!nest) return false;
    bool fits = mnl_attr_put_check(header, size, WGPEER_A_PUBLIC_KEY, peer.public_key.size(),
                                   peer.public_key.data());
    const std::uint32_t flags = change.remove ? WGPEER_F_REMOVE_ME : WGPEER_F_REPLACE_ALLOWEDIPS;
    fits = fits && mnl_attr_put_u32_check(header, size, WGPEER_A_FLAGS, flags);
    if (!change.remove) {
        if (peer.endpoint) {
            if (peer.endpoint->address.is_v4()) {
                sockaddr_in address{};
                address.sin_family = AF_INET;
                address.sin_port = htons(peer.endpoint->port);
                std::memcpy(&address.sin_addr, peer.endpoint->address.bytes().data(), 4);
                fits = fits && mnl_attr_put_check(header, size, WGPEER_A_ENDPOINT, sizeof address,
                                                  &address);
            } else {
                sockaddr_in6 address{};
                address.sin6_family = AF_INET6;
                address.sin6_port = htons(peer.endpoint->port);
                std::memcpy(&address.sin6_addr, peer.endpoint->address.bytes().data(), 16);
                fits = fits && mnl_attr_put_check(header, size, WGPEER_A_ENDPOINT, sizeof address,
                                                  &address);
            }
        }
        fits = fits && mnl_attr_put_u16_check(header, size, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
                                              peer.persistent_keepalive);
        nlattr* ips = fits ? mnl_attr_nest_start_check(header, size, WGPEER_A_ALLOWEDIPS) : nullptr;
        fits = fits && ips;
        for (const auto& prefix : peer.allowed_ips) {
            nlattr* ip = fits ? mnl_attr_nest_start_check(header, size, 0) : nullptr;
            fits = fits && ip;
            const auto bytes = prefix.address().bytes();
            fits = fits && mnl_attr_put_u16_check(header, size, WGALLOWEDIP_A_FAMILY,
                                                  prefix.address().is_v4() ? AF_INET : AF_INET6);
            fits = fits && mnl_attr_put_check(header, size, WGALLOWEDIP_A_IPADDR, bytes.size(),
                                              bytes.data());
            fits = fits && mnl_attr_put_u8_check(header, size, WGALLOWEDIP_A_CIDR_MASK,
                                                 static_cast<std::uint8_t>(prefix.length()));
            if (fits) mnl_attr_nest_end(header, ip);
        }
        if (fits) mnl_attr_nest_end(header, ips);
    }
    if (!fits) {
        mnl_attr_nest_cancel(header, nest);
        return false;
    }
    mnl_attr_nest_end(header, nest);
    return true;
}

// libmnl's mnl_attr_for_each_nested, which C++ cannot compile (it assigns void*).
template <typename Visit>
void for_each_nested(const nlattr* nest, const Visit& visit) {
    const auto* begin = static_cast<const char*>(mnl_attr_get_payload(nest));
    const auto* end = begin + mnl_attr_get_payload_len(nest);
    for (const auto* attribute = reinterpret_cast<const nlattr*>(begin);
         mnl_attr_ok(attribute, static_cast<int>(end - reinterpret_cast<const char*>(attribute)));
         attribute = mnl_attr_next(attribute)) {
        visit(attribute);
    }
}

WireguardKey key_of(const nlattr* attribute) {
    WireguardKey key{};
    if (mnl_attr_get_payload_len(attribute) == key.size())
        std::memcpy(key.data(), mnl_attr_get_payload(attribute), key.size());
    return key;
}

std::optional<net::Prefix> parse_allowed_ip(const nlattr* nest) {
    std::optional<std::uint16_t> family;
    const nlattr* address = nullptr;
    std::optional<std::uint8_t> mask;
    for_each_nested(nest, [&](const nlattr* attribute) {
        switch (mnl_attr_get_type(attribute)) {
            case WGALLOWEDIP_A_FAMILY:
                family = mnl_attr_get_u16(attribute);
                break;
            case WGALLOWEDIP_A_IPADDR:
                address = attribute;
                break;
            case WGALLOWEDIP_A_CIDR_MASK:
                mask = mnl_attr_get_u8(attribute);
                break;
            default:
                break;
        }
    });
    if (!family || !address || !mask) return std::nullopt;
    const auto net_family = *family == AF_INET ? net::Family::v4 : net::Family::v6;
    const std::size_t length = net_family == net::Family::v4 ? 4 : 16;
    if ((*family != AF_INET && *family != AF_INET6) || mnl_attr_get_payload_len(address) != length)
        return std::nullopt;
    const auto* bytes = static_cast<const std::uint8_t*>(mnl_attr_get_payload(address));
    return net::Prefix(
        net::Address::from_bytes(net_family, std::span<const std::uint8_t>(bytes, length)), *mask);
}

std::optional<WireguardEndpoint> parse_endpoint(const nlattr* attribute) {
    const auto length = mnl_attr_get_payload_len(attribute);
    const auto* payload = mnl_attr_get_payload(attribute);
    if (length >= sizeof(sockaddr_in) &&
        static_cast<const sockaddr*>(payload)->sa_family == AF_INET) {
        sockaddr_in address;
        std::memcpy(&address, payload, sizeof address);
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(&address.sin_addr);
        return WireguardEndpoint{
            net::Address::from_bytes(net::Family::v4, std::span<const std::uint8_t>(bytes, 4)),
            ntohs(address.sin_port)};
    }
    if (length >= sizeof(sockaddr_in6) &&
        static_cast<const sockaddr*>(payload)->sa_family == AF_INET6) {
        sockaddr_in6 address;
        std::memcpy(&address, payload, sizeof address);
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(&address.sin6_addr);
        return WireguardEndpoint{
            net::Address::from_bytes(net::Family::v6, std::span<const std::uint8_t>(bytes, 16)),
            ntohs(address.sin6_port)};
    }
    return std::nullopt;
}

void parse_peer(const nlattr* nest, WireguardDeviceConfig& config) {
    WireguardPeer peer;
    bool has_key = false;
    for_each_nested(nest, [&](const nlattr* attribute) {
        switch (mnl_attr_get_type(attribute)) {
            case WGPEER_A_PUBLIC_KEY:
                peer.public_key = key_of(attribute);
                has_key = true;
                break;
            case WGPEER_A_ENDPOINT:
                peer.endpoint = parse_endpoint(attribute);
                break;
            case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
                peer.persistent_keepalive = mnl_attr_get_u16(attribute);
                break;
            case WGPEER_A_ALLOWEDIPS:
                for_each_nested(attribute, [&](const nlattr* ip) {
                    if (auto prefix = parse_allowed_ip(ip)) peer.allowed_ips.push_back(*prefix);
                });
                break;
            default:
                break;
        }
    });
    if (!has_key) return;
    // A peer whose allowed IPs did not fit the previous message continues in this one.
    if (!config.peers.empty() && config.peers.back().public_key == peer.public_key) {
        auto& previous = config.peers.back().allowed_ips;
        previous.insert(previous.end(), peer.allowed_ips.begin(), peer.allowed_ips.end());
        return;
    }
    config.peers.push_back(std::move(peer));
}

}  // namespace

GenlMessage build_wireguard_get(std::uint16_t family_id, std::uint32_t seq,
                                std::string_view ifname) {
    MessageBuffer buffer(
        MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(genlmsghdr)) + MNL_ATTR_HDRLEN + MNL_ALIGN(IFNAMSIZ),
        family_id, WG_CMD_GET_DEVICE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, seq);
    put_ifname(buffer.header(), ifname);
    return buffer.take();
}

std::vector<GenlMessage> build_wireguard_set(std::uint16_t family_id, std::uint32_t seq,
                                             std::string_view ifname, const WireguardChange& change,
                                             std::size_t max_bytes) {
    if (ifname.empty() || ifname.size() >= IFNAMSIZ)
        throw ParseError("ifname", "\"" + std::string(ifname) + "\" is not a valid interface name");
    std::vector<GenlMessage> messages;
    auto start = [&](bool first) {
        MessageBuffer buffer(max_bytes, family_id, WG_CMD_SET_DEVICE, NLM_F_REQUEST | NLM_F_ACK,
                             seq + static_cast<std::uint32_t>(messages.size()));
        auto* header = buffer.header();
        const std::string name(ifname);
        bool fits = mnl_attr_put_strz_check(header, buffer.size(), WGDEVICE_A_IFNAME, name.c_str());
        if (first) {
            if (change.private_key)
                fits = fits &&
                       mnl_attr_put_check(header, buffer.size(), WGDEVICE_A_PRIVATE_KEY,
                                          change.private_key->size(), change.private_key->data());
            if (change.listen_port)
                fits = fits && mnl_attr_put_u16_check(header, buffer.size(), WGDEVICE_A_LISTEN_PORT,
                                                      *change.listen_port);
            if (change.replace_peers)
                fits = fits && mnl_attr_put_u32_check(header, buffer.size(), WGDEVICE_A_FLAGS,
                                                      WGDEVICE_F_REPLACE_PEERS);
        }
        if (!fits) {
            throw Error("configure wireguard device " + name +
                        ": the device attributes do not fit a " + std::to_string(max_bytes) +
                        "-byte message");
        }
        return buffer;
    };
    auto buffer = start(true);
    std::size_t next = 0;
    while (next < change.peers.size()) {
        nlattr* peers = mnl_attr_nest_start_check(buffer.header(), buffer.size(), WGDEVICE_A_PEERS);
        std::size_t added = 0;
        while (peers && next < change.peers.size() &&
               put_peer(buffer.header(), buffer.size(), change.peers[next])) {
            ++next;
            ++added;
        }
        if (added == 0) {
            throw Error("configure wireguard device " + std::string(ifname) +
                        ": a peer does not fit a " + std::to_string(max_bytes) + "-byte message");
        }
        mnl_attr_nest_end(buffer.header(), peers);
        if (next < change.peers.size()) {
            messages.push_back(buffer.take());
            buffer = start(false);
        }
    }
    messages.push_back(buffer.take());
    return messages;
}

void parse_wireguard_device(const std::uint8_t* message, std::size_t length,
                            WireguardDeviceConfig& config) {
    if (length < MNL_NLMSG_HDRLEN + sizeof(genlmsghdr)) return;
    const auto* header = reinterpret_cast<const nlmsghdr*>(message);
    mnl_attr_parse(
        header, sizeof(genlmsghdr),
        [](const nlattr* attribute, void* data) {
            auto& config = *static_cast<WireguardDeviceConfig*>(data);
            switch (mnl_attr_get_type(attribute)) {
                case WGDEVICE_A_PRIVATE_KEY: {
                    const auto key = key_of(attribute);
                    if (key != WireguardKey{}) config.private_key = key;
                    break;
                }
                case WGDEVICE_A_LISTEN_PORT:
                    config.listen_port = mnl_attr_get_u16(attribute);
                    break;
                case WGDEVICE_A_PEERS:
                    for_each_nested(attribute,
                                    [&](const nlattr* peer) { parse_peer(peer, config); });
                    break;
                default:
                    break;
            }
            return MNL_CB_OK;
        },
        &config);
}

// ---- the socket ---------------------------------------------------------------------------

struct WireguardNetlink::Socket {
    mnl_socket* socket = nullptr;
    std::uint32_t port_id = 0;
    std::uint32_t seq =
        static_cast<std::uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    std::vector<char> buffer = std::vector<char>(receive_buffer_size);

    Socket() {
        socket = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
        if (!socket) throw_errno("open generic netlink socket");
        if (mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) < 0) {
            const int error = errno;
            mnl_socket_close(socket);
            throw SystemError("bind generic netlink socket", error);
        }
        const int one = 1;
        ::setsockopt(mnl_socket_get_fd(socket), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
        port_id = mnl_socket_get_portid(socket);
    }
    ~Socket() { mnl_socket_close(socket); }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    // Sends one request and reads its answers until the ack / end of dump.
    void exchange(const GenlMessage& message, const std::string& what,
                  const std::function<void(const nlmsghdr*)>& on_message) {
        const auto* header = reinterpret_cast<const nlmsghdr*>(message.data());
        if (mnl_socket_sendto(socket, message.data(), message.size()) < 0) throw_errno(what);
        for (;;) {
            const ssize_t length = mnl_socket_recvfrom(socket, buffer.data(), buffer.size());
            if (length < 0) throw_errno(what);
            int remaining = static_cast<int>(length);
            for (auto* answer = reinterpret_cast<const nlmsghdr*>(buffer.data());
                 mnl_nlmsg_ok(answer, remaining); answer = mnl_nlmsg_next(answer, &remaining)) {
                if (answer->nlmsg_seq != header->nlmsg_seq) continue;
                if (answer->nlmsg_type == NLMSG_ERROR) {
                    const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(answer));
                    if (error->error != 0) throw SystemError(what, -error->error);
                    return;  // the ack
                }
                if (answer->nlmsg_type == NLMSG_DONE) {
                    const int* status = static_cast<const int*>(mnl_nlmsg_get_payload(answer));
                    if (answer->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) && *status < 0)
                        throw SystemError(what, -*status);
                    return;
                }
                if (answer->nlmsg_type < NLMSG_MIN_TYPE) continue;
                if (on_message) on_message(answer);
            }
        }
    }
};

WireguardNetlink::WireguardNetlink(std::unique_ptr<Socket> socket, std::uint16_t family_id)
    : socket_(std::move(socket)), family_id_(family_id) {}
WireguardNetlink::WireguardNetlink(WireguardNetlink&&) noexcept = default;
WireguardNetlink& WireguardNetlink::operator=(WireguardNetlink&&) noexcept = default;
WireguardNetlink::~WireguardNetlink() = default;

std::optional<WireguardNetlink> WireguardNetlink::open() {
    auto socket = std::make_unique<Socket>();
    MessageBuffer request(256, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, NLM_F_REQUEST | NLM_F_ACK,
                          ++socket->seq);
    mnl_attr_put_strz(request.header(), CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
    std::uint16_t id = 0;
    try {
        socket->exchange(request.take(), "resolve generic netlink family " WG_GENL_NAME,
                         [&](const nlmsghdr* answer) {
                             mnl_attr_parse(
                                 answer, sizeof(genlmsghdr),
                                 [](const nlattr* attribute, void* data) {
                                     if (mnl_attr_get_type(attribute) == CTRL_ATTR_FAMILY_ID)
                                         *static_cast<std::uint16_t*>(data) =
                                             mnl_attr_get_u16(attribute);
                                     return MNL_CB_OK;
                                 },
                                 &id);
                         });
    } catch (const SystemError& e) {
        if (e.code() == ENOENT) return std::nullopt;
        throw;
    }
    if (id == 0) return std::nullopt;
    return WireguardNetlink(std::move(socket), id);
}

WireguardDeviceConfig WireguardNetlink::get_device(std::string_view ifname) {
    WireguardDeviceConfig config;
    const auto message = build_wireguard_get(family_id_, ++socket_->seq, ifname);
    socket_->exchange(message, "get wireguard device " + std::string(ifname),
                      [&](const nlmsghdr* answer) {
                          parse_wireguard_device(reinterpret_cast<const std::uint8_t*>(answer),
                                                 answer->nlmsg_len, config);
                      });
    return config;
}

void WireguardNetlink::set_device(std::string_view ifname, const WireguardChange& change) {
    const auto messages = build_wireguard_set(family_id_, socket_->seq + 1, ifname, change);
    socket_->seq += static_cast<std::uint32_t>(messages.size());
    for (const auto& message : messages) {
        socket_->exchange(message, "configure wireguard device " + std::string(ifname), {});
    }
}

}  // namespace twill::netlink
