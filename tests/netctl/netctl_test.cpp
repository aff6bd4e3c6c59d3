#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <twill/api/server.hpp>
#include <twill/error.hpp>

#include "child_process.hpp"

namespace twill {
namespace {

using testing::CommandResult;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::run_command;

api::v1::Peer make_peer(const std::string& node, const std::string& subnet, const std::string& ip,
                        const std::string& mac, bool in_kernel) {
    api::v1::Peer peer;
    peer.set_node(node);
    peer.set_subnet(subnet);
    peer.set_public_ip(ip);
    peer.set_vtep_mac(mac);
    peer.set_in_kernel(in_kernel);
    peer.set_create_revision(7);
    peer.set_mod_revision(9);
    return peer;
}

api::v1::Difference make_difference(const std::string& action, const std::string& kind,
                                    const std::string& object, const std::string& detail) {
    api::v1::Difference difference;
    difference.set_action(action);
    difference.set_kind(kind);
    difference.set_object(object);
    difference.set_detail(detail);
    return difference;
}

class CannedHandler : public api::Handler {
  public:
    api::v1::StatusReply status() override { return status_reply; }
    api::v1::CheckReply check() override { return check_reply; }
    void probe_round(ProbeRoundDone done) override { done(round); }
    api::v1::LeaveReply leave() override {
        left = true;
        api::v1::LeaveReply reply;
        reply.set_message("node-a left: lease revoked, devices removed");
        return reply;
    }
    api::v1::JoinReply join() override {
        if (!left) throw Error("node-a has not left: nothing to join");
        left = false;
        api::v1::JoinReply reply;
        reply.set_message("node-a joins again");
        return reply;
    }
    api::v1::EvictReply evict(const std::string& node) override {
        if (node == "broken") throw Error("delete lease of broken: etcd unavailable");
        api::v1::EvictReply reply;
        reply.set_found(node == "node-c");
        reply.set_message(reply.found() ? "evicted " + node : "no lease held by node " + node);
        return reply;
    }

    api::v1::StatusReply status_reply;
    api::v1::CheckReply check_reply;
    std::vector<api::v1::ProbeOutcome> round;
    bool left = false;
};

class NetctlTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char dir_template[] = "/tmp/twill-netctl-test-XXXXXX";
        ASSERT_NE(::mkdtemp(dir_template), nullptr);
        run_dir_ = dir_template;
        const char* build_dir = std::getenv("TWILL_BUILD_DIR");
        ASSERT_NE(build_dir, nullptr) << "TWILL_BUILD_DIR is not set";
        netctl_ = std::string(build_dir) + "/bin/netctl";

        auto& s = handler_.status_reply;
        s.set_version("0.1.0");
        s.set_node("node-a");
        s.set_network("10.244.0.0/16");
        s.set_subnet("10.244.3.0/24");
        s.set_gateway("10.244.3.1");
        s.set_backend("vxlan");
        s.set_backend_detail("VNI 1, port 8472");
        s.set_public_ip("192.168.50.10");
        s.set_underlay_iface("eth0");
        s.set_mtu(1450);
        s.set_lease_held(true);
        s.set_lease_id(7587869912345678901);
        s.set_lease_ttl_seconds(86400);
        s.set_etcd_reachable(true);
        s.set_etcd_endpoint("http://192.168.50.2:2379");
        s.set_last_revision(1234);
        s.set_ready(true);
        s.set_ip_forward(true);
        s.set_pod_ips_in_use(12);
        auto* correction = s.add_corrections();
        correction->set_kind("route_added");
        correction->set_count(2);
        s.set_corrections_total(2);
        s.set_invalid_leases_total(0);
        *s.add_peers() =
            make_peer("node-b", "10.244.4.0/24", "192.168.50.11", "02:aa:bb:cc:dd:01", true);
        *s.add_peers() = make_peer("node-long-name-c", "10.244.15.0/24", "192.168.50.123",
                                   "02:aa:bb:cc:dd:02", false);
        s.add_warnings("peer node-long-name-c: FDB entry missing");
        handler_.check_reply.set_in_sync(true);
        handler_.check_reply.set_revision(1234);
    }
    void TearDown() override { std::filesystem::remove_all(run_dir_); }

