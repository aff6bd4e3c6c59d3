#pragma once
// WireGuard device configuration: plain value types shared by both ways of configuring a
// device (the kernel's generic netlink family "wireguard" here, wireguard-go's UAPI in
// lib/backend), the WG_CMD_* messages of the family (linux/wireguard.h) and a generic
// netlink socket that speaks it.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twill/net/address.hpp"
#include "twill/net/prefix.hpp"

namespace twill::netlink {

using WireguardKey = std::array<std::uint8_t, 32>;

struct WireguardEndpoint {
    net::Address address;
    std::uint16_t port = 0;

    std::string to_string() const;  // "192.0.2.1:51820", "[2001:db8::1]:51820"
    friend bool operator==(const WireguardEndpoint&, const WireguardEndpoint&) = default;
};

// A peer's configuration (what twill sets; statistics are not kept).
struct WireguardPeer {
    WireguardKey public_key{};
    std::optional<WireguardEndpoint> endpoint;
    std::vector<net::Prefix> allowed_ips;
    std::uint16_t persistent_keepalive = 0;  // seconds; 0 = off

    friend bool operator==(const WireguardPeer&, const WireguardPeer&) = default;
};

// A device's configuration as read back.
struct WireguardDeviceConfig {
    std::optional<WireguardKey> private_key;
    std::uint16_t listen_port = 0;
    std::vector<WireguardPeer> peers;
};

// One peer to remove, or to create / update (its allowed IPs replace the old ones).
struct WireguardPeerChange {
    WireguardPeer peer;
    bool remove = false;
};

// One configuration change (WG_CMD_SET_DEVICE / UAPI set=1); unset fields stay as they are.
struct WireguardChange {
    std::optional<WireguardKey> private_key;
    std::optional<std::uint16_t> listen_port;
    bool replace_peers = false;  // drop every peer not named below
    std::vector<WireguardPeerChange> peers;
};

// ---- the generic netlink family (message layout of linux/wireguard.h) --------------------

// A complete netlink message (nlmsghdr + genlmsghdr + attributes).
using GenlMessage = std::vector<std::uint8_t>;

// WG_CMD_GET_DEVICE, NLM_F_REQUEST|NLM_F_ACK|NLM_F_DUMP, WGDEVICE_A_IFNAME.
GenlMessage build_wireguard_get(std::uint16_t family_id, std::uint32_t seq,
                                std::string_view ifname);
// WG_CMD_SET_DEVICE, NLM_F_REQUEST|NLM_F_ACK: WGDEVICE_A_IFNAME, then PRIVATE_KEY,
// LISTEN_PORT, FLAGS (WGDEVICE_F_REPLACE_PEERS) when set, then WGDEVICE_A_PEERS with one
// nested peer per change (PUBLIC_KEY, FLAGS: WGPEER_F_REMOVE_ME or
// WGPEER_F_REPLACE_ALLOWEDIPS, ENDPOINT as sockaddr_in/in6, PERSISTENT_KEEPALIVE_INTERVAL,
// ALLOWEDIPS with FAMILY, IPADDR, CIDR_MASK each). Peers are spread over as many messages as
// needed so each fits `max_bytes` (the kernel splits its dumps the same way).
std::vector<GenlMessage> build_wireguard_set(std::uint16_t family_id, std::uint32_t seq,
                                             std::string_view ifname, const WireguardChange& change,
                                             std::size_t max_bytes = 8192);
// Folds one WG_CMD_GET_DEVICE answer into `config`: a device's peers span several messages,
// and a peer's allowed IPs may continue in the next message under the same public key.
void parse_wireguard_device(const std::uint8_t* message, std::size_t length,
                            WireguardDeviceConfig& config);

// A NETLINK_GENERIC socket in the calling thread's namespace with the "wireguard" family
// resolved. Not thread-safe.
class WireguardNetlink {
  public:
    // nullopt when the kernel has no "wireguard" family (module not loaded or absent).
    static std::optional<WireguardNetlink> open();
    WireguardNetlink(WireguardNetlink&&) noexcept;
    WireguardNetlink& operator=(WireguardNetlink&&) noexcept;
    ~WireguardNetlink();

    std::uint16_t family_id() const noexcept { return family_id_; }
    WireguardDeviceConfig get_device(std::string_view ifname);
    void set_device(std::string_view ifname, const WireguardChange& change);

  private:
    struct Socket;
    WireguardNetlink(std::unique_ptr<Socket> socket, std::uint16_t family_id);
    std::unique_ptr<Socket> socket_;
    std::uint16_t family_id_ = 0;
};

}  // namespace twill::netlink
