#include "twill/ipam/store.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "twill/sys/file.hpp"

namespace twill::ipam {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char dir_template[] = "/tmp/twill-ipam-XXXXXX";
        root_ = ::mkdtemp(dir_template);
        dir_ = root_ / "data" / "twill";  // created by the store
    }
    void TearDown() override { fs::remove_all(root_); }

    std::set<std::string> files() const {
        std::set<std::string> names;
        for (const auto& e : fs::directory_iterator(dir_))
            names.insert(e.path().filename().string());
        return names;
    }

    fs::path root_;
    fs::path dir_;
    const net::Prefix subnet_ = net::Prefix::parse("10.244.3.0/24");
    const net::Address gateway_ = net::Address::parse("10.244.3.1");
};

TEST_F(StoreTest, ReservationFileIsNamedByTheAddressWithOwnerLines) {
    Store store(dir_);
    const auto ip = store.reserve(subnet_, gateway_, {"c1", "eth0"});
    EXPECT_EQ(ip.to_string(), "10.244.3.2");
    EXPECT_EQ(sys::read_file(dir_ / "10.244.3.2"), "c1\neth0\n");
    EXPECT_EQ(files(), (std::set<std::string>{"10.244.3.2", "last_reserved_ip.v4", "lock"}));
    ASSERT_TRUE(store.find(ip));
    EXPECT_EQ(store.find(ip)->owner, (Attachment{"c1", "eth0"}));
    EXPECT_FALSE(store.find(net::Address::parse("10.244.3.3")));
}

TEST_F(StoreTest, FillsTheSubnetWithoutNetworkGatewayOrBroadcast) {
    Store store(dir_);
    const auto small = net::Prefix::parse("10.0.0.8/29");  // hosts .9-.14, gateway .9
    const auto gw = net::Address::parse("10.0.0.9");
    std::set<std::string> got;
    for (int i = 0; i < 5; ++i)
        got.insert(store.reserve(small, gw, {"c" + std::to_string(i), "eth0"}).to_string());
    EXPECT_EQ(got, (std::set<std::string>{"10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.13",
                                          "10.0.0.14"}));
    EXPECT_THROW(store.reserve(small, gw, {"c9", "eth0"}), Exhausted);
    EXPECT_EQ(store.release({"c2", "eth0"}).size(), 1u);
    EXPECT_EQ(store.reserve(small, gw, {"c9", "eth0"}).to_string(), "10.0.0.12");
}

TEST_F(StoreTest, RoundRobinDoesNotReuseAReleasedAddressAtOnce) {
    Store store(dir_);
    const auto a = store.reserve(subnet_, gateway_, {"c1", "eth0"});
    store.release({"c1", "eth0"});
    const auto b = store.reserve(subnet_, gateway_, {"c2", "eth0"});
    EXPECT_NE(a, b);
    EXPECT_EQ(b.to_string(), "10.244.3.3");
}

TEST_F(StoreTest, CursorAtTheEndWrapsToTheStart) {
    Store store(dir_);
    sys::make_directories(dir_);
    sys::write_file_atomic(dir_ / "last_reserved_ip.v4", "10.244.3.254");
    EXPECT_EQ(store.reserve(subnet_, gateway_, {"c1", "eth0"}).to_string(), "10.244.3.2");
    sys::write_file_atomic(dir_ / "last_reserved_ip.v4", "garbage");
    EXPECT_EQ(store.reserve(subnet_, gateway_, {"c2", "eth0"}).to_string(), "10.244.3.3");
}

TEST_F(StoreTest, ReleaseMatchesContainerAndIfname) {
    Store store(dir_);
    const auto a = store.reserve(subnet_, gateway_, {"c1", "eth0"});
    const auto b = store.reserve(subnet_, gateway_, {"c1", "net1"});
    const auto c = store.reserve(subnet_, gateway_, {"c2", "eth0"});
    EXPECT_EQ(store.release({"c1", "net1"}), std::vector<net::Address>{b});
    EXPECT_TRUE(store.release({"c1", "net1"}).empty());  // idempotent
    EXPECT_TRUE(store.release({"nobody", "eth0"}).empty());
    std::set<net::Address> left;
    for (const auto& r : store.list()) left.insert(r.address);
    EXPECT_EQ(left, (std::set<net::Address>{a, c}));
}

