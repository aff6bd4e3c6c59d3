#pragma once
// The one place that makes a node's kernel match its desired state (or, in a dry run, says
// how it differs): devices, pods' bridge ports, per-peer objects, WireGuard peers, the
// nftables table, sysctls and subnet.json, in that order. The daemon's reconcile, `netctl
// status` and `netctl check` all go through apply(), so they cannot disagree. It never
// throws: every kernel error, dumps and lookups included, is a report error, retried by the
// next run.
#include <filesystem>
#include <string>
#include <vector>

#include "twill/backend/backend.hpp"
#include "twill/firewall/masquerade.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/node/desired_state.hpp"
#include "twill/reconcile/drift_record.hpp"
#include "twill/reconcile/object_reconciler.hpp"
#include "twill/reconcile/report.hpp"

namespace twill::node {

// One peer's objects before and after a change of leases (nullopt: not a peer then, or now).
struct PeerUpdate {
    std::optional<backend::PeerObjects> before;
    std::optional<backend::PeerObjects> after;
};

class NodeReconciler {
  public:
    explicit NodeReconciler(std::filesystem::path run_dir);

    // The full run: everything compared with what the kernel holds.
    reconcile::Report apply(const DesiredState& desired, backend::Backend& backend, bool dry_run);
    // The run of a change of some peers' leases, on the devices of the last full run: only
    // those peers' objects are written or removed, nothing is dumped, so its cost follows
    // the change and not the size of the cluster. An overlay device gone since is an error
    // (the full run that follows makes it anew).
    reconcile::Report apply_peer_updates(const std::vector<PeerUpdate>& updates,
                                         backend::Backend& backend);
    // Whether a kernel notification only reports a write of ours (no run needed for it).
    bool is_echo(const netlink::Event& event) { return objects_.is_echo(event); }

    // After a dry run: whether every object of a peer (DesiredState::objects_of) matched the
    // kernel.
    bool settled(const backend::PeerObjects& peer, const reconcile::Report& report) const;

    // The overlay device's index as of the last run (0: it did not exist).
    int overlay_index() const { return overlay_index_; }
    // twill's devices as of the last run (the overlay devices; with the bridge, twill0).
    bool is_overlay_device(int index) const {
        return index != 0 && (index == overlay_index_ || index == overlay_v6_index_);
    }
    bool is_own_device(int index) const {
        return is_overlay_device(index) || (index != 0 && index == bridge_index_);
    }
    // Whether the last run left the overlay device in place (or the backend needs none).
    bool devices_ready() const { return overlay_index_ != 0 || deviceless_; }
    netlink::Handle& handle() { return handle_; }
    // This node's subnet changed: nothing of the old per-peer objects is drift any more.
    void forget_objects() { objects_.forget(); }
    // Base forward chains of other tables whose policy drops (status warns).
    std::vector<std::string> dropping_forward_chains() {
        return firewall_.dropping_forward_chains();
    }

    // The node stops being ready: the plugin must not hand out addresses of a subnet that may
    // no longer be this node's. Throws SystemError.
    void remove_subnet_file();
    // Leave: removes twill0, the backend's devices, every route of twill's protocol, the
    // nftables table and subnet.json. Errors are in the report.
    reconcile::Report remove_all(backend::Backend* backend, const backend::NodeContext* context);

  private:
    void apply_bridge(const DesiredState& desired, bool dry_run, reconcile::Report& report);
    void apply_objects(const DesiredState& desired, bool dry_run, reconcile::Report& report);
    void apply_firewall(const DesiredState& desired, bool dry_run, reconcile::Report& report);
    void apply_sysctls(const DesiredState& desired, bool dry_run, reconcile::Report& report);
    void apply_subnet_file(const DesiredState& desired, bool dry_run, reconcile::Report& report);

    std::filesystem::path run_dir_;
    netlink::Handle handle_;
    reconcile::DriftRecord record_;
    reconcile::ObjectReconciler objects_;
    firewall::Masquerade firewall_;
    int bridge_index_ = 0;
    int overlay_index_ = 0;
    int overlay_v6_index_ = 0;  // twill-v6.<VNI> (dual-stack over an IPv6 underlay); 0: none
    int underlay_index_ = 0;    // where direct routes go
    bool deviceless_ = false;   // the backend has no overlay device (host-gw)
};

}  // namespace twill::node
