// Names are checked before anything reaches the kernel (a netlink socket needs no root).
#include <gtest/gtest.h>

#include "twill/error.hpp"
#include "twill/netlink/handle.hpp"

namespace twill::netlink {
namespace {

TEST(LinkNames, RejectedBeforeTheKernelSeesThem) {
    Handle handle;
    VethSpec veth;
    veth.name = "a-very-long-name-x";  // 18 characters: libnl would cut it to 15
    veth.peer_name = "eth0";
    try {
        handle.create_veth(veth);
        ADD_FAILURE();
    } catch (const ParseError& e) {
        EXPECT_EQ(e.field(), "veth name");
    }
    veth.name = "ok";
    veth.peer_name = "";
    EXPECT_THROW(handle.create_veth(veth), ParseError);
    BridgeSpec bridge;
    bridge.name = "br/0";
    EXPECT_THROW(handle.create_bridge(bridge), ParseError);
    VxlanSpec vxlan;
    vxlan.name = "twill.123456789012";
    EXPECT_THROW(handle.create_vxlan(vxlan), ParseError);
}

}  // namespace
}  // namespace twill::netlink