TEST_F(StoreTest, GcKeepsOnlyValidAttachments) {
    Store store(dir_);
    store.reserve(subnet_, gateway_, {"c1", "eth0"});
    const auto kept = store.reserve(subnet_, gateway_, {"c2", "eth0"});
    store.reserve(subnet_, gateway_, {"c3", "eth0"});
    // A torn reservation from some other writer: no owner, so only GC can drop it.
    std::ofstream(dir_ / "10.244.3.77").close();
    const auto released = store.release_all_except({{"c2", "eth0"}, {"c9", "eth0"}});
    EXPECT_EQ(released.size(), 3u);
    const auto left = store.list();
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].address, kept);
}

TEST_F(StoreTest, ReadsHostLocalStyleCrLf) {
    sys::make_directories(dir_);
    sys::write_file_atomic(dir_ / "10.244.3.9", "c1\r\neth0");
    Store store(dir_);
    EXPECT_EQ(store.release({"c1", "eth0"}),
              std::vector<net::Address>{net::Address::parse("10.244.3.9")});
}

TEST_F(StoreTest, DropsReservationsOutsideTheCurrentSubnet) {
    Store store(dir_);
    store.reserve(net::Prefix::parse("10.244.9.0/24"), net::Address::parse("10.244.9.1"),
                  {"old", "eth0"});
    sys::write_file_atomic(dir_ / "fd00::5", "v6\neth0\n");
    store.reserve(subnet_, gateway_, {"new", "eth0"});
    std::set<std::string> owners;
    for (const auto& r : store.list()) owners.insert(r.owner.container_id);
    EXPECT_EQ(owners, (std::set<std::string>{"new", "v6"}));  // other families are left alone
}

TEST_F(StoreTest, LeftoverTemporaryFileOfAKilledWriterIsHarmless) {
    Store store(dir_);
    const auto first = store.reserve(subnet_, gateway_, {"c1", "eth0"});
    // A writer killed after link() but before unlink(): the temporary name is a second link
    // to a finished reservation. It must not be truncated by the next writer.
    ASSERT_EQ(::link((dir_ / first.to_string()).c_str(), (dir_ / ".reserving").c_str()), 0);
    store.reserve(subnet_, gateway_, {"c2", "eth0"});
    EXPECT_EQ(sys::read_file(dir_ / first.to_string()), "c1\neth0\n");
    EXPECT_FALSE(fs::exists(dir_ / ".reserving"));
    // A writer killed before link(): a partial temporary file, never a reservation.
    std::ofstream(dir_ / ".reserving") << "c3\n";
    EXPECT_EQ(store.list().size(), 2u);
    store.reserve(subnet_, gateway_, {"c4", "eth0"});
    EXPECT_FALSE(fs::exists(dir_ / ".reserving"));
}

TEST_F(StoreTest, ConcurrentWritersNeverShareAnAddress) {
    constexpr int writers = 8, per_writer = 25;
    std::vector<std::vector<net::Address>> got(writers);
    {
        std::vector<std::jthread> threads;
        for (int w = 0; w < writers; ++w) {
            threads.emplace_back([&, w] {
                Store store(dir_);  // own fds, so flock() excludes the other threads too
                for (int i = 0; i < per_writer; ++i) {
                    got[w].push_back(store.reserve(subnet_, gateway_,
                                                   {"c" + std::to_string(w * 100 + i), "eth0"}));
                }
            });
        }
    }
    std::set<net::Address> all;
    for (const auto& list : got) all.insert(list.begin(), list.end());
    EXPECT_EQ(all.size(), static_cast<std::size_t>(writers * per_writer));
    EXPECT_FALSE(all.contains(gateway_));
    Store store(dir_);
    EXPECT_EQ(store.list().size(), all.size());
}

