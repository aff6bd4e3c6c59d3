#include <algorithm>

#include "integration.hpp"

namespace twill::netlink::testing {
namespace {

using ::testing::HasSubstr;

class NeighboursTest : public NetnsTest {
  protected:
    void SetUp() override {
        NetnsTest::SetUp();
        if (IsSkipped()) return;
        device_ = make_device("dev0");
        const auto underlay = make_device("under0");
        handle().add_address(underlay.index, net::Prefix::parse("192.0.2.11/24"));
        VxlanSpec spec;
        spec.name = "twill.1";
        spec.info.vni = 1;
        spec.info.port = 8472;
        spec.info.local = net::Address::parse("192.0.2.11");
        spec.info.underlay_index = underlay.index;
        vxlan_ = handle().create_vxlan(spec);
        handle().set_link_up(vxlan_.index);
    }
    Link device_;
    Link vxlan_;
};

TEST_F(NeighboursTest, AddDumpReplaceDelete) {
    Neighbour neighbour;
    neighbour.link_index = vxlan_.index;
    neighbour.address = net::Address::parse("10.244.3.0");
    neighbour.lladdr = net::MacAddress::parse("0e:00:00:00:03:00");
    handle().add_neighbour(neighbour);
    Neighbour v6 = neighbour;
    v6.address = net::Address::parse("2001:db8:3::");
    handle().add_neighbour(v6);
    Neighbour elsewhere = neighbour;
    elsewhere.link_index = device_.index;
    handle().add_neighbour(elsewhere);

    NeighbourFilter on_vxlan;
    on_vxlan.link_index = vxlan_.index;
    auto dumped = handle().dump_neighbours(on_vxlan);
    // The kernel may add its own IPv6 multicast entries (ff02::16 for MLD) at any moment.
    std::erase_if(dumped, [](const Neighbour& n) { return n.address.is_multicast(); });
    EXPECT_THAT(dumped, ::testing::UnorderedElementsAre(neighbour, v6));
    EXPECT_THAT(tool({"ip", "neigh", "show", "dev", "twill.1"}),
                HasSubstr("10.244.3.0 lladdr 0e:00:00:00:03:00 PERMANENT"));

    on_vxlan.family = net::Family::v4;
    EXPECT_THAT(handle().dump_neighbours(on_vxlan), ::testing::ElementsAre(neighbour));

    try {
        handle().add_neighbour(neighbour);
        ADD_FAILURE();
    } catch (const SystemError& e) {
        EXPECT_EQ(e.code(), EEXIST);
        EXPECT_THAT(
            e.what(),
            HasSubstr("add neighbour 10.244.3.0 dev twill.1 lladdr 0e:00:00:00:03:00 permanent"));
    }

    neighbour.lladdr = net::MacAddress::parse("0e:00:00:00:03:01");
    handle().replace_neighbour(neighbour);
    EXPECT_THAT(handle().dump_neighbours(on_vxlan), ::testing::ElementsAre(neighbour));

    handle().delete_neighbour(neighbour);
    handle().delete_neighbour(v6);
    EXPECT_TRUE(handle().dump_neighbours(on_vxlan).empty());
    on_vxlan.family = net::Family::v6;  // the kernel keeps its own v6 entries (multicast, ND)
    for (const auto& left : handle().dump_neighbours(on_vxlan))
        EXPECT_NE(left.address, v6.address) << to_string(left);
    NeighbourFilter on_device;
    on_device.link_index = device_.index;
    on_device.family = net::Family::v4;  // v6 has the kernel's own entries (ND of the veth peer)
    EXPECT_THAT(handle().dump_neighbours(on_device), ::testing::ElementsAre(elsewhere));
}

std::vector<FdbEntry> self_entries_with_dst(const std::vector<FdbEntry>& entries) {
    std::vector<FdbEntry> result;
    std::copy_if(entries.begin(), entries.end(), std::back_inserter(result),
                 [](const FdbEntry& e) { return e.is_self() && e.dst; });
    return result;
}

TEST_F(NeighboursTest, FdbAddAppendReplaceDelete) {
    FdbEntry entry;
    entry.link_index = vxlan_.index;
    entry.mac = net::MacAddress::parse("0e:00:00:00:03:00");
    entry.dst = net::Address::parse("192.0.2.12");
    handle().add_fdb(entry);

    auto ours = self_entries_with_dst(handle().dump_fdb(vxlan_.index));
    ASSERT_EQ(ours.size(), 1u);
    EXPECT_EQ(ours[0].mac, entry.mac);
    EXPECT_EQ(ours[0].dst, entry.dst);
    EXPECT_EQ(ours[0].state & nud_permanent, nud_permanent);
    EXPECT_THAT(tool({"bridge", "fdb", "show", "dev", "twill.1"}),
                HasSubstr("0e:00:00:00:03:00 dst 192.0.2.12 self permanent"));

    try {
        handle().add_fdb(entry);
        ADD_FAILURE();
    } catch (const SystemError& e) {
        EXPECT_EQ(e.code(), EEXIST);
        EXPECT_THAT(e.what(),
                    HasSubstr("add fdb 0e:00:00:00:03:00 dev twill.1 dst 192.0.2.12 self"));
    }

    // Several destinations for the all-zero MAC (flooding): append.
    FdbEntry flood;
    flood.link_index = vxlan_.index;
    flood.dst = net::Address::parse("192.0.2.13");
    handle().append_fdb(flood);
    flood.dst = net::Address::parse("192.0.2.14");
    handle().append_fdb(flood);
    ours = self_entries_with_dst(handle().dump_fdb(vxlan_.index));
    EXPECT_EQ(ours.size(), 3u);

    // Replace moves the peer's MAC to another VTEP.
    entry.dst = net::Address::parse("192.0.2.99");
    handle().replace_fdb(entry);
    bool moved = false;
    for (const auto& e : self_entries_with_dst(handle().dump_fdb(vxlan_.index)))
        if (e.mac == entry.mac) moved = e.dst == entry.dst;
    EXPECT_TRUE(moved);

    handle().delete_fdb(entry);
    handle().delete_fdb(flood);
    ours = self_entries_with_dst(handle().dump_fdb(vxlan_.index));
    ASSERT_EQ(ours.size(), 1u);
    EXPECT_EQ(ours[0].dst, net::Address::parse("192.0.2.13"));
    // No entries of other devices in a filtered dump.
    for (const auto& e : handle().dump_fdb(vxlan_.index)) EXPECT_EQ(e.link_index, vxlan_.index);
}

}  // namespace
}  // namespace twill::netlink::testing
