#include "twill/backend/backend.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <span>

#include "twill/backend/host_gw_backend.hpp"
#include "twill/backend/vxlan_backend.hpp"
#include "twill/backend/wireguard_backend.hpp"
#include "twill/error.hpp"

namespace twill::backend {

int Backend::reconcile_device(netlink::Handle& handle, const NodeContext& node, bool dry_run,
                              reconcile::DriftRecord& record, reconcile::Report& report,
                              bool& recreated) {
    int index = 0;
    recreated = false;
    for (const auto& spec : devices(node)) {
        bool made = false;
        auto link = reconcile::reconcile_device(handle, spec, dry_run, report, &made, &record);
        if (index == 0) index = link ? link->index : 0;
        recreated = recreated || made;
    }
    return index;
}

std::optional<subnet::LeaseBackendData> Backend::lease_data_v6(const NodeContext&) const {
    return std::nullopt;
}

int Backend::reconcile_ipv6_device(netlink::Handle&, const NodeContext&, bool,
                                   reconcile::DriftRecord&, reconcile::Report&, bool& recreated) {
    recreated = false;
    return 0;
}

void Backend::reconcile_peers(const NodeContext&, const std::vector<netlink::WireguardPeer>&, bool,
                              reconcile::DriftRecord&, reconcile::Report&) {}

void Backend::update_peers(const std::vector<netlink::WireguardPeer>&,
                           const std::vector<netlink::WireguardPeer>&, reconcile::DriftRecord&,
                           reconcile::Report&) {}

void Backend::remove(netlink::Handle& handle, const NodeContext& node, reconcile::Report& report) {
    for (const auto& spec : devices(node)) reconcile::remove_device(handle, spec.name, report);
}

std::unique_ptr<Backend> make_backend(const subnet::NetworkConfig& config,
                                      const BackendEnvironment& environment) {
    if (const auto* vxlan = std::get_if<subnet::VxlanBackend>(&config.backend)) {
        return std::make_unique<VxlanBackend>(*vxlan);
    }
    if (std::holds_alternative<subnet::HostGwBackend>(config.backend)) {
        return std::make_unique<HostGwBackend>();
    }
    return std::make_unique<WireguardBackend>(std::get<subnet::WireguardBackend>(config.backend),
                                              environment);
}

net::MacAddress derived_mac(const std::string& seed) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(seed.data(), seed.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
        throw Error("derive a MAC address from \"" + seed + "\": SHA-256 failed");
    }
    digest[0] = static_cast<unsigned char>((digest[0] & 0xfe) | 0x02);  // unicast, local
    return net::MacAddress::from_bytes(std::span<const std::uint8_t>(digest.data(), 6));
}

PeerSubnets peer_subnets(const NodeContext& node, const subnet::Lease& lease) {
    PeerSubnets result{lease.subnet};
    if (node.ipv6_subnet && lease.ipv6_subnet) result.push_back(*lease.ipv6_subnet);
    return result;
}

namespace {

// Whether `gateway`, which a peer's lease names, can be the next hop of a route over the
// interface address `own`: on its subnet, and neither this node's own address nor (IPv4)
// the subnet's network or broadcast address, which the kernel refuses as a gateway.
bool usable_gateway(const net::Prefix& own, const net::Address& gateway) {
    if (!own.contains(gateway) || gateway == own.address()) return false;
    const bool ends_count = gateway.is_v4() && own.length() < 31;
    return !(ends_count && (gateway == own.first() || gateway == own.last()));
}

}  // namespace

std::optional<std::vector<netlink::Route>> direct_routes(const NodeContext& node,
                                                         const subnet::Lease& lease) {
    std::vector<netlink::Route> routes;
    for (const auto& subnet : peer_subnets(node, lease)) {
        const auto& gateway = subnet.address().is_v6() && lease.value.public_ipv6
                                  ? *lease.value.public_ipv6
                                  : lease.value.public_ip;
        const bool on_link =
            gateway.family() == subnet.family() &&
            std::any_of(node.underlay.prefixes.begin(), node.underlay.prefixes.end(),
                        [&](const net::Prefix& p) { return usable_gateway(p, gateway); });
        if (!on_link) return std::nullopt;
        netlink::Route route;
        route.destination = subnet;
        route.gateway = gateway;
        route.protocol = reconcile::twill_route_protocol;
        routes.push_back(route);
    }
    return routes;
}

std::uint32_t overlay_mtu(const Backend& backend, const Underlay& underlay) {
    return underlay.mtu - backend.overhead(underlay.address.family());
}

}  // namespace twill::backend