TEST_F(StoreTest, WorksForIpv6) {
    Store store(dir_);
    const auto subnet = net::Prefix::parse("fd00:1::/64");
    const auto gw = net::Address::parse("fd00:1::1");
    EXPECT_EQ(store.reserve(subnet, gw, {"c1", "eth0"}).to_string(), "fd00:1::2");
    EXPECT_EQ(store.reserve(subnet, gw, {"c2", "eth0"}).to_string(), "fd00:1::3");
    EXPECT_TRUE(fs::exists(dir_ / "last_reserved_ip.v6"));
}

TEST_F(StoreTest, CursorIsNeverSeenEmptyOrPartial) {
    Store store(dir_);
    store.reserve(subnet_, gateway_, {"c0", "eth0"});  // the cursor exists from here on
    std::atomic<bool> done{false};
    std::atomic<int> reads{0};
    std::string bad;  // the first unusable content the reader saw
    std::jthread reader([&] {
        while (!done) {
            const auto content = sys::read_file(dir_ / "last_reserved_ip.v4");
            ++reads;
            if (!content || !net::Address::try_parse(*content)) {
                bad = content ? "\"" + *content + "\"" : "no file";
                return;
            }
        }
    });
    // Every reserve rewrites the cursor; releasing keeps the subnet from filling up.
    for (int i = 0; i < 200 && bad.empty(); ++i) {
        const Attachment owner{"c" + std::to_string(i + 1), "eth0"};
        store.reserve(subnet_, gateway_, owner);
        store.release(owner);
    }
    done = true;
    reader.join();
    EXPECT_TRUE(bad.empty()) << "a reader saw the cursor as " << bad << " after " << reads
                             << " reads";
    EXPECT_GT(reads.load(), 0);
}

TEST_F(StoreTest, LeftoverCursorOfAKilledWriterIsRemoved) {
    Store store(dir_);
    store.reserve(subnet_, gateway_, {"c1", "eth0"});
    // A writer killed between writing the new cursor and renaming it into place.
    std::ofstream(dir_ / ".last_reserved_ip.v4.tmp") << "10.244.";
    EXPECT_EQ(store.reserve(subnet_, gateway_, {"c2", "eth0"}).to_string(), "10.244.3.3");
    EXPECT_EQ(files(),
              (std::set<std::string>{"10.244.3.2", "10.244.3.3", "last_reserved_ip.v4", "lock"}));
    // DEL and GC clean up after a killed writer too.
    std::ofstream(dir_ / ".last_reserved_ip.v4.tmp") << "10.";
    store.release({"c1", "eth0"});
    EXPECT_FALSE(fs::exists(dir_ / ".last_reserved_ip.v4.tmp"));
    std::ofstream(dir_ / ".last_reserved_ip.v6.tmp") << "fd";
    store.release_all_except({{"c2", "eth0"}});
    EXPECT_EQ(files(), (std::set<std::string>{"10.244.3.3", "last_reserved_ip.v4", "lock"}));
}

TEST_F(StoreTest, ListingCreatesAndRemovesNothing) {
    // twilld lists the plugin's store to count pod IPs; it must not create it ...
    Store absent(dir_);
    EXPECT_TRUE(absent.list().empty());
    EXPECT_FALSE(absent.find(net::Address::parse("10.244.3.2")));
    EXPECT_FALSE(fs::exists(root_ / "data"));
    // ... nor add a lock file or clean up the plugin's files.
    fs::create_directories(dir_);
    std::ofstream(dir_ / "10.244.3.2") << "c1\neth0\n";
    std::ofstream(dir_ / ".reserving") << "c2\n";
    std::ofstream(dir_ / ".last_reserved_ip.v4.tmp") << "10.";
    const auto before = files();
    Store store(dir_);
    const auto listed = store.list();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].owner, (Attachment{"c1", "eth0"}));
    ASSERT_TRUE(store.find(net::Address::parse("10.244.3.2")));
    EXPECT_EQ(store.find(net::Address::parse("10.244.3.2"))->owner, (Attachment{"c1", "eth0"}));
    EXPECT_EQ(files(), before);
}

}  // namespace
}  // namespace twill::ipam
