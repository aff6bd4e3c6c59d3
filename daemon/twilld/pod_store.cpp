#include "pod_store.hpp"

#include <spdlog/spdlog.h>

#include "twill/ipam/host_veth.hpp"

namespace twill::daemon {

std::vector<ipam::Reservation> pod_reservations(const std::filesystem::path& cni_data_dir) {
    std::vector<ipam::Reservation> result;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(cni_data_dir, ec)) {
        if (!entry.is_directory()) continue;
        try {
            for (auto& reservation : ipam::Store(entry.path()).list()) {
                result.push_back(std::move(reservation));
            }
        } catch (const Error& e) {
            spdlog::debug("pod store {}: {}", entry.path().string(), e.what());
        }
    }
    return result;
}

std::vector<std::string> pod_host_veths(const std::vector<ipam::Reservation>& pods) {
    std::vector<std::string> names;
    for (const auto& reservation : pods) {
        if (reservation.owner.container_id.empty()) continue;
        names.push_back(ipam::host_veth_name(reservation.owner));
    }
    return names;
}

std::vector<ipam::Reservation> pods_on_lost_subnets(const std::vector<ipam::Reservation>& pods,
                                                    const subnet::Lease& own) {
    std::vector<ipam::Reservation> lost;
    for (const auto& pod : pods) {
        const auto& address = pod.address;
        const net::Prefix* subnet = nullptr;
        if (own.subnet.family() == address.family()) subnet = &own.subnet;
        if (own.ipv6_subnet && address.is_v6()) subnet = &*own.ipv6_subnet;
        if (subnet && !subnet->contains(address)) lost.push_back(pod);
    }
    return lost;
}

}  // namespace twill::daemon