    void start_daemon() { server_.emplace(api::socket_path(run_dir_), handler_); }

    CommandResult netctl(std::vector<std::string> args, std::vector<std::string> env = {}) {
        args.insert(args.begin(), netctl_);
        return run_command(args,
                           {.netns = std::nullopt, .env = std::move(env), .log_file = std::nullopt},
                           std::chrono::seconds(60));
    }
    CommandResult netctl_in_run_dir(std::vector<std::string> args) {
        args.insert(args.begin(), {"--run-dir", run_dir_.native()});
        return netctl(std::move(args));
    }

    std::filesystem::path run_dir_;
    std::string netctl_;
    CannedHandler handler_;
    std::optional<api::Server> server_;
};

// The column where the whole word `word` starts in the line of `text` that contains `line_marker`.
std::size_t column_of(const std::string& text, const std::string& line_marker,
                      const std::string& word) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        if (line.find(line_marker) != std::string::npos)
            for (auto pos = line.find(word); pos != std::string::npos;
                 pos = line.find(word, pos + 1)) {
                const auto end = pos + word.size();
                if ((pos == 0 || line[pos - 1] == ' ') && (end == line.size() || line[end] == ' '))
                    return pos;
            }
    return std::string::npos;
}

TEST_F(NetctlTest, StatusShowsTheNodeAndAnAlignedPeerTable) {
    start_daemon();
    const auto result = netctl_in_run_dir({"status"});
    EXPECT_EQ(result.exit_code, 0) << result.output;
    const auto& out = result.output;
    for (const char* expected :
         {"node-a", "10.244.3.0/24 (gateway 10.244.3.1)", "vxlan (VNI 1, port 8472)",
          "192.168.50.10 (eth0)", "1450", "held, id 7587869912345678901, TTL 1d0h0m0s",
          "reachable via http://192.168.50.2:2379, revision 1234",
          "Ready:", "IP forwarding:", "Pod IPs in use:  12", "2 (route_added 2)",
          "peer node-long-name-c: FDB entry missing", "Peers (2):"})
        EXPECT_THAT(out, HasSubstr(expected));
    const auto header_column = column_of(out, "NODE", "IN-KERNEL");
    ASSERT_NE(header_column, std::string::npos) << out;
    EXPECT_EQ(column_of(out, "node-b ", "yes"), header_column) << out;
    EXPECT_EQ(column_of(out, "node-long-name-c ", "no"), header_column) << out;
    EXPECT_EQ(column_of(out, "node-b ", "10.244.4.0/24"), column_of(out, "NODE", "SUBNET")) << out;
    EXPECT_EQ(column_of(out, "node-b ", "02:aa:bb:cc:dd:01"),
              column_of(out, "NODE", "VTEP-MAC/KEY"))
        << out;
}

TEST_F(NetctlTest, StatusExitsOneWhenNotReadyAndSaysWhy) {
    handler_.status_reply.set_ready(false);
    handler_.status_reply.set_etcd_reachable(false);
    handler_.status_reply.set_lease_held(false);
    start_daemon();
    const auto result = netctl_in_run_dir({"status"});
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_THAT(result.output, HasSubstr("UNREACHABLE"));
    EXPECT_THAT(result.output, HasSubstr("not held"));
}

