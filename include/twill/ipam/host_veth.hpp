#pragma once
#include <string>

#include "twill/ipam/store.hpp"

namespace twill::ipam {

// The host end of an attachment's veth ("tw" + 12 hex digits), derived from the attachment
// alone: the plugin names it so, and twilld finds a pod's port on the bridge by it.
std::string host_veth_name(const Attachment& attachment);

}  // namespace twill::ipam
