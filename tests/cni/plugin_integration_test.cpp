// The plugin binary run as containerd runs it, in throwaway namespaces: every verb on every
// supported config version, every error code, CHECK against a tampered kernel, undo on
// failure, GC.
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <thread>

#include "plugin_harness.hpp"
#include "require_root.hpp"
#include "twill/netlink/netlink.hpp"
#include "twill/sys/file.hpp"

namespace twill::testing {
namespace {

using nlohmann::json;

const std::vector<std::string> versions{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};

std::string short_name(std::string version) {
    std::erase(version, '.');
    return version;
}

// The default routes of a pod's main table, as "<gateway> dev <ifindex>".
std::set<std::string> default_routes(const netlink::OwnedNetns& pod,
                                     net::Family family = net::Family::v4) {
    std::set<std::string> routes;
    netlink::RouteFilter filter;
    filter.table = netlink::route_table_main;
    filter.family = family;
    for (const auto& route : netlink::Handle(pod).dump_routes(filter)) {
        if (route.destination.length() != 0) continue;
        routes.insert((route.gateway ? route.gateway->to_string() : "-") + " dev " +
                      std::to_string(route.oif));
    }
    return routes;
}

class CniPlugin : public ::testing::Test {
  protected:
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        ASSERT_TRUE(std::filesystem::exists(CniNode::plugin_path())) << CniNode::plugin_path();
        world.emplace();
    }

    // The code of a failed run, after checking the reply is a spec error in `version`.
    int error_code(const PluginOutcome& outcome, std::string_view version,
                   std::string_view names = {}) {
        EXPECT_NE(outcome.exit_code, 0) << outcome.output;
        if (!outcome.json.is_object() || !outcome.json.contains("code")) {
            ADD_FAILURE() << "not a CNI error: " << outcome.output;
            return -1;
        }
        EXPECT_EQ(outcome.json["cniVersion"], version) << outcome.output;
        EXPECT_TRUE(outcome.json["msg"].is_string()) << outcome.output;
        if (!names.empty()) {
            EXPECT_NE(outcome.json["msg"].get<std::string>().find(names), std::string::npos)
                << outcome.output << " should name " << names;
        }
        return outcome.json["code"].get<int>();
    }

    void expect_nothing_allocated() {
        const auto reservations = world->reservations();
        EXPECT_TRUE(reservations.empty()) << *reservations.begin();
        const auto veths = world->host_veths();
        EXPECT_TRUE(veths.empty()) << *veths.begin();
    }

