#include "twill/subnet/lease_table.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <sstream>

using namespace twill;
using namespace twill::subnet;

namespace {

const std::string kPrefix = "/twill/network";

NetworkConfig vxlan_config() {
    return parse_network_config(R"({"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}})");
}

std::string value(std::string_view public_ip = "192.168.1.10",
                  std::string_view mac = "0a:58:00:00:00:01", std::string_view node = "node-a",
                  std::string_view type = "vxlan") {
    return R"({"PublicIP":")" + std::string(public_ip) + R"(","Node":")" + std::string(node) +
           R"(","BackendType":")" + std::string(type) + R"(","BackendData":{"VtepMAC":")" +
           std::string(mac) + R"("}})";
}

RawEntry entry(std::string key, std::string value, std::int64_t create, std::int64_t mod = 0) {
    return RawEntry{std::move(key), std::move(value), create, mod ? mod : create, 0};
}

std::string key(std::string_view name) {
    return kPrefix + "/subnets/" + std::string(name);
}

IgnoreReason reason_of(const RawEntry& e, const NetworkConfig& config = vxlan_config(),
                       std::optional<net::Family> underlay = net::Family::v4) {
    auto result = validate_lease(config, kPrefix, e, underlay);
    if (std::holds_alternative<Lease>(result)) return static_cast<IgnoreReason>(-1);
    return std::get<Rejection>(result).reason;
}

// Captures what the table logs.
class LogCapture {
  public:
    LogCapture() {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out_);
        previous_ = spdlog::default_logger();
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
    }
    ~LogCapture() { spdlog::set_default_logger(previous_); }
    std::size_t lines() const {
        auto text = out_.str();
        return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    }

  private:
    std::ostringstream out_;
    std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace

TEST(ValidateLease, AcceptsAGoodLease) {
    auto result = validate_lease(vxlan_config(), kPrefix,
                                 entry(key("10.244.3.0-24"), value(), 5, 9), net::Family::v4);
    ASSERT_TRUE(std::holds_alternative<Lease>(result));
    const auto& lease = std::get<Lease>(result);
    EXPECT_EQ(lease.subnet.to_string(), "10.244.3.0/24");
    EXPECT_EQ(lease.value.node, "node-a");
    EXPECT_EQ(lease.create_revision, 5);
    EXPECT_EQ(lease.mod_revision, 9);
}

