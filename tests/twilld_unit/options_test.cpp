#include "options.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

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