TEST_F(NetctlTest, StatusJsonIsTheReplyWithProtoFieldNames) {
    handler_.status_reply.clear_corrections();
    start_daemon();
    const auto result = netctl_in_run_dir({"status", "--json"});
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const auto json = nlohmann::json::parse(result.output);
    EXPECT_EQ(json.at("node"), "node-a");
    EXPECT_EQ(json.at("mtu"), 1450);
    EXPECT_EQ(json.at("ready"), true);
    EXPECT_EQ(json.at("lease_id"), "7587869912345678901");  // 64-bit integers are strings
    EXPECT_EQ(json.at("last_revision"), "1234");
    EXPECT_EQ(json.at("peers").size(), 2);
    EXPECT_EQ(json.at("peers")[1].at("public_ip"), "192.168.50.123");
    EXPECT_EQ(json.at("peers")[1].at("in_kernel"), false);
    // Every field is present, defaults and empty lists included, so scripts need no guards.
    EXPECT_EQ(json.at("dry_run"), false);
    EXPECT_EQ(json.at("invalid_leases_total"), "0");
    EXPECT_TRUE(json.at("corrections").is_array());
    EXPECT_TRUE(json.at("corrections").empty());
    EXPECT_EQ(json.at("peers")[0].at("public_key"), "");
}

TEST_F(NetctlTest, Peers) {
    start_daemon();
    auto result = netctl_in_run_dir({"peers"});
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_THAT(result.output, HasSubstr("NODE"));
    EXPECT_THAT(result.output, HasSubstr("node-long-name-c"));
    EXPECT_THAT(result.output, Not(HasSubstr("Subnet:")));
    result = netctl_in_run_dir({"peers", "--json"});
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const auto json = nlohmann::json::parse(result.output);
    ASSERT_EQ(json.at("peers").size(), 2);
    EXPECT_EQ(json.at("peers")[0].at("vtep_mac"), "02:aa:bb:cc:dd:01");
    EXPECT_EQ(json.at("peers")[0].at("create_revision"), "7");
}

TEST_F(NetctlTest, CheckInSyncExitsZero) {
    start_daemon();
    auto result = netctl_in_run_dir({"check"});
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_THAT(result.output, HasSubstr("in sync with etcd revision 1234"));
    result = netctl_in_run_dir({"check", "--json"});
    EXPECT_EQ(result.exit_code, 0) << result.output;
    const auto json = nlohmann::json::parse(result.output);
    EXPECT_EQ(json.at("in_sync"), true);
    EXPECT_TRUE(json.at("differences").empty());
}

TEST_F(NetctlTest, CheckListsEachDifferenceAndExitsOne) {
    auto& check = handler_.check_reply;
    check.set_in_sync(false);
    *check.add_differences() = make_difference(
        "missing", "route", "10.244.4.0/24 via 10.244.4.0 dev twill.1 onlink proto 137", "");
    *check.add_differences() = make_difference("differs", "neighbour", "10.244.15.0 dev twill.1",
                                               "lladdr 02:aa:bb:cc:dd:09, want 02:aa:bb:cc:dd:02");
    start_daemon();
    auto result = netctl_in_run_dir({"check"});
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_THAT(result.output, HasSubstr("2 differences from etcd revision 1234"));
    EXPECT_THAT(result.output,
                HasSubstr("10.244.4.0/24 via 10.244.4.0 dev twill.1 onlink proto 137"));
    EXPECT_THAT(result.output, HasSubstr("lladdr 02:aa:bb:cc:dd:09, want 02:aa:bb:cc:dd:02"));
    EXPECT_EQ(column_of(result.output, "neighbour", "neighbour"),
              column_of(result.output, "ACTION", "KIND"));
    result = netctl_in_run_dir({"check", "--json"});
    EXPECT_EQ(result.exit_code, 1) << result.output;
    const auto json = nlohmann::json::parse(result.output);
    EXPECT_EQ(json.at("in_sync"), false);
    ASSERT_EQ(json.at("differences").size(), 2);
    EXPECT_EQ(json.at("differences")[1].at("kind"), "neighbour");
    EXPECT_EQ(json.at("differences")[1].at("action"), "differs");
}