TEST(ValidateLease, RejectsEachKindOfBadEntry) {
    EXPECT_EQ(reason_of(entry("/twill/network/subnets/garbage", value(), 1)),
              IgnoreReason::bad_key);
    EXPECT_EQ(reason_of(entry(key("10.244.3.1-24"), value(), 1)), IgnoreReason::bad_key);
    // Outside the Network, the first subnet (below SubnetMin), the wrong length, other family.
    EXPECT_EQ(reason_of(entry(key("10.245.3.0-24"), value(), 1)), IgnoreReason::outside_range);
    EXPECT_EQ(reason_of(entry(key("10.244.0.0-24"), value(), 1)), IgnoreReason::outside_range);
    EXPECT_EQ(reason_of(entry(key("10.244.2.0-23"), value(), 1)), IgnoreReason::outside_range);
    EXPECT_EQ(reason_of(entry(key("10.244.3.0-25"), value(), 1)), IgnoreReason::outside_range);
    EXPECT_EQ(reason_of(entry(key("fd00::-64"), value(), 1)), IgnoreReason::outside_range);
    // Corrupt values.
    EXPECT_EQ(reason_of(entry(key("10.244.3.0-24"), "\x01\x02garbage", 1)),
              IgnoreReason::bad_value);
    EXPECT_EQ(reason_of(entry(key("10.244.3.0-24"), "", 1)), IgnoreReason::bad_value);
    EXPECT_EQ(reason_of(entry(key("10.244.3.0-24"), R"({"PublicIP":"192.168.1.10"})", 1)),
              IgnoreReason::bad_value);
    // Public IPs that cannot be a peer's underlay address.
    for (auto ip : {"10.244.7.1", "127.0.0.1", "0.0.0.0", "224.0.0.1", "169.254.1.1",
                    "255.255.255.255", "::1", "not-an-ip"}) {
        EXPECT_EQ(reason_of(entry(key("10.244.3.0-24"), value(ip), 1)), IgnoreReason::bad_public_ip)
            << ip;
    }
    // MACs.
    for (auto mac : {"01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "zz"}) {
        EXPECT_EQ(reason_of(entry(key("10.244.3.0-24"), value("192.168.1.10", mac), 1)),
                  IgnoreReason::bad_backend_data)
            << mac;
    }
    // Backends.
    EXPECT_EQ(reason_of(entry(key("10.244.3.0-24"),
                              value("192.168.1.10", "0a:58:00:00:00:01", "a", "udp"), 1)),
              IgnoreReason::wrong_backend);
    const std::string wireguard_value =
        R"({"PublicIP":"192.168.1.10","Node":"a","BackendType":"wireguard",)"
        R"("BackendData":{"PublicKey":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}})";
    EXPECT_EQ(reason_of(entry(key("10.244.3.0-24"), wireguard_value, 1)),
              IgnoreReason::wrong_backend);
    auto wireguard =
        parse_network_config(R"({"Network":"10.244.0.0/16","Backend":{"Type":"wireguard"}})");
    EXPECT_TRUE(std::holds_alternative<Lease>(validate_lease(
        wireguard, kPrefix, entry(key("10.244.3.0-24"), wireguard_value, 1), net::Family::v4)));
    EXPECT_EQ(reason_of(entry(key("10.244.3.0-24"), value(), 1), wireguard),
              IgnoreReason::wrong_backend);
    // Another backend's data under its own BackendType is the wrong backend, not bad data.
    EXPECT_EQ(reason_of(entry(key("10.244.3.0-24"),
                              value("192.168.1.10", "0a:58:00:00:00:01", "a", "wireguard"), 1)),
              IgnoreReason::wrong_backend);
    const std::string zero_key =
        R"({"PublicIP":"192.168.1.10","Node":"a","BackendType":"wireguard",)"
        R"("BackendData":{"PublicKey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}})";
    EXPECT_EQ(reason_of(entry(key("10.244.3.0-24"), zero_key, 1), wireguard),
              IgnoreReason::bad_backend_data);
}

TEST(ValidateLease, PublicIPInsideTheIPv6NetworkIsRejected) {
    auto config = parse_network_config(
        R"({"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10::/48"})");
    // (An IPv6 underlay, so that only the network rule can reject.)
    EXPECT_EQ(
        reason_of(entry(key("10.244.3.0-24"), value("fd00:10::5"), 1), config, net::Family::v6),
        IgnoreReason::bad_public_ip);
    EXPECT_TRUE(std::holds_alternative<Lease>(validate_lease(
        config, kPrefix, entry(key("10.244.3.0-24"), value("fd00:99::5"), 1), net::Family::v6)));
}

TEST(LeaseTable, ReportsAddsChangesAndRemovals) {
    LeaseTable table(vxlan_config(), kPrefix, net::Family::v4);
    auto changes = table.put(entry(key("10.244.3.0-24"), value(), 5));
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_FALSE(changes[0].before);
    ASSERT_TRUE(changes[0].after);
    EXPECT_EQ(changes[0].after->value.public_ip.to_string(), "192.168.1.10");

    // Replaying the same version changes nothing.
    EXPECT_TRUE(table.put(entry(key("10.244.3.0-24"), value(), 5)).empty());

    changes = table.put(entry(key("10.244.3.0-24"), value("192.168.1.11"), 5, 8));
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].before->value.public_ip.to_string(), "192.168.1.10");
    EXPECT_EQ(changes[0].after->value.public_ip.to_string(), "192.168.1.11");

    // A valid lease turning corrupt is a removal.
    changes = table.put(entry(key("10.244.3.0-24"), "corrupt", 5, 9));
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_TRUE(changes[0].before);
    EXPECT_FALSE(changes[0].after);
    EXPECT_TRUE(table.leases().empty());

    changes = table.put(entry(key("10.244.3.0-24"), value(), 5, 10));
    ASSERT_EQ(changes.size(), 1u);
    changes = table.erase(key("10.244.3.0-24"));
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_FALSE(changes[0].after);
    EXPECT_TRUE(table.erase(key("10.244.3.0-24")).empty());
    EXPECT_EQ(table.entry_count(), 0u);
}

