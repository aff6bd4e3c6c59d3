// The node reconciler against a real kernel, in a throwaway namespace: one rule for drift
// across object kinds, the bridge and its pods' ports coming back, and kernel errors that
// are reported instead of ending anything.
#include "twill/node/node_reconciler.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "require_root.hpp"
#include "test_leases.hpp"
#include "twill/backend/vxlan_backend.hpp"
#include "twill/netlink/failpoints.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/netlink/netns.hpp"
#include "twill/node/sysctl.hpp"
#include "twill/reconcile/object_sets.hpp"

using namespace twill;
using twill::testing::vxlan_lease;

namespace {

bool has_change(const reconcile::Report& report, std::string_view kind, reconcile::Action action,
                bool drift) {
    return std::any_of(report.changes.begin(), report.changes.end(), [&](const auto& c) {
        return c.kind == kind && c.action == action && c.drift == drift;
    });
}

std::string describe(const reconcile::Report& report) {
    std::string text;
    for (const auto& c : report.changes) {
        text += c.kind + " " + std::string(reconcile::to_string(c.action)) + " " + c.object +
                (c.drift ? " (drift)" : "") + "\n";
    }
    for (const auto& e : report.errors) text += "error: " + e + "\n";
    return text;
}

class NodeReconcilerTest : public ::testing::Test {
  protected:
    template <class Fn>
    auto in_ns(Fn fn) {
        return ns_->netns().run(fn);
    }

    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        ns_.emplace("twnode" + std::to_string(::getpid()));
        run_dir_ = std::filesystem::temp_directory_path() /
                   ("twill-node-test-" + std::to_string(::getpid()));
        std::filesystem::create_directories(run_dir_);
        in_ns([&] {
            netlink::Handle handle;
            handle.set_link_up(handle.get_link("lo").index);
            netlink::VethSpec veth;
            veth.name = "eth0";
            veth.peer_name = "eth1";
            const auto under = handle.create_veth(veth);
            handle.add_address(under.index, net::Prefix::parse("192.0.2.3/24"));
            handle.set_link_up(under.index);
            handle.set_link_up(handle.get_link("eth1").index);
            underlay_ = {under.index, "eth0", net::Address::parse("192.0.2.3"), 1500};
            node_.emplace(run_dir_);
        });
        own_ = vxlan_lease("10.244.3.0/24", "192.0.2.3", "a", 3);
        leases_.emplace(own_.subnet, own_);
        for (const auto& l : {vxlan_lease("10.244.5.0/24", "192.0.2.5", "b", 5),
                              vxlan_lease("10.244.9.0/24", "192.0.2.9", "c", 9)}) {
            leases_.emplace(l.subnet, l);
        }
    }

    void TearDown() override {
        netlink::set_failpoints("");
        if (node_) in_ns([&] { node_.reset(); });
        std::error_code ec;
        std::filesystem::remove_all(run_dir_, ec);
    }

    node::DesiredState desired(std::optional<std::vector<std::string>> ports = {}) {
        node::NodeInputs inputs;
        inputs.node_name = "a";
        inputs.network = net::Prefix::parse("10.244.0.0/16");
        inputs.own = own_;
        inputs.leases = &leases_;
        inputs.underlay = underlay_;
        inputs.bridge_ports = std::move(ports);
        return node::desired_state(backend_, inputs);
    }

    reconcile::Report apply(std::optional<std::vector<std::string>> ports = {},
                            bool dry_run = false) {
        const auto state = desired(std::move(ports));
        return in_ns([&] { return node_->apply(state, backend_, dry_run); });
    }

    std::optional<netlink::OwnedNetns> ns_;
    std::filesystem::path run_dir_;
    backend::Underlay underlay_;
    subnet::Lease own_;
    std::map<net::Prefix, subnet::Lease> leases_;
    backend::VxlanBackend backend_{subnet::VxlanBackend{1, 8472}};
    std::optional<node::NodeReconciler> node_;
};

TEST_F(NodeReconcilerTest, ProgramsTheNodeThenChangesNothing) {
    const auto first = apply();
    EXPECT_TRUE(first.errors.empty()) << describe(first);
    EXPECT_TRUE(has_change(first, "link", reconcile::Action::added, false)) << describe(first);
    EXPECT_TRUE(has_change(first, "sysctl", reconcile::Action::replaced, false)) << describe(first);
    EXPECT_TRUE(std::filesystem::exists(run_dir_ / "subnet.json"));
    EXPECT_EQ(in_ns([] { return node::read_sysctl("net.ipv4.ip_forward"); }), "1");
    const auto second = apply({std::vector<std::string>{}});
    EXPECT_TRUE(second.changes.empty()) << describe(second);
    // The dry run of status and check sees the same: nothing differs, every peer settled.
    const auto check = apply({}, true);
    EXPECT_TRUE(check.changes.empty()) << describe(check);
    const auto state = desired();
    for (const auto& [subnet, peer] : state.peers) {
        EXPECT_TRUE(node_->settled(peer, check)) << subnet.to_string();
    }
}

