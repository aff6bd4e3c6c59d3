#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "twill/net/prefix.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/reconcile/device_spec.hpp"
#include "twill/reconcile/report.hpp"

namespace twill::reconcile {

class DriftRecord;

// Makes the device match `spec`: creates it when missing, recreates it when a parameter that
// cannot change in place differs (kind, VXLAN VNI/port/local/underlay/learning), and otherwise
// fixes MTU, MAC, addresses and up in place. Returns the link, or nullopt in dry-run mode when
// it does not exist. `report.changes` says what was (or would be) done; `recreated` is set
// when the device was made anew (everything on it is gone). With a `record`, changes to a
// device whose spec did not change since the last applied run are drift, and the spec is
// remembered (scope "link", key: the device name).
std::optional<netlink::Link> reconcile_device(netlink::Handle& handle, const DeviceSpec& spec,
                                              bool dry_run, Report& report,
                                              bool* recreated = nullptr,
                                              DriftRecord* record = nullptr);

// Deletes the device if present (leave). Returns whether it existed.
bool remove_device(netlink::Handle& handle, const std::string& name, Report& report);

}  // namespace twill::reconcile