TEST(LeaseTable, EarliestCreatedOfOverlappingLeasesWins) {
    LeaseTable table(vxlan_config(), kPrefix, net::Family::v4);
    // "-024" names the same subnet as "-24": two keys, one subnet.
    table.put(
        entry(key("10.244.3.0-024"), value("192.168.1.20", "0a:58:00:00:00:02", "node-b"), 7));
    auto changes = table.put(entry(key("10.244.3.0-24"), value(), 5));
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].before->value.node, "node-b");
    EXPECT_EQ(changes[0].after->value.node, "node-a");
    ASSERT_EQ(table.leases().size(), 1u);
    EXPECT_EQ(table.leases().begin()->second.key, key("10.244.3.0-24"));
    EXPECT_EQ(table.ignored_now().at(IgnoreReason::overlap), 1u);
    EXPECT_EQ(table.ignored_total().at(IgnoreReason::overlap), 1u);

    // A later lease does not displace the winner.
    EXPECT_TRUE(table.put(entry(key("10.244.3.0-0024"), value("192.168.1.30"), 9)).empty());
    EXPECT_EQ(table.ignored_now().at(IgnoreReason::overlap), 2u);

    // Removing the winner promotes the next-oldest.
    changes = table.erase(key("10.244.3.0-24"));
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].after->key, key("10.244.3.0-024"));
    EXPECT_EQ(table.ignored_now().at(IgnoreReason::overlap), 1u);
}

TEST(LeaseTable, BatchYieldsOneChangePerSubnet) {
    LeaseTable table(vxlan_config(), kPrefix, net::Family::v4);
    table.put(entry(key("10.244.1.0-24"), value("192.168.1.1", "0a:58:00:00:00:01"), 2));
    table.put(entry(key("10.244.2.0-24"), value("192.168.1.2", "0a:58:00:00:00:02"), 3));
    auto changes =
        table.apply({{key("10.244.1.0-24"), std::nullopt},
                     {key("10.244.3.0-24"),
                      entry(key("10.244.3.0-24"), value("192.168.1.3", "0a:58:00:00:00:03"), 4)},
                     {key("10.244.3.0-24"),
                      entry(key("10.244.3.0-24"), value("192.168.1.4", "0a:58:00:00:00:04"), 4, 5)},
                     {key("10.244.2.0-24"), std::nullopt},
                     {key("10.244.2.0-24"),
                      entry(key("10.244.2.0-24"), value("192.168.1.2", "0a:58:00:00:00:02"), 3)},
                     {key("bogus"), entry(key("bogus"), "x", 6)}});
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(changes[0].subnet.to_string(), "10.244.1.0/24");
    EXPECT_FALSE(changes[0].after);
    EXPECT_EQ(changes[1].subnet.to_string(), "10.244.3.0/24");
    EXPECT_FALSE(changes[1].before);
    EXPECT_EQ(changes[1].after->value.public_ip.to_string(), "192.168.1.4");
    EXPECT_EQ(table.leases().size(), 2u);
    EXPECT_EQ(table.ignored_now().at(IgnoreReason::bad_key), 1u);
}

TEST(LeaseTable, LogsAndCountsEachRejectedVersionOnce) {
    LogCapture log;
    LeaseTable table(vxlan_config(), kPrefix, net::Family::v4);
    const auto bad = entry(key("10.244.3.0-24"), value("10.244.9.9"), 4);
    table.put(bad);
    table.put(bad);
    table.apply({{bad.key, bad}});
    EXPECT_EQ(log.lines(), 1u);
    EXPECT_EQ(table.ignored_total().at(IgnoreReason::bad_public_ip), 1u);
    EXPECT_EQ(table.ignored_now().at(IgnoreReason::bad_public_ip), 1u);
    // A new version of the key is a new rejection.
    table.put(entry(key("10.244.3.0-24"), value("224.0.0.1"), 4, 6));
    EXPECT_EQ(log.lines(), 2u);
    EXPECT_EQ(table.ignored_total().at(IgnoreReason::bad_public_ip), 2u);
    EXPECT_EQ(table.ignored_now().at(IgnoreReason::bad_public_ip), 1u);
    EXPECT_EQ(table.ignored_total().at(IgnoreReason::bad_key), 0u);
    table.erase(key("10.244.3.0-24"));
    EXPECT_EQ(table.ignored_now().at(IgnoreReason::bad_public_ip), 0u);
}

