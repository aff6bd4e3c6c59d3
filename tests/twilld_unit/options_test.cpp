#include "options.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <regex>

#include "duration.hpp"
#include "twill/error.hpp"

using namespace twill::daemon;
using namespace std::chrono_literals;

namespace {
ParsedOptions parse(std::vector<std::string> args) {
    args.insert(args.begin(), "twilld");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return parse_options(static_cast<int>(argv.size()), argv.data());
}
}  // namespace

TEST(Duration, TakesSecondsOrUnits) {
    EXPECT_EQ(parse_duration("30", "--x"), 30s);
    EXPECT_EQ(parse_duration("500ms", "--x"), 500ms);
    EXPECT_EQ(parse_duration("90s", "--x"), 90s);
    EXPECT_EQ(parse_duration("5m", "--x"), 5min);
    EXPECT_EQ(parse_duration("24h", "--x"), 24h);
    EXPECT_EQ(parse_duration("1.5s", "--x"), 1500ms);
    EXPECT_EQ(format_duration(90s), "90s");
    EXPECT_EQ(format_duration(24h), "24h");
    EXPECT_EQ(format_duration(250ms), "250ms");
}

TEST(Duration, RejectsGarbageNamingTheFlag) {
    for (auto bad : {"", "abc", "5d", "-3s", "1e400", "s"}) {
        try {
            parse_duration(bad, "--resync-interval");
            FAIL() << bad;
        } catch (const twill::ParseError& e) {
            EXPECT_EQ(e.field(), "--resync-interval") << bad;
        }
    }
}

TEST(Options, DefaultsFollowDesign) {
    ::unsetenv("TWILL_ETCD_PREFIX");
    auto p = parse({"--node-name", "n1"});
    ASSERT_TRUE(p.options);
    EXPECT_EQ(p.options->etcd_prefix, "/twill/network");
    EXPECT_EQ(p.options->run_dir, "/run/twill");
    EXPECT_EQ(p.options->state_dir, "/var/lib/twill");
    EXPECT_EQ(p.options->cni_data_dir, "/var/lib/cni/twill");
    EXPECT_EQ(p.options->metrics_addr, ":9474");
    EXPECT_EQ(p.options->subnet_lease_ttl, 24h);
    EXPECT_FALSE(p.options->dry_run);
    EXPECT_EQ(p.options->probe_interval, 30s);
    EXPECT_EQ(p.options->probe_rate, 200);
}

TEST(Options, ProbeIntervalAndRate) {
    auto p = parse({"--node-name", "n1", "--probe-interval", "2s", "--probe-rate", "50"});
    ASSERT_TRUE(p.options);
    EXPECT_EQ(p.options->probe_interval, 2s);
    EXPECT_EQ(p.options->probe_rate, 50);
    ::setenv("TWILL_PROBE_INTERVAL", "0", 1);
    p = parse({"--node-name", "n1"});
    ::unsetenv("TWILL_PROBE_INTERVAL");
    ASSERT_TRUE(p.options);
    EXPECT_EQ(p.options->probe_interval, 0s);  // off
    EXPECT_EQ(parse({"--node-name", "n1", "--probe-rate", "0"}).exit_code, 2);
    EXPECT_EQ(parse({"--node-name", "n1", "--probe-interval", "soon"}).exit_code, 2);
    EXPECT_EQ(parse({"--node-name", "n1", "--probe-interval", "720h"}).exit_code, 2);
}

TEST(Options, FlagsAndEnvironment) {
    ::setenv("TWILL_ETCD_PREFIX", "/custom/", 1);
    ::setenv("TWILL_DRY_RUN", "true", 1);
    auto p = parse({"--node-name", "n1", "--etcd-endpoints", "https://a:2379,https://b:2379",
                    "--resync-interval", "500ms", "--subnet-lease-ttl", "90s", "--mtu", "1400",
                    "--public-ip", "192.0.2.5"});
    ::unsetenv("TWILL_ETCD_PREFIX");
    ::unsetenv("TWILL_DRY_RUN");
    ASSERT_TRUE(p.options);
    EXPECT_EQ(p.options->etcd_prefix, "/custom");
    EXPECT_TRUE(p.options->dry_run);
    EXPECT_EQ(p.options->etcd_endpoints.size(), 2u);
    EXPECT_EQ(p.options->resync_interval, 500ms);
    EXPECT_EQ(p.options->subnet_lease_ttl, 90s);
    EXPECT_EQ(p.options->mtu, 1400);
    EXPECT_EQ(p.options->public_ip->to_string(), "192.0.2.5");
}

