#pragma once
// What twilld reads of the plugin's store (`--cni-data-dir`, one directory per network):
// the pods this node holds addresses for. Read only: the DaemonSet mounts it read-only.
#include <filesystem>
#include <string>
#include <vector>

#include "twill/ipam/store.hpp"

namespace twill::daemon {

// Every reservation of every network in the store; unreadable entries are skipped.
std::vector<ipam::Reservation> pod_reservations(const std::filesystem::path& cni_data_dir);
// The host ends of the pods' veths, which belong on twill0.
std::vector<std::string> pod_host_veths(const std::filesystem::path& cni_data_dir);

}  // namespace twill::daemon
