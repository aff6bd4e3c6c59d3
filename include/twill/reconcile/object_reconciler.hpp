#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "twill/net/prefix.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/reconcile/drift_record.hpp"
#include "twill/reconcile/object_sets.hpp"
#include "twill/reconcile/report.hpp"

namespace twill::reconcile {

// What in the kernel is twill's, so that nothing else is ever touched (DESIGN.md principle 3).
struct Ownership {
    std::uint8_t route_protocol = twill_route_protocol;  // routes: this protocol, any device
    std::vector<int> devices;  // neighbours and self FDB entries on these devices
    // Neighbours on those devices inside these prefixes (the pod Network); IPv6 link-local
    // entries and the like are the kernel's own business.
    std::vector<net::Prefix> neighbour_scope;
};

// Level-triggered reconciliation of per-peer objects: dump what the kernel holds of twill's,
// diff against the desired set, apply the minimal change. Drift (the kernel changed under us)
// is told from changes that follow etcd by the DriftRecord (scopes "route", "neighbour",
// "fdb"): the node's shared one, or one of its own.
class ObjectReconciler {
  public:
    explicit ObjectReconciler(netlink::Handle& handle, DriftRecord* record = nullptr)
        : handle_(handle), record_(record ? *record : own_record_) {}

    Report reconcile(const ObjectSet& desired, const Ownership& owned, bool dry_run);
    // Forget the previous desired set (after a device was recreated, everything is new).
    void forget();

  private:
    netlink::Handle& handle_;
    DriftRecord own_record_;
    DriftRecord& record_;
};

}  // namespace twill::reconcile
