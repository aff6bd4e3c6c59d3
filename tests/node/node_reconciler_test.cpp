// The node reconciler against a real kernel, in a throwaway namespace: one rule for drift
// across object kinds, the bridge and its pods' ports coming back, and kernel errors that
// are reported instead of ending anything.
#include "twill/node/node_reconciler.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <set>

#include "require_root.hpp"
#include "test_leases.hpp"
#include "twill/backend/vxlan_backend.hpp"
#include "twill/netlink/failpoints.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/netlink/monitor.hpp"
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

// Tampering in the node's namespace, as someone else would.
netlink::Route twill_route(const char* destination, int oif = 0) {
    netlink::Route route;
    route.destination = net::Prefix::parse(destination);
    route.protocol = reconcile::twill_route_protocol;
    route.oif = oif;
    return route;
}
void delete_route_of_c(netlink::Handle& handle) {
    handle.delete_route(twill_route("10.244.9.0/24"));
}
// A route of twill's protocol that no lease asks for.
netlink::Route add_stray_route(netlink::Handle& handle) {
    const auto stray = twill_route("10.244.77.0/24", handle.get_link("twill0").index);
    handle.replace_route(stray);
    return stray;
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
        EXPECT_TRUE(node_->settled(state.objects_of(subnet), check)) << subnet.to_string();
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
        delete_route_of_c(handle);
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
        delete_route_of_c(handle);
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

namespace {

// One change of leases as the daemon makes it: each changed subnet's objects under its lease
// before and after.
std::vector<node::PeerUpdate> updates_between(const backend::Backend& backend,
                                              const node::DesiredState& state,
                                              const std::map<net::Prefix, subnet::Lease>& before,
                                              const std::map<net::Prefix, subnet::Lease>& after) {
    // A subnet whose lease differs, counting "none" as a lease.
    const auto lease_of = [](const auto& leases, const net::Prefix& subnet) {
        const auto it = leases.find(subnet);
        return it == leases.end() ? std::nullopt : std::optional(it->second);
    };
    std::set<net::Prefix> subnets;
    for (const auto* leases : {&before, &after}) {
        for (const auto& [subnet, lease] : *leases) {
            if (lease_of(before, subnet) != lease_of(after, subnet)) subnets.insert(subnet);
        }
    }
    std::vector<node::PeerUpdate> updates;
    for (const auto& subnet : subnets) {
        node::PeerUpdate update;
        if (auto it = before.find(subnet); it != before.end())
            update.before = node::peer_objects(backend, state.context, it->second);
        if (auto it = after.find(subnet); it != after.end())
            update.after = node::peer_objects(backend, state.context, it->second);
        updates.push_back(std::move(update));
    }
    return updates;
}

}  // namespace

// The run of a change touches only the changed peers and dumps nothing. Whatever sequence of
// changes it is given (peers coming, going, moving to another public IP or MAC, taking a
// subnet over from another), a full comparison afterwards finds nothing to add, change or
// remove: no event path leaves an object behind that the full run would delete.
TEST_F(NodeReconcilerTest, ChangesLeaveNothingForTheFullRunToDo) {
    ASSERT_TRUE(apply().errors.empty());
    std::mt19937 random(11);
    auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(random); };
    for (int step = 0; step < 200; ++step) {
        const auto before = leases_;
        const int changes = 1 + pick(4);
        for (int c = 0; c < changes; ++c) {
            const int n = 4 + pick(12);  // 10.244.4.0/24 .. 10.244.15.0/24
            const auto subnet = "10.244." + std::to_string(n) + ".0/24";
            const auto prefix = net::Prefix::parse(subnet);
            if (leases_.contains(prefix) && pick(3) == 0) {
                leases_.erase(prefix);
                continue;
            }
            const auto ip = "192.0.2." + std::to_string(20 + pick(30));
            const auto node = pick(8) == 0 ? std::string("a") : "n" + std::to_string(n);
            auto lease = vxlan_lease(subnet.c_str(), ip.c_str(), node.c_str(),
                                     static_cast<std::uint8_t>(16 + pick(40)));
            leases_.insert_or_assign(prefix, lease);
        }
        // Two leases may not share a MAC (the table keeps the earlier one): the later goes.
        std::set<std::string> macs;
        for (auto it = leases_.begin(); it != leases_.end();) {
            const auto mac = std::get<subnet::VxlanLeaseData>(it->second.value.backend_data)
                                 .vtep_mac.to_string();
            it = macs.insert(mac).second ? std::next(it) : leases_.erase(it);
        }
        const auto state = desired();
        const auto updates = updates_between(backend_, state, before, leases_);
        const auto report = in_ns([&] { return node_->apply_peer_updates(updates, backend_); });
        ASSERT_TRUE(report.errors.empty()) << "step " << step << "\n" << describe(report);
        for (const auto& change : report.changes) EXPECT_FALSE(change.drift);
        const auto check = apply({}, /*dry_run=*/true);
        ASSERT_TRUE(check.changes.empty())
            << "step " << step << ": the full run would still change\n"
            << describe(check);
    }
}

