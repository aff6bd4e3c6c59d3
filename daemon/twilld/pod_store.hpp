#pragma once
// What twilld reads of the plugin's store (`--cni-data-dir`, one directory per network):
// the pods this node holds addresses for. Read only: the DaemonSet mounts it read-only.
#include <filesystem>
#include <string>
#include <vector>

#include "twill/ipam/store.hpp"
#include "twill/subnet/lease.hpp"

namespace twill::daemon {

// Every reservation of every network in the store; unreadable entries are skipped.
std::vector<ipam::Reservation> pod_reservations(const std::filesystem::path& cni_data_dir);
// The host ends of the pods' veths, which belong on twill0.
std::vector<std::string> pod_host_veths(const std::vector<ipam::Reservation>& pods);
// The pods whose address lies outside this node's subnet of its family (the lease was lost and
// another subnet acquired): to be recreated. A family the lease has no subnet of is not judged.
std::vector<ipam::Reservation> pods_on_lost_subnets(const std::vector<ipam::Reservation>& pods,
                                                    const subnet::Lease& own);

}  // namespace twill::daemon