TEST(Options, UsageErrorsExitTwo) {
    EXPECT_EQ(parse({"--subnet-lease-ttl", "3s"}).exit_code, 2);
    EXPECT_EQ(parse({"--subnet-lease-ttl", "5500ms"}).exit_code, 2);
    EXPECT_EQ(parse({"--mtu", "12"}).exit_code, 2);
    EXPECT_EQ(parse({"--public-ip", "300.1.1.1"}).exit_code, 2);
    EXPECT_EQ(parse({"--log-format", "xml"}).exit_code, 2);
    EXPECT_EQ(parse({"--no-such-flag"}).exit_code, 2);
    EXPECT_EQ(parse({"--etcd-prefix", "relative"}).exit_code, 2);
    EXPECT_FALSE(parse({"--help"}).options);
    EXPECT_EQ(parse({"--help"}).exit_code, 0);
}

TEST(Options, IpMasqDefaultsOnFlagOrEnvironmentTurnItOff) {
    ::unsetenv("TWILL_IP_MASQ");
    auto p = parse({"--node-name", "n1"});
    ASSERT_TRUE(p.options);
    EXPECT_TRUE(p.options->ip_masq);

    p = parse({"--node-name", "n1", "--ip-masq=false"});
    ASSERT_TRUE(p.options);
    EXPECT_FALSE(p.options->ip_masq);
    p = parse({"--node-name", "n1", "--ip-masq", "true"});
    ASSERT_TRUE(p.options);
    EXPECT_TRUE(p.options->ip_masq);

    ::setenv("TWILL_IP_MASQ", "false", 1);
    p = parse({"--node-name", "n1"});
    ASSERT_TRUE(p.options);
    EXPECT_FALSE(p.options->ip_masq);
    p = parse({"--node-name", "n1", "--ip-masq=true"});  // a flag beats the environment
    ::unsetenv("TWILL_IP_MASQ");
    ASSERT_TRUE(p.options);
    EXPECT_TRUE(p.options->ip_masq);
}

TEST(Options, BadIpMasqValueIsAUsageErrorNamingTheFlag) {
    for (const std::string bad : {"--ip-masq=maybe", "--ip-masq=off-ish"}) {
        ::testing::internal::CaptureStderr();
        const auto p = parse({"--node-name", "n1", bad});
        const auto err = ::testing::internal::GetCapturedStderr();
        EXPECT_FALSE(p.options) << bad;
        EXPECT_EQ(p.exit_code, 2) << bad;
        EXPECT_NE(err.find("--ip-masq"), std::string::npos) << bad << ": " << err;
    }
    ::setenv("TWILL_IP_MASQ", "nope", 1);
    ::testing::internal::CaptureStderr();
    const auto p = parse({"--node-name", "n1"});
    const auto err = ::testing::internal::GetCapturedStderr();
    ::unsetenv("TWILL_IP_MASQ");
    EXPECT_FALSE(p.options);
    EXPECT_EQ(p.exit_code, 2);
    EXPECT_NE(err.find("--ip-masq"), std::string::npos) << err;
}

TEST(Options, IfaceTakesCommaListsAndRepeatedFlagsInOrder) {
    ::unsetenv("TWILL_IFACE");
    auto p = parse({"--node-name", "n1", "--iface", "bond0,eth0", "--iface", "ens5"});
    ASSERT_TRUE(p.options);
    EXPECT_EQ(p.options->underlay.ifaces, (std::vector<std::string>{"bond0", "eth0", "ens5"}));
    EXPECT_FALSE(p.options->underlay.iface_pattern);
    EXPECT_FALSE(p.options->underlay.can_reach);

    ::setenv("TWILL_IFACE", "eth1, eth2", 1);
    p = parse({"--node-name", "n1"});
    ::unsetenv("TWILL_IFACE");
    ASSERT_TRUE(p.options);
    EXPECT_EQ(p.options->underlay.ifaces, (std::vector<std::string>{"eth1", "eth2"}));

    p = parse({"--node-name", "n1"});
    ASSERT_TRUE(p.options);
    EXPECT_FALSE(p.options->underlay.any());  // the default route decides
}

TEST(Options, BadIfaceNameIsAUsageErrorNamingTheFlag) {
    for (const std::string bad : {"eth0,a-name-much-too-long", "eth0/1", "x:y"}) {
        ::testing::internal::CaptureStderr();
        const auto p = parse({"--node-name", "n1", "--iface", bad});
        const auto err = ::testing::internal::GetCapturedStderr();
        EXPECT_EQ(p.exit_code, 2) << bad;
        EXPECT_NE(err.find("--iface"), std::string::npos) << bad << ": " << err;
    }
}