    std::optional<CniNode> world;
};

TEST_F(CniPlugin, EveryVerbOnEveryVersion) {
    for (const auto& version : versions) {
        SCOPED_TRACE("cniVersion " + version);
        const auto& pod = world->add_pod("p" + short_name(version));
        const std::string id = "ctr" + short_name(version);
        const auto config = world->config(
            version, {{"dns", {{"nameservers", {"10.43.0.10"}}, {"search", {"svc"}}}}});

        const auto add = world->run(CniNode::attachment_env("ADD", id, pod.path()), config);
        ASSERT_EQ(add.exit_code, 0) << add.output;
        const auto& r = add.json;
        ASSERT_TRUE(r.is_object()) << add.output;
        EXPECT_EQ(r["cniVersion"], version);
        ASSERT_EQ(r["interfaces"].size(), 2u) << add.output;
        const auto host_name = r["interfaces"][0]["name"].get<std::string>();
        EXPECT_TRUE(host_name.starts_with("tw"));
        EXPECT_FALSE(r["interfaces"][0].contains("sandbox"));
        EXPECT_EQ(r["interfaces"][1]["name"], "eth0");
        EXPECT_EQ(r["interfaces"][1]["sandbox"], pod.path().string());
        ASSERT_EQ(r["ips"].size(), 1u);
        EXPECT_EQ(r["ips"][0]["interface"], 1);
        EXPECT_EQ(r["ips"][0]["gateway"], "10.244.3.1");
        EXPECT_EQ(r["ips"][0].contains("version"), version < "1.0.0");
        const auto address = net::Prefix::parse(r["ips"][0]["address"].get<std::string>());
        EXPECT_EQ(address.length(), 24);
        EXPECT_TRUE(world->subnet.subnet.contains(address.address()));
        EXPECT_NE(address.address(), world->subnet.gateway);
        EXPECT_EQ(r["routes"], json::parse(R"([{"dst":"0.0.0.0/0","gw":"10.244.3.1"}])"));
        EXPECT_EQ(r["dns"]["nameservers"], json::array({"10.43.0.10"}));
        EXPECT_EQ(r["dns"]["search"], json::array({"svc"}));

        // The kernel: the pod end with address, MTU and default route; the host end up on
        // the bridge with hairpin; the pod reachable from the node.
        netlink::Handle in_pod(pod);
        const auto eth0 = in_pod.get_link("eth0");
        EXPECT_TRUE(eth0.is_up());
        EXPECT_EQ(eth0.mtu, 1450u);
        EXPECT_EQ(r["interfaces"][1]["mac"], eth0.mac->to_string());
        const auto addresses = in_pod.list_addresses(eth0.index, net::Family::v4);
        ASSERT_EQ(addresses.size(), 1u);
        EXPECT_EQ(addresses[0].prefix, address);
        bool default_route = false;
        for (const auto& route : in_pod.dump_routes()) {
            default_route |= route.destination.length() == 0 &&
                             route.gateway == world->subnet.gateway && route.oif == eth0.index;
        }
        EXPECT_TRUE(default_route);
        // IPv4-only subnet.json: no IPv6 address beyond the link-local one, no IPv6 route.
        for (const auto& a : in_pod.list_addresses(eth0.index, net::Family::v6))
            EXPECT_TRUE(a.prefix.address().is_link_local()) << a.prefix.to_string();
        EXPECT_EQ(default_routes(pod, net::Family::v6), std::set<std::string>{});
        netlink::Handle in_node(world->node.netns);
        const auto host_end = in_node.get_link(host_name);
        EXPECT_EQ(host_end.master, in_node.get_link("twill0").index);
        EXPECT_TRUE(host_end.is_up());
        EXPECT_EQ(host_end.mtu, 1450u);
        const auto details =
            run_command({"ip", "-n", world->node.netns_name(), "-d", "link", "show", host_name});
        EXPECT_NE(details.output.find("hairpin on"), std::string::npos) << details.output;
        const auto ping =
            run_command({"ping", "-c", "1", "-W", "5", address.address().to_string()},
                        {.netns = world->node.netns.path(), .env = {}, .log_file = std::nullopt});
        EXPECT_EQ(ping.exit_code, 0) << ping.output;
        EXPECT_EQ(sys::read_file(world->data_dir / "twill" / address.address().to_string()),
                  id + "\neth0\n");

        auto with_prev = config;
        with_prev["prevResult"] = r;
        const auto check = world->run(CniNode::attachment_env("CHECK", id, pod.path()), with_prev);
        if (version >= "0.4.0") {
            EXPECT_EQ(check.exit_code, 0) << check.output;
            EXPECT_TRUE(check.output.empty()) << check.output;
        } else {
            EXPECT_EQ(error_code(check, version, "CHECK"), 1);
        }

        const auto status = world->run({"CNI_COMMAND=STATUS"}, config);
        auto gc_config = config;
        gc_config["cni.dev/valid-attachments"] =
            json::array({{{"containerID", id}, {"ifname", "eth0"}}});
        const auto gc = world->run({"CNI_COMMAND=GC"}, gc_config);
        if (version == "1.1.0") {
            EXPECT_EQ(status.exit_code, 0) << status.output;
            EXPECT_EQ(gc.exit_code, 0) << gc.output;
            EXPECT_EQ(world->reservations().size(), 1u);  // a valid attachment stays
        } else {
            EXPECT_EQ(error_code(status, version, "STATUS"), 1);
            EXPECT_EQ(error_code(gc, version, "GC"), 1);
        }

        const auto version_reply =
            world->run({"CNI_COMMAND=VERSION"}, json{{"cniVersion", version}});
        EXPECT_EQ(version_reply.exit_code, 0);
        EXPECT_EQ(version_reply.json["supportedVersions"], json(versions));

        auto del_config = config;
        del_config["prevResult"] = r;
        const auto del = world->run(CniNode::attachment_env("DEL", id, pod.path()), del_config);
        EXPECT_EQ(del.exit_code, 0) << del.output;
        EXPECT_TRUE(del.output.empty()) << del.output;
        expect_nothing_allocated();
        EXPECT_FALSE(in_pod.find_link("eth0"));
        const auto again = world->run(CniNode::attachment_env("DEL", id, pod.path()), config);
        EXPECT_EQ(again.exit_code, 0) << again.output;
    }
}

TEST_F(CniPlugin, DelSucceedsWhenTheNamespaceIsGone) {
    std::optional<netlink::OwnedNetns> pod(std::in_place, world->topology.prefix() + "gone");
    const auto path = pod->path();
    const auto add = world->run(CniNode::attachment_env("ADD", "c1", path), world->config("1.0.0"));
    ASSERT_EQ(add.exit_code, 0) << add.output;
    pod.reset();  // the runtime removed the sandbox before DEL
    for (const auto& netns : {path, std::filesystem::path()}) {
        const auto del =
            world->run(CniNode::attachment_env("DEL", "c1", netns), world->config("1.0.0"));
        EXPECT_EQ(del.exit_code, 0) << del.output;
    }
    EXPECT_TRUE(world->reservations().empty());
    // The kernel destroys a dead namespace's devices asynchronously; DEL removed the host end
    // itself or found it gone.
    EXPECT_TRUE(world->host_veths().empty());
}

TEST_F(CniPlugin, EveryErrorCodeOnEveryVersion) {
    const auto& pod = world->add_pod("pod");
    for (const auto& version : versions) {
        SCOPED_TRACE("cniVersion " + version);
        const auto config = world->config(version);
        auto env = CniNode::attachment_env("ADD", "c1", pod.path());

        auto no_netns = env;
        std::erase_if(no_netns, [](const std::string& e) { return e.starts_with("CNI_NETNS="); });
        EXPECT_EQ(error_code(world->run(no_netns, config), version, "CNI_NETNS"), 4);
        EXPECT_EQ(
            error_code(
                world->run(CniNode::attachment_env("ADD", "c1", pod.path(), "bad/name"), config),
                version, "CNI_IFNAME"),
            4);
        EXPECT_EQ(error_code(world->run(CniNode::attachment_env("ADD", "-bad", pod.path()), config),
                             version, "CNI_CONTAINERID"),
                  4);
        EXPECT_EQ(error_code(world->run({"CNI_COMMAND=FROB"}, config), version, "CNI_COMMAND"), 4);

        EXPECT_EQ(error_code(world->run(env, world->config(version, {{"runDir", "relative"}})),
                             version, "runDir"),
                  7);
        EXPECT_EQ(error_code(world->run(env, world->config(version, {{"name", "../x"}})), version,
                             "name"),
                  7);
        auto no_name = config;
        no_name.erase("name");
        EXPECT_EQ(error_code(world->run(env, no_name), version, "name"), 7);

        world->remove_subnet();
        EXPECT_EQ(error_code(world->run(env, config), version, "subnet.json"), 11);
        if (version == "1.1.0") {
            EXPECT_EQ(
                error_code(world->run({"CNI_COMMAND=STATUS"}, config), version, "subnet.json"), 50);
        }
        world->write_subnet();

        EXPECT_EQ(error_code(world->run(CniNode::attachment_env("ADD", "c1",
                                                                "/var/run/netns/twill-no-such-ns"),
                                        config),
                             version, "CNI_NETNS"),
                  3);
        expect_nothing_allocated();
    }
    EXPECT_EQ(error_code(world->run(CniNode::attachment_env("ADD", "c1", pod.path()),
                                    std::string("{not json")),
                         "1.1.0"),
              6);
    EXPECT_EQ(error_code(world->run(CniNode::attachment_env("ADD", "c1", pod.path()),
                                    world->config("0.2.0").dump()),
                         "1.1.0", "cniVersion"),
              1);
    expect_nothing_allocated();
}

TEST_F(CniPlugin, CheckFindsWhatChanged) {
    const auto& pod = world->add_pod("pod");
    const auto env_add = CniNode::attachment_env("ADD", "c1", pod.path());
    const auto add = world->run(env_add, world->config("1.0.0"));
    ASSERT_EQ(add.exit_code, 0) << add.output;
    const auto ip =
        net::Prefix::parse(add.json["ips"][0]["address"].get<std::string>()).address().to_string();
    const auto host_name = add.json["interfaces"][0]["name"].get<std::string>();
    auto config = world->config("1.0.0");
    config["prevResult"] = add.json;
    const auto env = CniNode::attachment_env("CHECK", "c1", pod.path());
    auto check_fails_naming = [&](std::string_view what) {
        const auto check = world->run(env, config);
        EXPECT_NE(check.exit_code, 0) << "CHECK passed although " << what << " changed";
        EXPECT_NE(check.output.find(what), std::string::npos) << check.output;
    };
    ASSERT_EQ(world->run(env, config).exit_code, 0);

    const auto pod_ns = pod.name();
    run_command({"ip", "-n", pod_ns, "route", "del", "default"});
    check_fails_naming("route 0.0.0.0/0");
    run_command({"ip", "-n", pod_ns, "route", "add", "default", "via", "10.244.3.1"});
    ASSERT_EQ(world->run(env, config).exit_code, 0);

    const auto reservation = world->data_dir / "twill" / ip;
    sys::write_file_atomic(reservation, "someone-else\neth0\n");
    check_fails_naming("reserved for someone-else");
    sys::write_file_atomic(reservation, "c1\neth0\n");

    run_command({"ip", "-n", world->node.netns_name(), "link", "set", host_name, "nomaster"});
    check_fails_naming("not on twill0");
    run_command(
        {"ip", "-n", world->node.netns_name(), "link", "set", host_name, "master", "twill0"});
    ASSERT_EQ(world->run(env, config).exit_code, 0);

    run_command({"ip", "-n", pod_ns, "addr", "flush", "dev", "eth0"});
    check_fails_naming("lacks address " + ip);
    run_command({"ip", "-n", pod_ns, "link", "del", "eth0"});
    check_fails_naming("eth0 does not exist");

    auto no_prev = world->config("1.0.0");
    EXPECT_EQ(error_code(world->run(env, no_prev), "1.0.0", "prevResult"), 7);

    EXPECT_EQ(world->run(CniNode::attachment_env("DEL", "c1", pod.path()), world->config("1.0.0"))
                  .exit_code,
              0);
    expect_nothing_allocated();
}

TEST_F(CniPlugin, FailedAddLeavesNothing) {
    // The bridge named in subnet.json is no bridge: ADD gets as far as enslaving the host end,
    // then must take back the veth pair and the reservation.
    run_command({"ip", "-n", world->node.netns_name(), "link", "add", "notbr0", "type", "dummy"});
    world->subnet.bridge = "notbr0";
    world->write_subnet();
    const auto& pod = world->add_pod("busy");
    const auto failed =
        world->run(CniNode::attachment_env("ADD", "c1", pod.path()), world->config("1.0.0"));
    EXPECT_NE(failed.exit_code, 0) << failed.output;
    expect_nothing_allocated();
    EXPECT_FALSE(netlink::Handle(pod).find_link("eth0"));
    world->subnet.bridge = "twill0";
    world->write_subnet();

    // The pod interface name is taken: the veth cannot be made; the reservation goes.
    {
        netlink::Handle in_pod(pod);
        netlink::VethSpec veth;
        veth.name = "d0";
        veth.peer_name = "d1";
        in_pod.create_veth(veth);
    }
    const auto failed_again =
        world->run(CniNode::attachment_env("ADD", "c2", pod.path(), "d0"), world->config("1.0.0"));
    EXPECT_NE(failed_again.exit_code, 0);
    expect_nothing_allocated();

    // The bridge is missing: try again later, nothing reserved.
    world->subnet.bridge = "nosuch0";
    world->write_subnet();
    const auto& pod2 = world->add_pod("pod2");
    EXPECT_EQ(error_code(world->run(CniNode::attachment_env("ADD", "c3", pod2.path()),
                                    world->config("1.0.0")),
                         "1.0.0", "nosuch0"),
              11);
    expect_nothing_allocated();
}

// What identifies the pod's links (flags such as carrier may still settle meanwhile).
std::set<std::string> link_identities(const netlink::OwnedNetns& pod) {
    std::set<std::string> links;
    for (const auto& link : netlink::Handle(pod).list_links()) {
        links.insert(link.name + " " + std::to_string(link.index) + " " +
                     (link.mac ? link.mac->to_string() : "-") + " " + std::to_string(link.mtu));
    }
    return links;
}

TEST_F(CniPlugin, SecondInterfaceGetsItsOwnAddressAndLeavesTheDefaultRouteAlone) {
    const auto& pod = world->add_pod("multi");
    const auto config = world->config("1.0.0");
    const auto first = world->run(CniNode::attachment_env("ADD", "c1", pod.path()), config);
    ASSERT_EQ(first.exit_code, 0) << first.output;
    netlink::Handle in_pod(pod);
    const auto eth0 = in_pod.get_link("eth0");
    const std::set<std::string> first_default{"10.244.3.1 dev " + std::to_string(eth0.index)};
    ASSERT_EQ(default_routes(pod), first_default);

    const auto second =
        world->run(CniNode::attachment_env("ADD", "c1", pod.path(), "net1"), config);
    ASSERT_EQ(second.exit_code, 0) << second.output;
    const auto& r = second.json;
    ASSERT_EQ(r["interfaces"].size(), 2u) << second.output;
    EXPECT_EQ(r["interfaces"][1]["name"], "net1");
    EXPECT_NE(r["interfaces"][0]["name"], first.json["interfaces"][0]["name"]);
    ASSERT_EQ(r["ips"].size(), 1u);
    EXPECT_NE(r["ips"][0]["address"], first.json["ips"][0]["address"]);
    EXPECT_EQ(r["ips"][0]["gateway"], "10.244.3.1");
    // The pod had a default route: it is left alone, and none is listed for net1.
    EXPECT_TRUE(!r.contains("routes") || r["routes"].empty()) << second.output;
    EXPECT_EQ(default_routes(pod), first_default);
    const auto net1 = in_pod.get_link("net1");
    const auto address = net::Prefix::parse(r["ips"][0]["address"].get<std::string>());
    const auto addresses = in_pod.list_addresses(net1.index, net::Family::v4);
    ASSERT_EQ(addresses.size(), 1u);
    EXPECT_EQ(addresses[0].prefix, address);
    EXPECT_EQ(world->reservations().size(), 2u);
    EXPECT_EQ(world->host_veths().size(), 2u);
    EXPECT_EQ(sys::read_file(world->data_dir / "twill" / address.address().to_string()),
              "c1\nnet1\n");

    // CHECK passes for both.
    for (const auto& [ifname, result] : {std::pair{"eth0", first.json}, {"net1", r}}) {
        auto with_prev = config;
        with_prev["prevResult"] = result;
        const auto check =
            world->run(CniNode::attachment_env("CHECK", "c1", pod.path(), ifname), with_prev);
        EXPECT_EQ(check.exit_code, 0) << ifname << ": " << check.output;
    }

    // DEL of net1 leaves eth0 (address, default route, host end, reservation) untouched.
    const auto del = world->run(CniNode::attachment_env("DEL", "c1", pod.path(), "net1"), config);
    ASSERT_EQ(del.exit_code, 0) << del.output;
    EXPECT_FALSE(in_pod.find_link("net1"));
    EXPECT_EQ(world->reservations().size(), 1u);
    EXPECT_EQ(world->host_veths(), std::set<std::string>{first.json["interfaces"][0]["name"]});
    EXPECT_EQ(default_routes(pod), first_default);
    auto with_prev = config;
    with_prev["prevResult"] = first.json;
    const auto check = world->run(CniNode::attachment_env("CHECK", "c1", pod.path()), with_prev);
    EXPECT_EQ(check.exit_code, 0) << check.output;

    EXPECT_EQ(world->run(CniNode::attachment_env("DEL", "c1", pod.path()), config).exit_code, 0);
    expect_nothing_allocated();
}

TEST_F(CniPlugin, RepeatedAddReturnsTheExistingAttachment) {
    const auto& pod = world->add_pod("again");
    for (const auto& version : {"0.3.1", "1.0.0"}) {
        SCOPED_TRACE(version);
        const auto config = world->config(version);
        const auto env = CniNode::attachment_env("ADD", "c1", pod.path());
        const auto first = world->run(env, config);
        ASSERT_EQ(first.exit_code, 0) << first.output;
        const auto eth0 = netlink::Handle(pod).get_link("eth0");
        const auto links = link_identities(pod);
        const auto reservations = world->reservations();
        const auto veths = world->host_veths();

        const auto again = world->run(env, config);
        ASSERT_EQ(again.exit_code, 0) << again.output;
        EXPECT_EQ(again.json, first.json);
        EXPECT_EQ(world->reservations(), reservations);
        EXPECT_EQ(world->host_veths(), veths);
        EXPECT_EQ(link_identities(pod), links);  // the same devices, untouched
        EXPECT_EQ(default_routes(pod),
                  std::set<std::string>{"10.244.3.1 dev " + std::to_string(eth0.index)});
        EXPECT_EQ(world->run(CniNode::attachment_env("DEL", "c1", pod.path()), config).exit_code,
                  0);
        expect_nothing_allocated();
    }
}

TEST_F(CniPlugin, RepeatedAddOfADamagedAttachmentFailsChangingNothing) {
    const auto& pod = world->add_pod("damaged");
    const auto config = world->config("1.0.0");
    const auto env = CniNode::attachment_env("ADD", "c1", pod.path());
    const auto first = world->run(env, config);
    ASSERT_EQ(first.exit_code, 0) << first.output;
    const auto ip = net::Prefix::parse(first.json["ips"][0]["address"].get<std::string>());
    const auto host_name = first.json["interfaces"][0]["name"].get<std::string>();
    const auto pod_ns = pod.name();
    auto fails_changing_nothing = [&](std::string_view names) {
        const auto reservations = world->reservations();
        const auto veths = world->host_veths();
        const auto links = link_identities(pod);
        const auto again = world->run(env, config);
        EXPECT_EQ(error_code(again, "1.0.0", names), 999);
        EXPECT_NE(again.output.find(ip.address().to_string()), std::string::npos) << again.output;
        EXPECT_EQ(world->reservations(), reservations);
        EXPECT_EQ(world->host_veths(), veths);
        EXPECT_EQ(link_identities(pod), links);
    };

    run_command({"ip", "-n", pod_ns, "addr", "flush", "dev", "eth0"});
    fails_changing_nothing("lacks address " + ip.to_string());
    run_command({"ip", "-n", pod_ns, "addr", "add", ip.to_string(), "dev", "eth0"});
    run_command({"ip", "-n", world->node.netns_name(), "link", "set", host_name, "nomaster"});
    fails_changing_nothing("not on twill0");
    // The pod end gone (and the host end with it): only the reservation is left.
    run_command({"ip", "-n", pod_ns, "link", "del", "eth0"});
    fails_changing_nothing("eth0 does not exist");

    // DEL clears what is left, and a new ADD starts afresh.
    EXPECT_EQ(world->run(CniNode::attachment_env("DEL", "c1", pod.path()), config).exit_code, 0);
    expect_nothing_allocated();
    const auto fresh = world->run(env, config);
    ASSERT_EQ(fresh.exit_code, 0) << fresh.output;
    EXPECT_EQ(world->run(CniNode::attachment_env("DEL", "c1", pod.path()), config).exit_code, 0);
}

TEST_F(CniPlugin, ExhaustedSubnetFailsCleanly) {
    world->subnet.subnet = net::Prefix::parse("10.244.3.0/30");  // hosts .1 (gateway) and .2
    world->write_subnet();
    const auto& a = world->add_pod("a");
    const auto& b = world->add_pod("b");
    const auto first =
        world->run(CniNode::attachment_env("ADD", "a", a.path()), world->config("1.0.0"));
    ASSERT_EQ(first.exit_code, 0) << first.output;
    EXPECT_EQ(first.json["ips"][0]["address"], "10.244.3.2/30");
    const auto second =
        world->run(CniNode::attachment_env("ADD", "b", b.path()), world->config("1.0.0"));
    EXPECT_NE(second.exit_code, 0);
    EXPECT_NE(second.output.find("no free address"), std::string::npos) << second.output;
    EXPECT_EQ(world->reservations(), std::set<std::string>{"10.244.3.2"});
    EXPECT_EQ(world->host_veths().size(), 1u);
}

TEST_F(CniPlugin, NodeSubnetChangeDropsOldReservations) {
    const auto& a = world->add_pod("a");
    ASSERT_EQ(
        world->run(CniNode::attachment_env("ADD", "a", a.path()), world->config("1.0.0")).exit_code,
        0);
    world->subnet.subnet = net::Prefix::parse("10.244.7.0/24");
    world->subnet.gateway = net::Address::parse("10.244.7.1");
    world->write_subnet();
    run_command(
        {"ip", "-n", world->node.netns_name(), "addr", "add", "10.244.7.1/24", "dev", "twill0"});
    const auto& b = world->add_pod("b");
    const auto add =
        world->run(CniNode::attachment_env("ADD", "b", b.path()), world->config("1.0.0"));
    ASSERT_EQ(add.exit_code, 0) << add.output;
    EXPECT_EQ(world->reservations(), std::set<std::string>{"10.244.7.2"});
}

// The global (not link-local) addresses of a pod interface of one family.
std::vector<net::Prefix> global_addresses(const netlink::OwnedNetns& pod, std::string_view ifname,
                                          net::Family family) {
    netlink::Handle in_pod(pod);
    std::vector<net::Prefix> prefixes;
    for (const auto& a :
         in_pod.list_addresses(in_pod.get_link(std::string(ifname)).index, family)) {
        if (!a.prefix.address().is_link_local()) prefixes.push_back(a.prefix);
    }
    return prefixes;
}

PluginOutcome ping_from(const netlink::OwnedNetns& pod, const std::string& address) {
    const auto result = run_command({"ping", "-c", "1", "-W", "2", address},
                                    {.netns = pod.path(), .env = {}, .log_file = std::nullopt});
    return {result.exit_code, result.output, nullptr};
}

TEST_F(CniPlugin, DualStackPodGetsAnAddressAndADefaultRouteOfEachFamily) {
    world->make_dual_stack();
    const auto config = world->config("1.0.0");
    const auto& a = world->add_pod("a");
    const auto env = CniNode::attachment_env("ADD", "a", a.path());
    const auto add = world->run(env, config);
    ASSERT_EQ(add.exit_code, 0) << add.output;
    const auto& r = add.json;
    ASSERT_EQ(r["ips"].size(), 2u) << add.output;
    EXPECT_EQ(r["ips"][0], json::parse(R"({"address":"10.244.3.2/24","gateway":"10.244.3.1",
                                           "interface":1})"));
    EXPECT_EQ(r["ips"][1],
              json::parse(R"({"address":"fd00:10:244:3::2/64","gateway":"fd00:10:244:3::1",
                              "interface":1})"));
    EXPECT_EQ(r["routes"], json::parse(R"([{"dst":"0.0.0.0/0","gw":"10.244.3.1"},
                                           {"dst":"::/0","gw":"fd00:10:244:3::1"}])"));

    // The kernel: one address of each family and a default route of each via its gateway;
    // both gateways answer right after ADD (the IPv6 address is not left tentative).
    const auto eth0 = netlink::Handle(a).get_link("eth0");
    EXPECT_EQ(global_addresses(a, "eth0", net::Family::v4),
              std::vector{net::Prefix::parse("10.244.3.2/24")});
    EXPECT_EQ(global_addresses(a, "eth0", net::Family::v6),
              std::vector{net::Prefix::parse("fd00:10:244:3::2/64")});
    const auto via_eth0 = " dev " + std::to_string(eth0.index);
    EXPECT_EQ(default_routes(a), std::set<std::string>{"10.244.3.1" + via_eth0});
    EXPECT_EQ(default_routes(a, net::Family::v6),
              std::set<std::string>{"fd00:10:244:3::1" + via_eth0});
    for (const auto* gateway : {"10.244.3.1", "fd00:10:244:3::1"}) {
        const auto ping = ping_from(a, gateway);
        EXPECT_EQ(ping.exit_code, 0) << gateway << ": " << ping.output;
    }
    EXPECT_EQ(world->reservations(), (std::set<std::string>{"10.244.3.2", "fd00:10:244:3::2"}));
    EXPECT_EQ(sys::read_file(world->data_dir / "twill" / "fd00:10:244:3::2"), "a\neth0\n");

    // A second pod gets the next address of each family, and reaches the first over both.
    const auto& b = world->add_pod("b");
    const auto add_b = world->run(CniNode::attachment_env("ADD", "b", b.path()), config);
    ASSERT_EQ(add_b.exit_code, 0) << add_b.output;
    ASSERT_EQ(add_b.json["ips"].size(), 2u) << add_b.output;
    EXPECT_EQ(add_b.json["ips"][0]["address"], "10.244.3.3/24");
    EXPECT_EQ(add_b.json["ips"][1]["address"], "fd00:10:244:3::3/64");
    for (const auto* peer : {"10.244.3.2", "fd00:10:244:3::2"}) {
        const auto ping = ping_from(b, peer);
        EXPECT_EQ(ping.exit_code, 0) << peer << ": " << ping.output;
    }

    // A repeated ADD answers the same result, changing nothing.
    const auto again = world->run(env, config);
    ASSERT_EQ(again.exit_code, 0) << again.output;
    EXPECT_EQ(again.json, r);
    EXPECT_EQ(world->reservations().size(), 4u);
    EXPECT_EQ(world->host_veths().size(), 2u);

    // CHECK passes, and names the IPv6 address or the IPv6 default route when it is gone.
    auto with_prev = config;
    with_prev["prevResult"] = r;
    const auto check_env = CniNode::attachment_env("CHECK", "a", a.path());
    const auto check = world->run(check_env, with_prev);
    EXPECT_EQ(check.exit_code, 0) << check.output;
    const auto pod_ns = a.name();
    run_command({"ip", "-n", pod_ns, "addr", "del", "fd00:10:244:3::2/64", "dev", "eth0"});
    const auto no_address = world->run(check_env, with_prev);
    EXPECT_EQ(error_code(no_address, "1.0.0", "lacks address fd00:10:244:3::2/64"), 999);
    // A repeated ADD says so too, and changes nothing.
    const auto damaged = world->run(env, config);
    EXPECT_EQ(error_code(damaged, "1.0.0", "lacks address fd00:10:244:3::2/64"), 999);
    run_command({"ip", "-n", pod_ns, "addr", "add", "fd00:10:244:3::2/64", "dev", "eth0", "nodad"});
    run_command({"ip", "-n", pod_ns, "-6", "route", "replace", "default", "via", "fd00:10:244:3::1",
                 "dev", "eth0"});
    const auto restored = world->run(check_env, with_prev);
    EXPECT_EQ(restored.exit_code, 0) << restored.output;
    run_command({"ip", "-n", pod_ns, "-6", "route", "del", "default"});
    EXPECT_EQ(error_code(world->run(check_env, with_prev), "1.0.0", "route ::/0"), 999);

    // DEL releases the reservations of both families and removes the veth.
    const auto host_a = r["interfaces"][0]["name"].get<std::string>();
    const auto del = world->run(CniNode::attachment_env("DEL", "a", a.path()), config);
    EXPECT_EQ(del.exit_code, 0) << del.output;
    EXPECT_EQ(world->reservations(), (std::set<std::string>{"10.244.3.3", "fd00:10:244:3::3"}));
    EXPECT_FALSE(world->host_veths().contains(host_a));
    EXPECT_FALSE(netlink::Handle(a).find_link("eth0"));

    // GC releases both of an attachment that is not valid.
    auto gc_config = world->config("1.1.0");
    gc_config["cni.dev/valid-attachments"] = json::array();
    const auto gc = world->run({"CNI_COMMAND=GC"}, gc_config);
    EXPECT_EQ(gc.exit_code, 0) << gc.output;
    expect_nothing_allocated();
}

TEST_F(CniPlugin, DualStackExhaustedIpv6PoolLeavesNothing) {
    world->make_dual_stack();
    // Hosts ::1 (the gateway), ::2 and ::3: two pods fill it, IPv4 has room for more.
    world->subnet.ipv6->subnet = net::Prefix::parse("fd00:10:244:3::/126");
    world->write_subnet();
    const auto config = world->config("1.0.0");
    for (const auto& [id, address] :
         {std::pair{"a", "fd00:10:244:3::2/126"}, {"b", "fd00:10:244:3::3/126"}}) {
        const auto add =
            world->run(CniNode::attachment_env("ADD", id, world->add_pod(id).path()), config);
        ASSERT_EQ(add.exit_code, 0) << add.output;
        ASSERT_EQ(add.json["ips"].size(), 2u) << add.output;
        EXPECT_EQ(add.json["ips"][1]["address"], address);
    }
    const auto reservations = world->reservations();
    const auto veths = world->host_veths();
    ASSERT_EQ(reservations.size(), 4u);

    const auto& c = world->add_pod("c");
    const auto failed = world->run(CniNode::attachment_env("ADD", "c", c.path()), config);
    EXPECT_EQ(error_code(failed, "1.0.0", "no free address in fd00:10:244:3::/126"), 999);
    // The IPv4 address reserved before the IPv6 pool ran dry is released again.
    EXPECT_EQ(world->reservations(), reservations);
    EXPECT_EQ(world->host_veths(), veths);
    EXPECT_FALSE(netlink::Handle(c).find_link("eth0"));
}

TEST_F(CniPlugin, Ipv6OnlyPodGetsAnIpv6AddressAndDefaultRoute) {
    // subnet.json of an IPv6-only network: network, subnet and gateway are IPv6.
    world->make_dual_stack();  // puts the IPv6 gateway on twill0
    world->subnet.network = world->subnet.ipv6->network;
    world->subnet.subnet = world->subnet.ipv6->subnet;
    world->subnet.gateway = world->subnet.ipv6->gateway;
    world->subnet.ipv6.reset();
    world->write_subnet();
    const auto& a = world->add_pod("a");
    const auto config = world->config("0.4.0");
    const auto add = world->run(CniNode::attachment_env("ADD", "a", a.path()), config);
    ASSERT_EQ(add.exit_code, 0) << add.output;
    EXPECT_EQ(add.json["ips"],
              json::parse(R"([{"address":"fd00:10:244:3::2/64","gateway":"fd00:10:244:3::1",
                               "interface":1,"version":"6"}])"));
    EXPECT_EQ(add.json["routes"], json::parse(R"([{"dst":"::/0","gw":"fd00:10:244:3::1"}])"));
    EXPECT_EQ(global_addresses(a, "eth0", net::Family::v4), std::vector<net::Prefix>{});
    EXPECT_EQ(default_routes(a), std::set<std::string>{});
    const auto ping = ping_from(a, "fd00:10:244:3::1");
    EXPECT_EQ(ping.exit_code, 0) << ping.output;
    auto with_prev = config;
    with_prev["prevResult"] = add.json;
    const auto check = world->run(CniNode::attachment_env("CHECK", "a", a.path()), with_prev);
    EXPECT_EQ(check.exit_code, 0) << check.output;
    EXPECT_EQ(world->run(CniNode::attachment_env("DEL", "a", a.path()), config).exit_code, 0);
    expect_nothing_allocated();
}

