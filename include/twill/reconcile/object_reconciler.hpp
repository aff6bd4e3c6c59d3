#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "twill/net/prefix.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/netlink/monitor.hpp"
#include "twill/reconcile/diff.hpp"
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

    // The full run: dumps everything twill owns and applies the difference. It starts a new
    // echo ledger (see is_echo).
    Report reconcile(const ObjectSet& desired, const Ownership& owned, bool dry_run);
    // The run of a change: writes `upsert` (objects whose desired value is new) and deletes
    // `remove` (objects no longer desired), dumping nothing, and remembers both as desired
    // or not. An object already gone is not an error. Whatever the kernel holds beyond these
    // (drift between two changes) is the full run's to find.
    Report update(const ObjectSet& upsert, const ObjectSet& remove);
    // Forget the previous desired set (after a device was recreated, everything is new).
    void forget();

    // Whether a kernel notification only reports a change this reconciler made within the
    // last second (each change's notification is consumed once): such an event needs no run.
    bool is_echo(const netlink::Event& event);

  private:
    // The digests of one kind's desired and dumped sets in a full run whose diff was empty.
    struct Settled {
        Fingerprint desired = 0;
        Fingerprint actual = 0;
        friend bool operator==(const Settled&, const Settled&) = default;
    };
    // One kind's diff, unless both sets are `settled`'s again; `settled` follows the result.
    template <class Object, class KeyFn, class SameFn>
    static Diff<Object> diff_unless_settled(const std::vector<Object>& desired,
                                            Fingerprint desired_digest,
                                            const std::vector<Object>& actual, KeyFn key,
                                            SameFn same, std::optional<Settled>& settled);

    void expect(const std::string& key, bool removed);

    netlink::Handle& handle_;
    DriftRecord own_record_;
    DriftRecord& record_;
    // Notifications expected for our own writes: "+"/"-" and the object's key -> how many,
    // and when the latest was written.
    struct Expected {
        int count = 0;
        std::chrono::steady_clock::time_point written;
    };
    std::unordered_map<std::string, Expected> echoes_;
    // A full run whose two sets of a kind are those of the last one that found nothing to
    // change finds nothing again: the diff is a function of the two sets alone.
    struct {
        std::optional<Settled> routes, neighbours, fdb;
    } settled_;
};

}  // namespace twill::reconcile