namespace {

NetworkConfig wireguard_config() {
    return parse_network_config(R"({"Network":"10.244.0.0/16","Backend":{"Type":"wireguard"}})");
}

std::string wireguard_value(std::string_view public_ip, std::string_view public_key,
                            std::string_view node) {
    return R"({"PublicIP":")" + std::string(public_ip) + R"(","Node":")" + std::string(node) +
           R"(","BackendType":"wireguard","BackendData":{"PublicKey":")" + std::string(public_key) +
           R"("}})";
}

// subnet -> key of the valid lease, for comparing whole tables.
std::map<std::string, std::string> keys_by_subnet(const LeaseTable& table) {
    std::map<std::string, std::string> result;
    for (const auto& [subnet, lease] : table.leases()) result[subnet.to_string()] = lease.key;
    return result;
}

}  // namespace

TEST(ValidateLease, PublicIPOfTheOtherFamilyThanTheUnderlayIsRejected) {
    const auto lease = [](std::string_view ip) {
        return entry(key("10.244.3.0-24"), value(ip), 1);
    };
    // IPv6 (and v4-mapped IPv6, which is IPv4 traffic in disguise) on an IPv4 underlay.
    for (auto ip : {"2001:db8::10", "::ffff:192.168.1.10"}) {
        EXPECT_EQ(reason_of(lease(ip)), IgnoreReason::bad_public_ip) << ip;
    }
    auto rejected = validate_lease(vxlan_config(), kPrefix, lease("2001:db8::10"), net::Family::v4);
    ASSERT_TRUE(std::holds_alternative<Rejection>(rejected));
    const auto& message = std::get<Rejection>(rejected).message;
    EXPECT_NE(message.find("PublicIP"), std::string::npos) << message;
    EXPECT_NE(message.find("IPv4"), std::string::npos) << message;
    // IPv4 on an IPv6 underlay; a v4-mapped address is no IPv6 peer either.
    EXPECT_EQ(reason_of(lease("192.168.1.10"), vxlan_config(), net::Family::v6),
              IgnoreReason::bad_public_ip);
    EXPECT_EQ(reason_of(lease("::ffff:192.168.1.10"), vxlan_config(), net::Family::v6),
              IgnoreReason::bad_public_ip);
    EXPECT_TRUE(std::holds_alternative<Lease>(
        validate_lease(vxlan_config(), kPrefix, lease("2001:db8::10"), net::Family::v6)));
    EXPECT_TRUE(std::holds_alternative<Lease>(
        validate_lease(vxlan_config(), kPrefix, lease("192.168.1.10"), net::Family::v4)));
}

TEST(LeaseTable, IsToldTheUnderlayFamily) {
    LeaseTable v4(vxlan_config(), kPrefix, net::Family::v4);
    v4.put(entry(key("10.244.3.0-24"), value("2001:db8::10"), 1));
    v4.put(entry(key("10.244.4.0-24"), value("::ffff:192.168.1.11", "0a:58:00:00:00:02"), 2));
    EXPECT_TRUE(v4.leases().empty());
    EXPECT_EQ(v4.ignored_now().at(IgnoreReason::bad_public_ip), 2u);
    LeaseTable v6(vxlan_config(), kPrefix, net::Family::v6);
    v6.put(entry(key("10.244.3.0-24"), value("2001:db8::10"), 1));
    EXPECT_EQ(v6.leases().size(), 1u);
}

