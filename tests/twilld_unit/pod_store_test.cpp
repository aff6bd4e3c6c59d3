// Which pods hold addresses of a subnet this node no longer leases, per family.
#include "pod_store.hpp"

#include <gtest/gtest.h>

using namespace twill;

namespace {

ipam::Reservation pod(const char* address, const char* id) {
    return {net::Address::parse(address), {id, "eth0"}};
}

TEST(PodStore, PodsOnLostSubnetsAreJudgedPerFamily) {
    subnet::Lease own;
    own.subnet = net::Prefix::parse("10.244.5.0/24");
    const std::vector<ipam::Reservation> pods{
        pod("10.244.5.7", "kept-v4"), pod("10.244.3.7", "lost-v4"),
        pod("fd00:10:244:5::7", "v6-not-leased"), pod("fd00:10:244:3::7", "v6-other")};
    // A v4-only lease judges no IPv6 address.
    auto lost = daemon::pods_on_lost_subnets(pods, own);
    ASSERT_EQ(lost.size(), 1u);
    EXPECT_EQ(lost[0].owner.container_id, "lost-v4");

    // Dual-stack: an IPv6 address outside the node's IPv6 subnet is lost too.
    own.ipv6_subnet = net::Prefix::parse("fd00:10:244:5::/64");
    lost = daemon::pods_on_lost_subnets(pods, own);
    ASSERT_EQ(lost.size(), 2u);
    EXPECT_EQ(lost[1].owner.container_id, "v6-other");

    EXPECT_EQ(
        daemon::pod_host_veths({pod("10.244.5.7", "a"), {net::Address::parse("10.244.5.8"), {}}})
            .size(),
        1u)
        << "an unreadable reservation has no veth";
}

}  // namespace