// Drift between two changes (a route deleted, a stray route of twill's protocol, an FDB entry
// pointed elsewhere) is not what a change looks at; the next full run finds all of it and
// calls it drift.
TEST_F(NodeReconcilerTest, DriftBetweenChangesIsFoundByTheNextFullRun) {
    ASSERT_TRUE(apply().errors.empty());
    in_ns([] {
        netlink::Handle handle;
        delete_route_of_c(handle);
        add_stray_route(handle);
        const auto overlay = handle.get_link("twill.1").index;
        for (auto entry : handle.dump_fdb(overlay)) {
            if (!entry.is_self() || entry.dst != net::Address::parse("192.0.2.5")) continue;
            entry.dst = net::Address::parse("192.0.2.99");
            handle.replace_fdb(entry);
        }
    });
    // A change of another peer (d joins) goes through without looking at any of it.
    const auto before = leases_;
    const auto d = vxlan_lease("10.244.12.0/24", "192.0.2.12", "d", 12);
    leases_.emplace(d.subnet, d);
    const auto updates = updates_between(backend_, desired(), before, leases_);
    const auto change = in_ns([&] { return node_->apply_peer_updates(updates, backend_); });
    ASSERT_TRUE(change.errors.empty()) << describe(change);
    EXPECT_EQ(change.changes.size(), 3u) << describe(change);  // d's route, neighbour, FDB entry

    const auto full = apply();
    EXPECT_TRUE(full.errors.empty()) << describe(full);
    EXPECT_TRUE(has_change(full, "route", reconcile::Action::added, true)) << describe(full);
    EXPECT_TRUE(has_change(full, "route", reconcile::Action::deleted, true)) << describe(full);
    EXPECT_TRUE(has_change(full, "fdb", reconcile::Action::replaced, true)) << describe(full);
    EXPECT_EQ(full.changes.size(), 3u) << describe(full);
    EXPECT_TRUE(apply({}, true).changes.empty());
}

// The kernel's notifications of a run's own writes are recognised as such (no run needed);
// a change made by anyone else is not.
TEST_F(NodeReconcilerTest, OwnWritesAreEchoesOthersAreNot) {
    ASSERT_TRUE(apply().errors.empty());
    in_ns([&] {
        netlink::MonitorOptions groups;
        groups.links = groups.addresses = false;
        netlink::Monitor monitor(groups);
        const auto before = leases_;
        const auto d = vxlan_lease("10.244.12.0/24", "192.0.2.12", "d", 12);
        leases_.emplace(d.subnet, d);
        const auto change = node_->apply_peer_updates(
            updates_between(backend_, desired(), before, leases_), backend_);
        ASSERT_TRUE(change.errors.empty()) << describe(change);
        netlink::Handle handle;
        const auto stray = add_stray_route(handle);
        std::size_t echoes = 0, others = 0;
        for (const auto& event : monitor.drain().events) {
            if (node_->is_echo(event))
                ++echoes;
            else if (const auto* route = std::get_if<netlink::Route>(&event.object);
                     route && route->destination == stray.destination)
                ++others;
        }
        EXPECT_EQ(echoes, 3u);  // d's route, neighbour and FDB entry
        EXPECT_EQ(others, 1u);
        handle.delete_route(stray);
        monitor.drain();

        // d leaves, then comes back with another MAC: every notification is an echo.
        for (const bool back : {false, true}) {
            const auto previous = leases_;
            if (back) {
                const auto d2 = vxlan_lease("10.244.12.0/24", "192.0.2.13", "d", 13);
                leases_.emplace(d2.subnet, d2);
            } else {
                leases_.erase(d.subnet);
            }
            const auto again = node_->apply_peer_updates(
                updates_between(backend_, desired(), previous, leases_), backend_);
            ASSERT_TRUE(again.errors.empty()) << describe(again);
            for (const auto& event : monitor.drain().events) {
                EXPECT_TRUE(node_->is_echo(event))
                    << (back ? "back: " : "gone: ") << static_cast<int>(event.kind) << " "
                    << static_cast<int>(event.action) << " "
                    << std::visit([](const auto& o) { return netlink::to_string(o); },
                                  event.object);
            }
        }
    });
}

// The overlay device deleted under a change (before the full run that the kernel's
// notification asks for): the change reports errors, never throws, and the full run after it
// makes the device and every peer's objects anew.
TEST_F(NodeReconcilerTest, AChangeOnADeletedDeviceIsAnErrorAndTheFullRunRepairs) {
    ASSERT_TRUE(apply().errors.empty());
    in_ns([] {
        netlink::Handle handle;
        handle.delete_link(handle.get_link("twill.1").index);
    });
    const auto before = leases_;
    const auto d = vxlan_lease("10.244.12.0/24", "192.0.2.12", "d", 12);
    leases_.emplace(d.subnet, d);
    const auto updates = updates_between(backend_, desired(), before, leases_);
    const auto change = in_ns([&] { return node_->apply_peer_updates(updates, backend_); });
    EXPECT_FALSE(change.errors.empty()) << describe(change);
    const auto full = apply();
    EXPECT_TRUE(full.errors.empty()) << describe(full);
    EXPECT_TRUE(has_change(full, "link", reconcile::Action::added, true)) << describe(full);
    const auto check = apply({}, true);
    EXPECT_TRUE(check.changes.empty()) << describe(check);
    const auto state = desired();
    EXPECT_TRUE(node_->settled(state.objects_of(d.subnet), check));
}