TEST(LeaseTable, EarliestLeaseKeepsADuplicatedVtepMac) {
    LogCapture log;
    LeaseTable table(vxlan_config(), kPrefix, net::Family::v4);
    const auto mac = "0a:58:00:00:00:07";
    table.put(entry(key("10.244.4.0-24"), value("192.168.1.20", mac, "copy"), 9));
    ASSERT_EQ(table.leases().size(), 1u);
    // The earlier lease arrives later (event order): it takes the MAC, the copy drops out.
    auto changes = table.put(entry(key("10.244.3.0-24"), value("192.168.1.10", mac, "first"), 5));
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(changes[0].subnet.to_string(), "10.244.3.0/24");
    EXPECT_EQ(changes[0].after->value.node, "first");
    EXPECT_EQ(changes[1].subnet.to_string(), "10.244.4.0/24");
    EXPECT_FALSE(changes[1].after);
    EXPECT_EQ(keys_by_subnet(table),
              (std::map<std::string, std::string>{{"10.244.3.0/24", key("10.244.3.0-24")}}));
    EXPECT_EQ(table.ignored_now().at(IgnoreReason::duplicate), 1u);
    EXPECT_EQ(table.ignored_total().at(IgnoreReason::duplicate), 1u);
    EXPECT_EQ(to_string(IgnoreReason::duplicate), "duplicate");
    EXPECT_NE(std::find(kIgnoreReasons.begin(), kIgnoreReasons.end(), IgnoreReason::duplicate),
              kIgnoreReasons.end());
    EXPECT_EQ(log.lines(), 1u);  // the duplicate, named once

    // Unrelated changes neither log nor count it again.
    table.put(entry(key("10.244.5.0-24"), value("192.168.1.30", "0a:58:00:00:00:08"), 11));
    EXPECT_EQ(table.ignored_total().at(IgnoreReason::duplicate), 1u);
    EXPECT_EQ(log.lines(), 1u);

    // When the earlier lease goes away, the later one becomes valid.
    changes = table.erase(key("10.244.3.0-24"));
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_FALSE(changes[0].after);
    EXPECT_EQ(changes[1].after->value.node, "copy");
    EXPECT_EQ(table.ignored_now().at(IgnoreReason::duplicate), 0u);
    EXPECT_EQ(table.leases().size(), 2u);
}

TEST(LeaseTable, EarliestLeaseKeepsADuplicatedWireguardKey) {
    LeaseTable table(wireguard_config(), kPrefix, net::Family::v4);
    const auto shared = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const auto other = "HwECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    table.put(entry(key("10.244.3.0-24"), wireguard_value("192.168.1.10", shared, "a"), 3));
    table.put(entry(key("10.244.4.0-24"), wireguard_value("192.168.1.20", shared, "b"), 4));
    table.put(entry(key("10.244.5.0-24"), wireguard_value("192.168.1.30", other, "c"), 6));
    EXPECT_EQ(keys_by_subnet(table),
              (std::map<std::string, std::string>{{"10.244.3.0/24", key("10.244.3.0-24")},
                                                  {"10.244.5.0/24", key("10.244.5.0-24")}}));
    EXPECT_EQ(table.ignored_now().at(IgnoreReason::duplicate), 1u);
    // The later lease takes a key of its own: valid again.
    auto changes = table.put(
        entry(key("10.244.4.0-24"),
              wireguard_value("192.168.1.20", "IB8CAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "b"),
              4, 8));
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].after->value.node, "b");
    EXPECT_EQ(table.ignored_now().at(IgnoreReason::duplicate), 0u);
}