TEST_F(NetctlTest, LeaveAndEvict) {
    start_daemon();
    auto result = netctl_in_run_dir({"leave"});
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_THAT(result.output, HasSubstr("lease revoked"));
    EXPECT_TRUE(handler_.left);

    result = netctl_in_run_dir({"evict", "node-c"});
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_THAT(result.output, HasSubstr("evicted node-c"));
    result = netctl_in_run_dir({"evict", "node-x"});
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_THAT(result.output, HasSubstr("no lease held by node node-x"));
}

TEST_F(NetctlTest, DaemonErrorsExitOneWithTheMessage) {
    start_daemon();
    const auto result = netctl_in_run_dir({"evict", "broken"});
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_THAT(result.output, HasSubstr("etcd unavailable"));
}

TEST_F(NetctlTest, UsageErrorsExitTwo) {
    start_daemon();
    for (const auto& args : std::vector<std::vector<std::string>>{
             {}, {"bogus"}, {"status", "--bogus"}, {"evict"}, {"leave", "extra"}, {"--run-dir"}}) {
        const auto result = netctl(args);
        EXPECT_EQ(result.exit_code, 2) << ::testing::PrintToString(args) << ": " << result.output;
    }
    EXPECT_FALSE(handler_.left);
}

api::v1::PeerHealth make_health(const std::string& state, double rtt_ms, std::uint32_t losses) {
    api::v1::PeerHealth health;
    health.set_state(state);
    health.set_rtt_ms(rtt_ms);
    health.set_consecutive_losses(losses);
    health.set_last_seen("2026-11-25T12:01:59Z");
    if (state == "unreachable") health.set_unreachable_since("2026-11-25T12:03:01Z");
    return health;
}

TEST_F(NetctlTest, PeersShowReachabilityRttAndLastSeenAndStatusSumsThemUp) {
    auto& s = handler_.status_reply;
    *s.mutable_peers(0)->mutable_health() = make_health("reachable", 0.42, 0);
    *s.mutable_peers(1)->mutable_health() = make_health("unreachable", 0.38, 3);
    s.mutable_probes()->set_enabled(true);
    s.mutable_probes()->set_reachable(1);
    s.mutable_probes()->set_unreachable(1);
    start_daemon();
    const auto peers = netctl_in_run_dir({"peers"});
    EXPECT_EQ(peers.exit_code, 0) << peers.output;
    const auto& out = peers.output;
    EXPECT_EQ(column_of(out, "node-b ", "yes"), column_of(out, "NODE", "IN-KERNEL")) << out;
    EXPECT_EQ(column_of(out, "node-b ", "0.42"), column_of(out, "NODE", "RTT")) << out;
    EXPECT_EQ(column_of(out, "node-b ", "12:01:59"), column_of(out, "NODE", "LAST-SEEN")) << out;
    EXPECT_EQ(column_of(out, "node-long-name-c ", "NO"), column_of(out, "NODE", "REACHABLE"))
        << out;
    const auto status = netctl_in_run_dir({"status"});
    EXPECT_THAT(
        status.output,
        HasSubstr(
            "Peers reachable: 1/2; unreachable: node-long-name-c since 12:03:01 (3 probes lost)"));
    const auto json = nlohmann::json::parse(netctl_in_run_dir({"peers", "--json"}).output);
    EXPECT_EQ(json.at("peers")[1].at("health").at("state"), "unreachable");
    EXPECT_EQ(json.at("peers")[1].at("health").at("unreachable_since"), "2026-11-25T12:03:01Z");
}

