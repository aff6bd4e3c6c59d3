#include <cerrno>
#include <exception>

#include "invocation.hpp"
#include "twill/netlink/netlink.hpp"
#include "twill/sys/log.hpp"

namespace twill::plugin {

void del(const Invocation& invocation) {
    const auto owner = invocation.attachment();
    // The two ends of a veth pair live and die together, so deleting the host end (found by
    // its derived name) removes the pod end too, and a pod namespace that is already gone
    // took both with it. No namespace and no subnet.json are needed.
    std::exception_ptr link_error;
    try {
        netlink::Handle host;
        if (const auto link = host.find_link(host_veth_name(owner))) {
            host.delete_link(link->index);
            sys::log(sys::LogLevel::debug,
                     "DEL " + owner.container_id + " " + owner.ifname + ": deleted " + link->name);
        }
    } catch (const SystemError& e) {
        // ENODEV: removed meanwhile (the namespace went away); anything else is reported,
        // after the address is released all the same.
        if (e.code() != ENODEV) link_error = std::current_exception();
    }
    for (const auto& ip : invocation.store().release(owner)) {
        sys::log(sys::LogLevel::debug,
                 "DEL " + owner.container_id + " " + owner.ifname + ": released " + ip.to_string());
    }
    if (link_error) std::rethrow_exception(link_error);
}

}  // namespace twill::plugin
