#include <set>

#include "invocation.hpp"
#include "twill/netlink/netlink.hpp"
#include "twill/sys/log.hpp"

namespace twill::plugin {

void gc(const Invocation& invocation) {
    if (!invocation.config.valid_attachments) {
        throw cni::CniError(cni::ErrorCode::InvalidConfig,
                            "cni.dev/valid-attachments: required for GC (it lists what to keep)");
    }
    std::set<ipam::Attachment> keep;
    for (const auto& a : *invocation.config.valid_attachments)
        keep.insert({a.container_id, a.ifname});
    const auto released = invocation.store().release_all_except(keep);
    if (released.empty()) return;
    // A veth never outlives its reservation (ADD reserves first, DEL deletes the link first),
    // so only the released attachments can have a host end left.
    netlink::Handle host;
    for (const auto& r : released) {
        sys::log(sys::LogLevel::debug, "GC: released " + r.address.to_string() + " of " +
                                           r.owner.container_id + " " + r.owner.ifname);
        if (r.owner.container_id.empty()) continue;
        if (const auto link = host.find_link(host_veth_name(r.owner)))
            host.delete_link(link->index);
    }
}

}  // namespace twill::plugin