TEST(LeaseTable, SameTableWhateverOrderTheEntriesArriveIn) {
    // Overlaps and duplicates tangled together: 3.0 is claimed twice; the MAC of its earliest
    // claim is copied by 4.0 (a duplicate); 6.0 uses the MAC of the overlap loser, which
    // announces nothing since it is not used, so 6.0 is valid.
    const std::vector<RawEntry> entries = {
        entry(key("10.244.3.0-24"), value("192.168.1.1", "0a:58:00:00:00:01", "a"), 10),
        entry(key("10.244.3.0-024"), value("192.168.1.2", "0a:58:00:00:00:02", "b"), 11),
        entry(key("10.244.4.0-24"), value("192.168.1.3", "0a:58:00:00:00:01", "c"), 12),
        entry(key("10.244.5.0-24"), value("192.168.1.4", "0a:58:00:00:00:04", "d"), 13),
        entry(key("10.244.6.0-24"), value("192.168.1.5", "0a:58:00:00:00:02", "e"), 14),
        entry(key("10.244.7.0-24"), value("2001:db8::1", "0a:58:00:00:00:07", "f"), 15),
        // Same create revision (one transaction): the lower key wins the MAC.
        entry(key("10.244.8.0-24"), value("192.168.1.8", "0a:58:00:00:00:08", "g"), 16),
        entry(key("10.244.9.0-24"), value("192.168.1.9", "0a:58:00:00:00:08", "h"), 16),
    };
    const std::map<std::string, std::string> expected = {
        {"10.244.3.0/24", key("10.244.3.0-24")},
        {"10.244.5.0/24", key("10.244.5.0-24")},
        {"10.244.6.0/24", key("10.244.6.0-24")},
        {"10.244.8.0/24", key("10.244.8.0-24")},
    };
    LogCapture log;  // every order logs its rejections once: keep them off the test output
    std::vector<std::size_t> order(entries.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::mt19937 random(42);
    for (int round = 0; round < 500; ++round) {
        if (round == 1) std::reverse(order.begin(), order.end());
        if (round > 1) std::shuffle(order.begin(), order.end(), random);
        LeaseTable one_by_one(vxlan_config(), kPrefix, net::Family::v4);
        for (auto i : order) one_by_one.put(entries[i]);
        ASSERT_EQ(keys_by_subnet(one_by_one), expected) << "round " << round;
        EXPECT_EQ(one_by_one.ignored_now().at(IgnoreReason::duplicate), 2u);
        EXPECT_EQ(one_by_one.ignored_now().at(IgnoreReason::overlap), 1u);
        EXPECT_EQ(one_by_one.ignored_now().at(IgnoreReason::bad_public_ip), 1u);
    }

    LeaseTable batched(vxlan_config(), kPrefix, net::Family::v4);
    std::vector<LeaseTable::Mutation> batch;
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) batch.push_back({it->key, *it});
    batched.apply(batch);
    EXPECT_EQ(keys_by_subnet(batched), expected);

    // Taking the earliest claim of 3.0 away: b wins 3.0 and keeps ...:02, so e (6.0) becomes
    // the duplicate, and c (4.0) is valid now that ...:01 is free.
    batched.erase(key("10.244.3.0-24"));
    EXPECT_EQ(keys_by_subnet(batched),
              (std::map<std::string, std::string>{{"10.244.3.0/24", key("10.244.3.0-024")},
                                                  {"10.244.4.0/24", key("10.244.4.0-24")},
                                                  {"10.244.5.0/24", key("10.244.5.0-24")},
                                                  {"10.244.8.0/24", key("10.244.8.0-24")}}));
    EXPECT_EQ(batched.ignored_now().at(IgnoreReason::duplicate), 2u);
    EXPECT_EQ(batched.ignored_now().at(IgnoreReason::overlap), 0u);
}

namespace {

NetworkConfig dual_stack_config() {
    return parse_network_config(
        R"({"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/48",)"
        R"("Backend":{"Type":"vxlan"}})");
}

std::string dual_value(std::string_view node, std::string_view mac, std::string_view mac_v6,
                       std::string_view public_ipv6 = "2001:db8::10") {
    return R"({"PublicIP":"192.168.1.10","PublicIPv6":")" + std::string(public_ipv6) +
           R"(","Node":")" + std::string(node) +
           R"(","BackendType":"vxlan","BackendData":{"VtepMAC":")" + std::string(mac) +
           R"("},"BackendV6Data":{"VtepMAC":")" + std::string(mac_v6) + R"("}})";
}

}  // namespace

TEST(ValidateLease, DualStackLeaseHasBothSubnets) {
    const auto config = dual_stack_config();
    auto result =
        validate_lease(config, kPrefix,
                       entry(key("10.244.3.0-24&fd00:10:244:3::-64"),
                             dual_value("a", "0a:58:00:00:00:01", "0a:58:00:00:00:02"), 1),
                       net::Family::v4);
    ASSERT_TRUE(std::holds_alternative<Lease>(result)) << std::get<Rejection>(result).message;
    const auto& lease = std::get<Lease>(result);
    EXPECT_EQ(lease.subnet.to_string(), "10.244.3.0/24");
    EXPECT_EQ(lease.ipv6_subnet, net::Prefix::parse("fd00:10:244:3::/64"));
    EXPECT_EQ(lease.value.public_ipv6, net::Address::parse("2001:db8::10"));

    // A v4-only lease in a dual-stack network is a peer without IPv6 entries.
    auto v4_only =
        validate_lease(config, kPrefix, entry(key("10.244.4.0-24"), value(), 1), net::Family::v4);
    ASSERT_TRUE(std::holds_alternative<Lease>(v4_only));
    EXPECT_FALSE(std::get<Lease>(v4_only).ipv6_subnet);

    // In an IPv4-only network the IPv6 half is not used.
    auto in_v4_network =
        validate_lease(vxlan_config(), kPrefix,
                       entry(key("10.244.3.0-24&fd00:10:244:3::-64"),
                             dual_value("a", "0a:58:00:00:00:01", "0a:58:00:00:00:02"), 1),
                       net::Family::v4);
    ASSERT_TRUE(std::holds_alternative<Lease>(in_v4_network));
    EXPECT_FALSE(std::get<Lease>(in_v4_network).ipv6_subnet);
}