TEST_F(NetctlTest, StatusNamesAFewUnreachablePeersAndCountsTheRest) {
    auto& s = handler_.status_reply;
    s.clear_peers();
    for (int i = 0; i < 8; ++i) {
        auto* peer = s.add_peers();
        *peer = make_peer("dead" + std::to_string(i), "10.244." + std::to_string(i) + ".0/24",
                          "192.168.50.9", "", true);
        *peer->mutable_health() = make_health("unreachable", 0, 3);
    }
    s.mutable_probes()->set_enabled(true);
    s.mutable_probes()->set_unreachable(8);
    start_daemon();
    const auto status = netctl_in_run_dir({"status"});
    EXPECT_THAT(
        status.output,
        HasSubstr(
            "Peers reachable: 0/8; unreachable: dead0 since 12:03:01 (3 probes lost), dead1"));
    EXPECT_THAT(status.output,
                HasSubstr("dead4 since 12:03:01 (3 probes lost) and 3 more (netctl peers)"));
    EXPECT_THAT(status.output, ::testing::Not(HasSubstr("dead5 since")));
}

TEST_F(NetctlTest, StatusSaysWhenProbesAreOff) {
    start_daemon();
    const auto status = netctl_in_run_dir({"status"});
    EXPECT_THAT(status.output, HasSubstr("Peers reachable: not probed (probes are off)"));
    const auto peers = netctl_in_run_dir({"peers"});
    EXPECT_EQ(column_of(peers.output, "node-b ", "-"),
              column_of(peers.output, "NODE", "REACHABLE"));
}

TEST_F(NetctlTest, CheckProbeExitsOneNamingEachUnreachablePeer) {
    api::v1::ProbeOutcome b, c;
    b.set_node("node-b");
    b.set_subnet("10.244.4.0/24");
    b.set_address("10.244.4.1");
    b.set_reachable(true);
    b.set_rtt_ms(0.3);
    b.set_attempts(1);
    c.set_node("node-c");
    c.set_subnet("10.244.15.0/24");
    c.set_address("10.244.15.1");
    c.set_attempts(3);
    handler_.round = {b};
    start_daemon();
    auto result = netctl_in_run_dir({"check", "--probe"});
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_THAT(result.output, HasSubstr("probed 1 peer: 1 reachable"));
    // Without --probe no round runs.
    result = netctl_in_run_dir({"check"});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_THAT(result.output, ::testing::Not(HasSubstr("probed")));

    handler_.round = {b, c};
    result = netctl_in_run_dir({"check", "--probe"});
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_THAT(result.output, HasSubstr("probed 2 peers: 1 reachable, 1 unreachable:"));
    EXPECT_EQ(column_of(result.output, "node-c ", "10.244.15.1"),
              column_of(result.output, "NODE", "PROBED"))
        << result.output;
    const auto json =
        nlohmann::json::parse(netctl_in_run_dir({"check", "--probe", "--json"}).output);
    EXPECT_EQ(json.at("probed"), true);
    EXPECT_EQ(json.at("probes")[1].at("node"), "node-c");
    EXPECT_EQ(json.at("probes")[1].at("reachable"), false);
}

TEST_F(NetctlTest, HelpAndVersionExitZero) {
    auto result = netctl({"--help"});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_THAT(result.output, HasSubstr("evict"));
    result = netctl({"--version"});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_THAT(result.output, HasSubstr("netctl 0."));
}

TEST_F(NetctlTest, NoDaemonExitsThreeNamingTheSocket) {
    for (const char* command : {"status", "peers", "check", "leave"}) {
        const auto result = netctl_in_run_dir({command});
        EXPECT_EQ(result.exit_code, 3) << command << ": " << result.output;
        EXPECT_THAT(result.output, HasSubstr((run_dir_ / "twilld.sock").native()));
        EXPECT_THAT(result.output, HasSubstr("No such file or directory"));
    }
}

TEST_F(NetctlTest, RunDirFromTheEnvironment) {
    start_daemon();
    const auto result = netctl({"status"}, {"TWILL_RUN_DIR=" + run_dir_.native()});
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_THAT(result.output, HasSubstr("node-a"));
}

}  // namespace
}  // namespace twill
