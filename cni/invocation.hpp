#pragma once
// One run of the plugin: the CNI_* environment and the parsed network config.
#include <string>
#include <variant>
#include <vector>

#include "twill/cni/config.hpp"
#include "twill/cni/environment.hpp"
#include "twill/cni/error.hpp"
#include "twill/cni/node_subnet.hpp"
#include "twill/cni/result.hpp"
#include "twill/ipam/host_veth.hpp"
#include "twill/ipam/store.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/netlink/netns.hpp"

namespace twill::plugin {

struct Invocation {
    cni::Environment env;
    cni::Config config;

    ipam::Attachment attachment() const { return {env.container_id, env.ifname}; }
    // Reservations of this network: <dataDir>/<network name>.
    ipam::Store store() const { return ipam::Store(config.data_dir / config.name); }
};

// The host end of an attachment's veth pair: "tw" + 12 hex digits of a hash of container ID
// and ifname. Deterministic, so DEL and GC find it without any stored state.
using ipam::host_veth_name;

// A netlink handle inside `target` (the pod's namespace), opened on this thread.
netlink::Handle open_handle_in(const netlink::Netns& target);

// The two ends of an attachment's veth pair as the kernel has them.
struct AttachmentLinks {
    netlink::Link host_end;
    netlink::Link pod_end;
};

// Whether the kernel holds an attachment whole: the pod end `ifname` up with the node's MTU
// and every one of `addresses`, the host end `host_name` up on the node's bridge. Returns the
// links, or the first thing missing or different (for a CNI error message). ADD (repeated)
// and CHECK judge alike with it.
std::variant<AttachmentLinks, std::string> inspect_attachment(
    netlink::Handle& host, netlink::Handle& pod, const cni::NodeSubnet& node,
    const std::string& ifname, const std::string& netns_path,
    const std::vector<net::Prefix>& addresses, const std::string& host_name);

// An attachment's reservations as the pod carries them, in the order of node.families() (as
// ADD lists them): each with its family's prefix length and gateway, on interface 1 (the pod
// end in twill's results). A reservation of a family the node no longer has is left out.
std::vector<cni::IpConfig> pod_addresses(const cni::NodeSubnet& node,
                                         const std::vector<ipam::Reservation>& reservations);

// The default routes of `family` in the pod's main table.
std::vector<netlink::Route> default_routes(netlink::Handle& pod, net::Family family);

// Each command; ADD and CHECK return what goes to stdout (STATUS, DEL and GC print nothing).
std::string add(const Invocation& invocation);
void del(const Invocation& invocation);
void check(const Invocation& invocation);
void status(const Invocation& invocation);
void gc(const Invocation& invocation);

// <runDir>/subnet.json; its absence throws CniError `if_absent` (ADD: 11 try again later,
// STATUS: 50 not available), a file that does not parse throws `if_absent` too, naming the
// field, since only twilld writes it and it will rewrite it.
cni::NodeSubnet require_node_subnet(const Invocation& invocation, cni::ErrorCode if_absent);

}  // namespace twill::plugin
