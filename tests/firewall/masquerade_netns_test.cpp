// libnftables against a real kernel, in a throwaway network namespace.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include "child_process.hpp"
#include "require_root.hpp"
#include "twill/firewall/change_monitor.hpp"
#include "twill/firewall/masquerade.hpp"
#include "twill/netlink/netns.hpp"

namespace twill::firewall {
namespace {

using Action = Outcome::Action;

class MasqueradeNetns : public ::testing::Test {
  protected:
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        ns_.emplace("twfw" + std::to_string(::getpid()));
    }

    testing::CommandResult nft(std::vector<std::string> args) {
        args.insert(args.begin(), "nft");
        testing::SpawnOptions options;
        options.netns = ns_->path();
        return testing::run_command(args, options);
    }
    std::string nft_ok(std::vector<std::string> args) {
        auto result = nft(args);
        EXPECT_EQ(result.exit_code, 0) << result.output;
        return result.output;
    }
    int rule_handle(const std::string& chain) {
        const auto listing =
            nlohmann::json::parse(nft_ok({"-j", "list", "chain", "inet", "twill", chain}));
        for (const auto& item : listing["nftables"]) {
            if (item.contains("rule")) return item["rule"]["handle"].get<int>();
        }
        ADD_FAILURE() << "no rule in chain " << chain;
        return 0;
    }
    Outcome reconcile(const std::optional<MasqueradeSpec>& spec, bool dry_run = false) {
        return ns_->netns().run([&] { return Masquerade().reconcile(spec, dry_run); });
    }

