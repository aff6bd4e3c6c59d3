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

std::vector<std::string> pod_host_veths(const std::filesystem::path& cni_data_dir) {
    std::vector<std::string> names;
    for (const auto& reservation : pod_reservations(cni_data_dir)) {
        if (reservation.owner.container_id.empty()) continue;
        names.push_back(ipam::host_veth_name(reservation.owner));
    }
    return names;
}

}  // namespace twill::daemon
