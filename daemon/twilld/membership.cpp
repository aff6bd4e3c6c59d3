// Leaving, joining again, and evicting a dead node.
#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>

#include "cluster.hpp"
#include "daemon.hpp"
#include "leave_marker.hpp"
#include "time_format.hpp"
#include "twill/error.hpp"

namespace twill::daemon {

// A leave that cannot reach etcd changes nothing: the revoke comes first, and only once etcd
// has released the subnet does the node remove its kernel objects and stay out.
api::v1::LeaveReply Daemon::leave() {
    if (left_) throw Error("node " + options_.node_name + " has left already (" + *left_ + ")");
    if (!config_) {
        // The startup thread owns the etcd side until it hands over to the loop.
        throw Error("twilld is still starting (" + startup_state() +
                    "): nothing was changed; leave again once it is ready");
    }
    if (leaving_) throw Error("a leave is in progress");
    spdlog::warn("leaving for good: revoking the lease, then removing twill's kernel objects");
    try {
        cluster_->leave();
    } catch (const std::exception& e) {
        spdlog::error("leave failed, nothing changed: {}", e.what());
        throw Error(std::string("cannot revoke this node's lease, nothing was changed: ") +
                    e.what());
    }
    leaving_ = true;
    const auto why = "netctl leave at " + rfc3339(std::chrono::system_clock::now());
    try {
        write_leave_marker(options_.state_dir, why);
    } catch (const Error& e) {
        spdlog::error("leave: {} (a restarted twilld would join again)", e.what());
    }
    left_ = why;
    finish_leave();
    api::v1::LeaveReply reply;
    reply.set_message("node " + options_.node_name +
                      " left: lease revoked, devices and routes removed; it stays out until "
                      "`netctl join`");
    // Exit once the reply is on its way.
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(200));
    timer->async_wait([this, timer](const boost::system::error_code&) { stop_loop(); });
    return reply;
}

void Daemon::finish_leave() {
    if (probes_) probes_->stop();
    // The backend's devices are named by the config alone: no lease needed to remove them.
    std::optional<backend::NodeContext> context;
    if (config_ && underlay_ && backend_) {
        context = node_context(*config_, *underlay_);
        if (own_lease_) context->subnet = own_lease_->subnet;
    }
    const auto report = node_.remove_all(backend_.get(), context ? &*context : nullptr);
    for (const auto& error : report.errors) spdlog::warn("leave: {}", error);
    ready_ = false;
    metrics_.ready.Set(0);
    set_startup_state("this node left the cluster (" + *left_ + ")");
}

api::v1::JoinReply Daemon::join() {
    if (!left_) throw Error("node " + options_.node_name + " has not left: nothing to join");
    remove_leave_marker(options_.state_dir);
    spdlog::info("joining again: {} removed", leave_marker_path(options_.state_dir).string());
    left_.reset();
    begin_startup();
    api::v1::JoinReply reply;
    reply.set_message("node " + options_.node_name + " joins again: acquiring a subnet lease");
    return reply;
}

api::v1::EvictReply Daemon::evict(const std::string& node) {
    if (node.empty()) throw ParseError("node", "empty node name");
    if (node == options_.node_name) {
        throw ParseError("node", "this is the local node; use `netctl leave`");
    }
    api::v1::EvictReply reply;
    const bool found = cluster_->evict(node);
    reply.set_found(found);
    reply.set_message(found ? "evicted node " + node + ": its lease is deleted; every peer drops it"
                            : "node " + node + " holds no lease");
    return reply;
}

}  // namespace twill::daemon