    const MasqueradeSpec spec_{net::Prefix::parse("10.244.0.0/16"),
                               net::Prefix::parse("10.244.3.0/24")};
    std::optional<netlink::OwnedNetns> ns_;
};

TEST_F(MasqueradeNetns, CreatesTheTableAndThenLeavesAMatchingOneUntouched) {
    EXPECT_EQ(reconcile(spec_).action, Action::created);
    const auto listed = nft_ok({"list", "table", "inet", "twill"});
    EXPECT_NE(listed.find("masquerade fully-random"), std::string::npos) << listed;
    EXPECT_NE(listed.find("ip saddr 10.244.0.0/16 ip daddr 10.244.0.0/16 return"),
              std::string::npos)
        << listed;
    EXPECT_NE(listed.find("ip saddr != 10.244.0.0/16 ip daddr 10.244.3.0/24 return"),
              std::string::npos);
    EXPECT_NE(listed.find("type nat hook postrouting priority srcnat; policy accept;"),
              std::string::npos);
    EXPECT_NE(listed.find("type filter hook forward priority filter; policy accept;"),
              std::string::npos);

    // Handles change on any re-add: a matching table keeps them.
    const auto with_handles = nft_ok({"-a", "list", "ruleset"});
    EXPECT_EQ(reconcile(spec_).action, Action::none);
    EXPECT_EQ(nft_ok({"-a", "list", "ruleset"}), with_handles);
}

// The IPv6 rules as nft lists them back: a dual-stack table matches the desired one, so a
// second reconcile changes nothing.
TEST_F(MasqueradeNetns, DualStackTableHasTheIPv6RulesAndStaysUntouched) {
    auto dual = spec_;
    dual.ipv6 = MasqueradeSpec::Family{net::Prefix::parse("fd00:10:244::/48"),
                                       net::Prefix::parse("fd00:10:244:3::/64")};
    EXPECT_EQ(reconcile(dual).action, Action::created);
    const auto listed = nft_ok({"list", "table", "inet", "twill"});
    EXPECT_NE(listed.find("ip6 saddr fd00:10:244::/48 ip6 daddr fd00:10:244::/48 return"),
              std::string::npos)
        << listed;
    EXPECT_NE(listed.find("ip6 saddr != fd00:10:244::/48 ip6 daddr fd00:10:244:3::/64 return"),
              std::string::npos)
        << listed;
    EXPECT_NE(listed.find("ip6 daddr != ff00::/8 masquerade fully-random"), std::string::npos)
        << listed;
    const auto with_handles = nft_ok({"-a", "list", "ruleset"});
    EXPECT_EQ(reconcile(dual).action, Action::none);
    EXPECT_EQ(nft_ok({"-a", "list", "ruleset"}), with_handles);
    EXPECT_EQ(reconcile(spec_).action, Action::replaced);
    EXPECT_EQ(nft_ok({"list", "table", "inet", "twill"}).find("ip6"), std::string::npos);
}

TEST_F(MasqueradeNetns, RepairsDeletedTableEditedRuleAndExtraRule) {
    reconcile(spec_);
    nft_ok({"delete", "table", "inet", "twill"});
    EXPECT_EQ(reconcile(spec_).action, Action::created);

    nft_ok({"flush", "chain", "inet", "twill", "forward"});
    nft_ok({"add", "rule", "inet", "twill", "forward", "ip", "saddr", "10.244.0.0/16", "drop"});
    auto repaired = reconcile(spec_);
    EXPECT_EQ(repaired.action, Action::replaced);
    EXPECT_NE(repaired.detail.find("forward"), std::string::npos) << repaired.detail;
    EXPECT_EQ(reconcile(spec_).action, Action::none);

    nft_ok({"add", "rule", "inet", "twill", "postrouting", "counter"});
    EXPECT_EQ(reconcile(spec_).action, Action::replaced);
    EXPECT_EQ(nft_ok({"list", "table", "inet", "twill"}).find("counter"), std::string::npos);
}

TEST_F(MasqueradeNetns, NewSubnetReplacesTheTable) {
    reconcile(spec_);
    auto moved = spec_;
    moved.subnet = net::Prefix::parse("10.244.9.0/24");
    EXPECT_EQ(reconcile(moved).action, Action::replaced);
    EXPECT_NE(nft_ok({"list", "table", "inet", "twill"}).find("10.244.9.0/24"), std::string::npos);
}

TEST_F(MasqueradeNetns, DryRunChangesNothing) {
    EXPECT_EQ(reconcile(spec_, true).action, Action::created);
    EXPECT_NE(nft({"list", "table", "inet", "twill"}).exit_code, 0);
    reconcile(spec_);
    EXPECT_EQ(reconcile(std::nullopt, true).action, Action::removed);
    EXPECT_EQ(nft({"list", "table", "inet", "twill"}).exit_code, 0);
}

TEST_F(MasqueradeNetns, OffRemovesOnlyTwillsTable) {
    nft_ok({"add", "table", "ip", "other"});
    nft_ok({"add", "chain", "ip", "other", "forward_in",
            "{ type filter hook forward priority 0; policy drop; }"});
    nft_ok({"add", "rule", "ip", "other", "forward_in", "ip", "saddr", "192.0.2.0/24", "accept"});
    const auto other_before = nft_ok({"-a", "list", "table", "ip", "other"});

    reconcile(spec_);
    nft_ok({"delete", "table", "inet", "twill"});
    reconcile(spec_);
    EXPECT_EQ(nft_ok({"-a", "list", "table", "ip", "other"}), other_before);

    const auto dropping = ns_->netns().run([] { return Masquerade().dropping_forward_chains(); });
    EXPECT_EQ(dropping, std::vector<std::string>{"ip other forward_in"});

    EXPECT_EQ(reconcile(std::nullopt).action, Action::removed);
    EXPECT_NE(nft({"list", "table", "inet", "twill"}).exit_code, 0);
    EXPECT_EQ(reconcile(std::nullopt).action, Action::none);
    EXPECT_EQ(nft_ok({"-a", "list", "table", "ip", "other"}), other_before);
}

TEST_F(MasqueradeNetns, ChangeMonitorReportsTableChanges) {
    auto monitor = ns_->netns().run([] { return std::make_unique<ChangeMonitor>(); });
    EXPECT_FALSE(monitor->drain());
    pollfd pfd{monitor->fd(), POLLIN, 0};
    // Another owner's table: noticed by the socket, not reported.
    nft_ok({"add", "table", "inet", "other"});
    nft_ok({"add", "table", "ip", "twill"});
    ASSERT_EQ(::poll(&pfd, 1, 10000), 1);
    EXPECT_FALSE(monitor->drain());

    reconcile(spec_);
    ASSERT_EQ(::poll(&pfd, 1, 10000), 1);
    EXPECT_TRUE(monitor->drain());
    EXPECT_FALSE(monitor->drain());

    nft_ok({"delete", "rule", "inet", "twill", "forward", "handle",
            std::to_string(rule_handle("forward"))});
    ASSERT_EQ(::poll(&pfd, 1, 10000), 1);
    EXPECT_TRUE(monitor->drain());
}

}  // namespace
}  // namespace twill::firewall