TEST(ValidateLease, EachRuleHoldsForTheIPv6Half) {
    const auto config = dual_stack_config();
    auto reason = [&](std::string_view name, const std::string& v) {
        return reason_of(entry(key(name), v, 1), config);
    };
    const auto good = dual_value("a", "0a:58:00:00:00:01", "0a:58:00:00:00:02");
    // Outside the IPv6 range, or not a subnet of its length.
    EXPECT_EQ(reason("10.244.3.0-24&fd00:99::-64", good), IgnoreReason::outside_range);
    EXPECT_EQ(reason("10.244.3.0-24&fd00:10:244:3::-80", good), IgnoreReason::outside_range);
    // PublicIPv6: IPv4-mapped, inside a pod network, not unicast.
    EXPECT_EQ(reason("10.244.3.0-24&fd00:10:244:3::-64",
                     dual_value("a", "0a:58:00:00:00:01", "0a:58:00:00:00:02", "::ffff:1.2.3.4")),
              IgnoreReason::bad_public_ip);
    EXPECT_EQ(reason("10.244.3.0-24&fd00:10:244:3::-64",
                     dual_value("a", "0a:58:00:00:00:01", "0a:58:00:00:00:02", "fd00:10:244:9::1")),
              IgnoreReason::bad_public_ip);
    EXPECT_EQ(reason("10.244.3.0-24&fd00:10:244:3::-64",
                     dual_value("a", "0a:58:00:00:00:01", "0a:58:00:00:00:02", "ff02::1")),
              IgnoreReason::bad_public_ip);
    // BackendV6Data: a multicast VTEP MAC.
    EXPECT_EQ(reason("10.244.3.0-24&fd00:10:244:3::-64",
                     dual_value("a", "0a:58:00:00:00:01", "01:00:5e:00:00:01")),
              IgnoreReason::bad_backend_data);
}

TEST(LeaseTable, OverlapAndDuplicatesPerFamily) {
    LogCapture log;
    LeaseTable table(dual_stack_config(), kPrefix, net::Family::v4);
    table.put(entry(key("10.244.3.0-24&fd00:10:244:3::-64"),
                    dual_value("first", "0a:58:00:00:00:01", "0a:58:00:00:00:02"), 5));
    // The same IPv6 half under another IPv4 subnet: overlap.
    table.put(entry(key("10.244.4.0-24&fd00:10:244:3::-64"),
                    dual_value("second", "0a:58:00:00:00:03", "0a:58:00:00:00:04"), 6));
    // Another lease announcing the first one's IPv6 VTEP MAC on its IPv4 device: duplicate.
    table.put(entry(key("10.244.5.0-24&fd00:10:244:5::-64"),
                    dual_value("third", "0a:58:00:00:00:02", "0a:58:00:00:00:06"), 7));
    // A v4-only lease whose subnet the dual-stack one holds: overlap.
    table.put(entry(key("10.244.3.0-24"), value("192.168.1.40", "0a:58:00:00:00:09", "x"), 8));
    ASSERT_EQ(table.leases().size(), 1u);
    EXPECT_EQ(table.leases().begin()->second.value.node, "first");
    EXPECT_EQ(table.ignored_now().at(IgnoreReason::overlap), 2u);
    EXPECT_EQ(table.ignored_now().at(IgnoreReason::duplicate), 1u);

    // The first goes: the next ones in order of creation take its halves and its MAC.
    auto changes = table.erase(key("10.244.3.0-24&fd00:10:244:3::-64"));
    EXPECT_EQ(table.leases().size(), 3u);
    EXPECT_EQ(table.ignored_now().at(IgnoreReason::overlap), 0u);
    EXPECT_EQ(table.ignored_now().at(IgnoreReason::duplicate), 0u);
    EXPECT_EQ(table.leases().at(net::Prefix::parse("10.244.4.0/24")).ipv6_subnet,
              net::Prefix::parse("fd00:10:244:3::/64"));
    EXPECT_FALSE(table.leases().at(net::Prefix::parse("10.244.3.0/24")).ipv6_subnet);
}

