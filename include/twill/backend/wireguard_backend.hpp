#pragma once
// WireGuard (DESIGN.md "Kernel objects"): device twill-wg with address <subnet network>/32,
// listen port from the config, this node's private key; per peer: a WireGuard peer (public
// key, endpoint PublicIP:ListenPort, allowed IPs = the peer's subnet, persistent keepalive)
// and a route <peer subnet> dev twill-wg proto 137 scope link. The device's peers are read
// back and reconciled like every other kernel object.
#include <map>
#include <memory>

#include "twill/backend/backend.hpp"
#include "twill/backend/wireguard_device.hpp"
#include "twill/backend/wireguard_keys.hpp"

namespace twill::backend {

inline constexpr const char* kWireguardDevice = "twill-wg";
inline constexpr const char* kWireguardKeyFile = "wireguard.key";

// The minimal change that takes a device's peers from `actual` to `desired` (matched by
// public key; allowed IPs compared as sets), and the report lines for it (kind
// "wireguard-peer"). Drift follows `record` (scope "wireguard-peer", keyed by the base64
// public key): a change to a peer desired alike on the last run is drift (someone touched
// the device).
struct PeerPlan {
    netlink::WireguardChange change;
    std::vector<reconcile::Change> changes;
};
PeerPlan plan_peers(const std::vector<netlink::WireguardPeer>& desired,
                    const std::vector<netlink::WireguardPeer>& actual,
                    const reconcile::DriftRecord& record = {});

// "peer <base64 key> endpoint 192.0.2.1:51820 allowed-ips 10.244.3.0/24 keepalive 25".
std::string to_string(const netlink::WireguardPeer& peer);

class WireguardBackend final : public Backend {
  public:
    // Loads (or creates) the key in environment.state_dir and picks the implementation:
    // "kernel", "userspace", or "auto" (kernel when its generic netlink family resolves).
    WireguardBackend(subnet::WireguardBackend config, const BackendEnvironment& environment);
    WireguardBackend(subnet::WireguardBackend config, WireguardKeyPair keys,
                     std::unique_ptr<WireguardDevice> device);

    subnet::BackendType type() const override { return subnet::BackendType::wireguard; }
    std::string detail() const override;
    std::uint32_t overhead(net::Family family) const override;
    subnet::LeaseBackendData lease_data(const NodeContext& node) const override;
    std::vector<reconcile::DeviceSpec> devices(const NodeContext&) const override { return {}; }
    int reconcile_device(netlink::Handle& handle, const NodeContext& node, bool dry_run,
                         reconcile::DriftRecord& record, reconcile::Report& report,
                         bool& recreated) override;
    void reconcile_peers(const NodeContext& node,
                         const std::vector<netlink::WireguardPeer>& desired, bool dry_run,
                         reconcile::DriftRecord& record, reconcile::Report& report) override;
    void update_peers(const std::vector<netlink::WireguardPeer>& set,
                      const std::vector<netlink::WireguardPeer>& removed,
                      reconcile::DriftRecord& record, reconcile::Report& report) override;
    void remove(netlink::Handle& handle, const NodeContext& node,
                reconcile::Report& report) override;
    std::optional<PeerObjects> peer(const NodeContext& node,
                                    const subnet::Lease& lease) const override;
    const WireguardKeyPair& keys() const { return keys_; }

  private:
    subnet::WireguardBackend config_;
    WireguardKeyPair keys_;
    std::unique_ptr<WireguardDevice> device_;
    bool device_present_ = false;
};

}  // namespace twill::backend