TEST_F(CniPlugin, GcReleasesWhatIsNotValid) {
    std::vector<std::string> ids{"c1", "c2", "c3"};
    std::map<std::string, std::string> host_of;
    for (const auto& id : ids) {
        const auto& pod = world->add_pod(id);
        const auto add =
            world->run(CniNode::attachment_env("ADD", id, pod.path()), world->config("1.1.0"));
        ASSERT_EQ(add.exit_code, 0) << add.output;
        host_of[id] = add.json["interfaces"][0]["name"];
    }
    auto config = world->config("1.1.0");
    EXPECT_EQ(
        error_code(world->run({"CNI_COMMAND=GC"}, config), "1.1.0", "cni.dev/valid-attachments"),
        7);
    config["cni.dev/valid-attachments"] =
        json::array({{{"containerID", "c2"}, {"ifname", "eth0"}}});
    const auto gc = world->run({"CNI_COMMAND=GC"}, config);
    EXPECT_EQ(gc.exit_code, 0) << gc.output;
    EXPECT_EQ(world->reservations().size(), 1u);
    EXPECT_EQ(world->host_veths(), std::set<std::string>{host_of["c2"]});
    auto old_key = world->config("1.1.0");
    old_key["cni.dev/attachments"] = json::array();
    EXPECT_EQ(world->run({"CNI_COMMAND=GC"}, old_key).exit_code, 0);
    expect_nothing_allocated();
}