TEST(Options, IfaceRegexAndCanReach) {
    ::unsetenv("TWILL_IFACE_REGEX");
    auto p = parse({"--node-name", "n1", "--iface-regex", "^(en|eth)[0-9]+$", "--iface-can-reach",
                    "192.0.2.1"});
    ASSERT_TRUE(p.options);
    ASSERT_TRUE(p.options->underlay.iface_pattern);
    EXPECT_EQ(p.options->underlay.iface_regex, "^(en|eth)[0-9]+$");
    EXPECT_TRUE(std::regex_search("eth0", *p.options->underlay.iface_pattern));
    EXPECT_FALSE(std::regex_search("wlan0", *p.options->underlay.iface_pattern));
    EXPECT_EQ(p.options->underlay.can_reach->to_string(), "192.0.2.1");

    ::setenv("TWILL_IFACE_CAN_REACH", "2001:db8::1", 1);
    p = parse({"--node-name", "n1"});
    ::unsetenv("TWILL_IFACE_CAN_REACH");
    ASSERT_TRUE(p.options);
    EXPECT_EQ(p.options->underlay.can_reach->to_string(), "2001:db8::1");
}

TEST(Options, BadIfaceRegexOrCanReachIsAUsageErrorNamingTheFlag) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"--iface-regex", "eth[0-9"},
        {"--iface-regex", "(unclosed"},
        {"--iface-can-reach", "not-an-address"},
        {"--iface-can-reach", "10.0.0.0/8"}};
    for (const auto& [flag, value] : cases) {
        ::testing::internal::CaptureStderr();
        const auto p = parse({"--node-name", "n1", flag, value});
        const auto err = ::testing::internal::GetCapturedStderr();
        EXPECT_FALSE(p.options) << value;
        EXPECT_EQ(p.exit_code, 2) << value;
        EXPECT_NE(err.find(flag), std::string::npos) << value << ": " << err;
    }
}

TEST(Options, JoinUninstallAndCniDirs) {
    for (const char* name :
         {"TWILL_JOIN", "TWILL_UNINSTALL", "TWILL_CNI_BIN_DIR", "TWILL_CNI_CONF_DIR"})
        ::unsetenv(name);
    auto p = parse({"--node-name", "n1"});
    ASSERT_TRUE(p.options);
    EXPECT_FALSE(p.options->join);
    EXPECT_FALSE(p.options->uninstall);
    EXPECT_EQ(p.options->cni_bin_dir, "/opt/cni/bin");
    EXPECT_EQ(p.options->cni_conf_dir, "/etc/cni/net.d");

    p = parse({"--node-name", "n1", "--uninstall", "--cni-bin-dir", "/b", "--cni-conf-dir", "/c"});
    ASSERT_TRUE(p.options);
    EXPECT_TRUE(p.options->uninstall);
    EXPECT_EQ(p.options->cni_bin_dir, "/b");
    EXPECT_EQ(p.options->cni_conf_dir, "/c");

    ::setenv("TWILL_JOIN", "true", 1);
    ::setenv("TWILL_CNI_BIN_DIR", "/var/lib/rancher/k3s/data/current/bin", 1);
    ::setenv("TWILL_CNI_CONF_DIR", "/var/lib/rancher/k3s/agent/etc/cni/net.d", 1);
    p = parse({"--node-name", "n1"});
    for (const char* name : {"TWILL_JOIN", "TWILL_CNI_BIN_DIR", "TWILL_CNI_CONF_DIR"})
        ::unsetenv(name);
    ASSERT_TRUE(p.options);
    EXPECT_TRUE(p.options->join);
    EXPECT_EQ(p.options->cni_bin_dir, "/var/lib/rancher/k3s/data/current/bin");
    EXPECT_EQ(p.options->cni_conf_dir, "/var/lib/rancher/k3s/agent/etc/cni/net.d");

    ::setenv("TWILL_UNINSTALL", "1", 1);
    p = parse({"--node-name", "n1"});
    ::unsetenv("TWILL_UNINSTALL");
    ASSERT_TRUE(p.options);
    EXPECT_TRUE(p.options->uninstall);

    ::testing::internal::CaptureStderr();
    EXPECT_EQ(parse({"--node-name", "n1", "--join", "--uninstall"}).exit_code, 2);
    ::testing::internal::GetCapturedStderr();
}