TEST_F(NodeReconcilerTest, DeletedBridgeIsLinkDriftAndGetsItsPodsBack) {
    ASSERT_TRUE(apply().errors.empty());
    // A pod: its host end on twill0, as the plugin leaves it.
    in_ns([] {
        netlink::Handle handle;
        netlink::VethSpec veth;
        veth.name = "tw0000000000aa";
        veth.peer_name = "pod0";
        veth.mtu = 1450;  // as the plugin makes it: the overlay MTU
        const auto port = handle.create_veth(veth);
        handle.set_master(port.index, handle.get_link("twill0").index);
        handle.set_link_up(port.index);
        handle.delete_link(handle.get_link("twill0").index);
    });
    const auto repair = apply(std::vector<std::string>{"tw0000000000aa", "tw-gone"});
    EXPECT_TRUE(repair.errors.empty()) << describe(repair);
    EXPECT_TRUE(has_change(repair, "link", reconcile::Action::added, true)) << describe(repair);
    EXPECT_TRUE(has_change(repair, "address", reconcile::Action::added, true)) << describe(repair);
    EXPECT_TRUE(has_change(repair, "link", reconcile::Action::replaced, true)) << describe(repair);
    in_ns([] {
        netlink::Handle handle;
        const auto bridge = handle.get_link("twill0");
        EXPECT_EQ(handle.get_link("tw0000000000aa").master, bridge.index);
    });
    const auto again = apply(std::vector<std::string>{"tw0000000000aa"});
    EXPECT_TRUE(again.changes.empty()) << describe(again);
}

TEST_F(NodeReconcilerTest, AChangeFromEtcdIsNotDriftButTamperingIs) {
    ASSERT_TRUE(apply().errors.empty());
    // etcd: node b moved to another public IP.
    leases_[net::Prefix::parse("10.244.5.0/24")].value.public_ip =
        net::Address::parse("192.0.2.55");
    const auto moved = apply();
    EXPECT_TRUE(moved.errors.empty()) << describe(moved);
    ASSERT_FALSE(moved.changes.empty());
    for (const auto& c : moved.changes) EXPECT_FALSE(c.drift) << describe(moved);

    // The kernel: someone deletes c's route and changes the bridge's MTU.
    in_ns([] {
        netlink::Handle handle;
        netlink::Route route;
        route.destination = net::Prefix::parse("10.244.9.0/24");
        route.protocol = reconcile::twill_route_protocol;
        handle.delete_route(route);
        handle.set_mtu(handle.get_link("twill0").index, 1400);
    });
    const auto tampered = apply();
    EXPECT_TRUE(has_change(tampered, "route", reconcile::Action::added, true))
        << describe(tampered);
    EXPECT_TRUE(has_change(tampered, "link", reconcile::Action::replaced, true))
        << describe(tampered);

    // A new MTU from the underlay is not drift.
    underlay_.mtu = 1400;
    const auto shrunk = apply();
    EXPECT_TRUE(has_change(shrunk, "link", reconcile::Action::replaced, false)) << describe(shrunk);
    for (const auto& c : shrunk.changes) EXPECT_FALSE(c.drift) << describe(shrunk);
}

TEST_F(NodeReconcilerTest, AFailingDumpIsAReportedErrorAndTheNextRunConverges) {
    ASSERT_TRUE(apply().errors.empty());
    in_ns([] {
        netlink::Handle handle;
        netlink::Route route;
        route.destination = net::Prefix::parse("10.244.9.0/24");
        route.protocol = reconcile::twill_route_protocol;
        handle.delete_route(route);
    });
    for (const char* failpoint :
         {"dump_routes=1", "dump_fdb=1", "dump_links=1", "dump_addresses=1", "dump_neighbours=1"}) {
        netlink::set_failpoints(failpoint);
        reconcile::Report failed;
        EXPECT_NO_THROW(failed = apply(std::vector<std::string>{}));
        EXPECT_FALSE(failed.errors.empty()) << failpoint << "\n" << describe(failed);
        netlink::set_failpoints("");
    }
    const auto after = apply();
    EXPECT_TRUE(after.errors.empty()) << describe(after);
    EXPECT_TRUE(apply().changes.empty());
    EXPECT_TRUE(in_ns([] {
        netlink::Handle handle;
        netlink::RouteFilter filter;
        filter.protocol = reconcile::twill_route_protocol;
        const auto routes = handle.dump_routes(filter);
        return std::any_of(routes.begin(), routes.end(), [](const auto& r) {
            return r.destination == net::Prefix::parse("10.244.9.0/24");
        });
    }));
}

TEST_F(NodeReconcilerTest, FailpointSpecsNameTheVariable) {
    EXPECT_THROW(netlink::set_failpoints("dump_everything"), ParseError);
    EXPECT_THROW(netlink::set_failpoints("dump_routes=0"), ParseError);
    EXPECT_THROW(netlink::set_failpoints("dump_routes=x"), ParseError);
    try {
        netlink::set_failpoints("bogus");
    } catch (const ParseError& e) {
        EXPECT_NE(std::string(e.what()).find("TWILL_FAILPOINTS"), std::string::npos);
    }
}

TEST_F(NodeReconcilerTest, RemoveAllLeavesNothingOfTwill) {
    ASSERT_TRUE(apply().errors.empty());
    const auto state = desired();
    const auto report = in_ns([&] { return node_->remove_all(&backend_, &state.context); });
    EXPECT_TRUE(report.errors.empty()) << describe(report);
    EXPECT_FALSE(std::filesystem::exists(run_dir_ / "subnet.json"));
    in_ns([] {
        netlink::Handle handle;
        EXPECT_FALSE(handle.find_link("twill0"));
        EXPECT_FALSE(handle.find_link("twill.1"));
        netlink::RouteFilter filter;
        filter.protocol = reconcile::twill_route_protocol;
        EXPECT_TRUE(handle.dump_routes(filter).empty());
    });
}

}  // namespace