TEST_F(CniPlugin, LogsGoToStderrOnlyWhenAsked) {
    const auto& pod = world->add_pod("pod");
    const auto quiet =
        world->run(CniNode::attachment_env("ADD", "c1", pod.path()), world->config("1.0.0"));
    ASSERT_EQ(quiet.exit_code, 0);
    EXPECT_TRUE(json::parse(quiet.output, nullptr, false).is_object())
        << quiet.output;  // nothing but the result
    const auto loud = world->run(CniNode::attachment_env("DEL", "c1", pod.path()),
                                 world->config("1.0.0", {{"logLevel", "debug"}}));
    EXPECT_EQ(loud.exit_code, 0);
    EXPECT_NE(loud.output.find("released 10.244.3."), std::string::npos) << loud.output;
}

TEST_F(CniPlugin, ChainWithPortmapAndBandwidth) {
    // The chain containerd runs for a pod with a hostPort and a bandwidth annotation, with
    // Debian's reference plugins after twill; they rely on the host veth in the result.
    const std::filesystem::path reference_dir = "/usr/lib/cni";
    ASSERT_TRUE(std::filesystem::exists(reference_dir / "portmap"))
        << "containernetworking-plugins missing";
    const auto& pod = world->add_pod("web");
    const std::string id = "web1";
    const int host_port = 18080;
    const std::vector<json> plugins{
        world->config("1.0.0"),
        json{{"cniVersion", "1.0.0"},
             {"name", "twill"},
             {"type", "portmap"},
             {"capabilities", {{"portMappings", true}}},
             {"runtimeConfig",
              {{"portMappings",
                json::array(
                    {{{"hostPort", host_port}, {"containerPort", 80}, {"protocol", "tcp"}}})}}}},
        json{{"cniVersion", "1.0.0"},
             {"name", "twill"},
             {"type", "bandwidth"},
             {"capabilities", {{"bandwidth", true}}},
             {"runtimeConfig",
              {{"bandwidth",
                {{"ingressRate", 100000000},
                 {"ingressBurst", 10000000},
                 {"egressRate", 100000000},
                 {"egressBurst", 10000000}}}}}},
    };
    auto program_of = [&](const json& plugin) {
        return plugin["type"] == "twill" ? CniNode::plugin_path()
                                         : reference_dir / plugin["type"].get<std::string>();
    };
    json result;
    for (const auto& plugin : plugins) {
        auto config = plugin;
        if (!result.is_null()) config["prevResult"] = result;
        const auto add =
            world->run(CniNode::attachment_env("ADD", id, pod.path()), config, program_of(plugin));
        ASSERT_EQ(add.exit_code, 0) << plugin["type"] << ": " << add.output;
        result = add.json;
    }
    ASSERT_GE(result["interfaces"].size(), 2u) << result.dump();  // bandwidth adds its ifb
    const auto host_name = result["interfaces"][0]["name"].get<std::string>();
    const auto pod_ip =
        net::Prefix::parse(result["ips"][0]["address"].get<std::string>()).address().to_string();

    // bandwidth shaped the host end (and made an ifb for ingress).
    const auto qdisc =
        run_command({"tc", "qdisc", "show", "dev", host_name},
                    {.netns = world->node.netns.path(), .env = {}, .log_file = std::nullopt});
    EXPECT_NE(qdisc.output.find("tbf"), std::string::npos) << qdisc.output;

    // A server in the pod answers on the node's address at the host port.
    const auto www = world->dir / "www";
    std::filesystem::create_directories(www);
    std::ofstream(www / "index.html") << "hello from " << pod_ip << "\n";
    ChildProcess server({"busybox", "httpd", "-f", "-p", "80", "-h", www.string()},
                        {.netns = pod.path(), .env = {}, .log_file = world->dir / "httpd.log"});
    const auto url =
        "http://" + world->node.address().to_string() + ":" + std::to_string(host_port) + "/";
    std::string reply;
    for (int attempt = 0; attempt < 100 && reply.find(pod_ip) == std::string::npos; ++attempt) {
        if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        // (busybox-static's wget crashes with -T; run_command's timeout bounds it instead)
        reply =
            run_command({"busybox", "wget", "-q", "-O", "-", url},
                        {.netns = world->node.netns.path(), .env = {}, .log_file = std::nullopt},
                        std::chrono::seconds(5))
                .output;
    }
    EXPECT_NE(reply.find("hello from " + pod_ip), std::string::npos) << url << ": " << reply;
    server.stop();

    for (auto it = plugins.rbegin(); it != plugins.rend(); ++it) {
        auto config = *it;
        config["prevResult"] = result;
        const auto del =
            world->run(CniNode::attachment_env("DEL", id, pod.path()), config, program_of(*it));
        EXPECT_EQ(del.exit_code, 0) << (*it)["type"] << ": " << del.output;
    }
    expect_nothing_allocated();
    netlink::Handle in_node(world->node.netns);
    for (const auto& link : in_node.list_links()) {
        EXPECT_TRUE(link.name == "lo" || link.name == "eth0" || link.name == "twill0")
            << "left behind: " << link.name;
    }
    const auto rules =
        run_command({"iptables-save"},
                    {.netns = world->node.netns.path(), .env = {}, .log_file = std::nullopt});
    EXPECT_EQ(rules.output.find(id), std::string::npos) << rules.output;
}

}  // namespace
}  // namespace twill::testing