// The table follows one change at a time by looking only at the leases the change touches.
// After each of a long random run of puts and deletes (subnets claimed twice, MACs announced
// by several leases, winners coming and going), it must hold exactly what a table built from
// scratch from the same entries holds, and the changes it returned must turn the previous
// winners into the new ones.
TEST(LeaseTable, EveryStepMatchesATableBuiltFromScratch) {
    LogCapture log;
    const std::vector<std::string> names = {"10.244.1.0-24",  "10.244.1.0-024", "10.244.2.0-24",
                                            "10.244.2.0-024", "10.244.3.0-24",  "10.244.4.0-24",
                                            "10.244.5.0-24",  "10.244.6.0-24"};
    const std::vector<std::string> macs = {"0a:58:00:00:00:01", "0a:58:00:00:00:02",
                                           "0a:58:00:00:00:03", "0a:58:00:00:00:04"};
    std::mt19937 random(7);
    auto pick = [&](std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(random);
    };
    LeaseTable table(vxlan_config(), kPrefix, net::Family::v4);
    std::map<std::string, RawEntry> present;
    std::int64_t revision = 1;
    for (int step = 0; step < 3000; ++step) {
        const auto before = table.leases();
        const auto name = key(names[pick(names.size())]);
        std::vector<LeaseChange> changes;
        if (present.contains(name) && pick(3) == 0) {
            present.erase(name);
            changes = table.erase(name);
        } else {
            ++revision;
            const auto created =
                present.contains(name) ? present.at(name).create_revision : revision;
            auto e = entry(
                name, value("192.168.1.10", macs[pick(macs.size())], "n" + std::to_string(step)),
                created, revision);
            present.insert_or_assign(name, e);
            changes = table.put(e);
        }
        LeaseTable scratch(vxlan_config(), kPrefix, net::Family::v4);
        std::vector<LeaseTable::Mutation> all;
        for (const auto& [k, e] : present) all.push_back({k, e});
        scratch.apply(all);
        ASSERT_EQ(table.leases(), scratch.leases()) << "step " << step;
        ASSERT_EQ(table.ignored_now(), scratch.ignored_now()) << "step " << step;

        auto replayed = before;
        for (const auto& change : changes) {
            ASSERT_EQ(change.before ? std::optional(before.at(change.subnet)) : std::nullopt,
                      change.before);
            ASSERT_NE(change.before, change.after) << "step " << step;
            if (change.after)
                replayed.insert_or_assign(change.subnet, *change.after);
            else
                replayed.erase(change.subnet);
        }
        ASSERT_EQ(replayed, table.leases()) << "step " << step;
    }
}

// A relist (after compaction) replaces the whole table: what it lacks is gone, what it holds
// again at the same version costs nothing.
TEST(LeaseTable, ReplaceAllYieldsTheDifference) {
    LeaseTable table(vxlan_config(), kPrefix, net::Family::v4);
    const auto a = entry(key("10.244.1.0-24"), value("192.168.1.1", "0a:58:00:00:00:01", "a"), 5);
    const auto b = entry(key("10.244.2.0-24"), value("192.168.1.2", "0a:58:00:00:00:02", "b"), 6);
    table.apply({{a.key, a}, {b.key, b}});
    const auto b2 = entry(b.key, value("192.168.1.22", "0a:58:00:00:00:02", "b"), 6, 9);
    const auto c = entry(key("10.244.3.0-24"), value("192.168.1.3", "0a:58:00:00:00:03", "c"), 8);
    const auto changes = table.replace_all({b2, c});
    ASSERT_EQ(changes.size(), 3u);
    EXPECT_EQ(changes[0].subnet, net::Prefix::parse("10.244.1.0/24"));
    EXPECT_FALSE(changes[0].after);
    EXPECT_EQ(changes[1].after->value.public_ip, net::Address::parse("192.168.1.22"));
    EXPECT_FALSE(changes[2].before);
    EXPECT_TRUE(table.replace_all({b2, c}).empty());
    EXPECT_EQ(table.entry_count(), 2u);
}
