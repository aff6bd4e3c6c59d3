#include "invocation.hpp"
#include "twill/netlink/netlink.hpp"

namespace twill::plugin {

void status(const Invocation& invocation) {
    const auto node = require_node_subnet(invocation, cni::ErrorCode::NotAvailable);
    netlink::Handle host;
    if (!host.find_link(node.bridge)) {
        throw cni::CniError(cni::ErrorCode::NotAvailable,
                            "twilld is not ready: bridge " + node.bridge + " does not exist");
    }
}

}  // namespace twill::plugin
