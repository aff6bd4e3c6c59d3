// The etcd fixture inside a network namespace, as the daemon tests use it (etcd on the
// fabric). Needs root for the namespace, so it lives in its own binary.
#include <gtest/gtest.h>
#include <unistd.h>

#include "etcd_fixture.hpp"
#include "require_root.hpp"

namespace twill::kv {
namespace {

using twill::testing::run_command;

// A namespace with loopback up, removed on destruction (on failure too).
class ScratchNetns {
  public:
    ScratchNetns() : name_("twkv" + std::to_string(::getpid())) {
        auto added = run_command({"ip", "netns", "add", name_});
        if (added.exit_code != 0) throw Error("ip netns add " + name_ + ": " + added.output);
        run_command({"ip", "-n", name_, "link", "set", "lo", "up"});
    }
    ~ScratchNetns() { run_command({"ip", "netns", "del", name_}); }
    std::filesystem::path path() const { return "/var/run/netns/" + name_; }

  private:
    std::string name_;
};

TEST(EtcdInNetns, ServesInsideTheNamespaceAndSurvivesRestart) {
    TWILL_REQUIRE_ROOT();
    ScratchNetns netns;
    twill::testing::EtcdServer etcd(
        {.tls = true, .netns = netns.path(), .listen_address = "127.0.0.1"});
    etcd.etcdctl({"put", "/netns/a", "1"});
    const auto revision = etcd.current_revision();
    EXPECT_GE(revision, 2);

    // Not reachable from the test's own namespace: it really runs in the other one.
    auto outside = run_command({"etcdctl", "--endpoints", etcd.endpoint(), "--dial-timeout=500ms",
                                "--command-timeout=1s", "get", "/netns/a"});
    EXPECT_NE(outside.exit_code, 0) << outside.output;

    etcd.kill();
    etcd.start();
    EXPECT_NE(etcd.etcdctl({"get", "/netns/a"}).find("1"), std::string::npos);
    EXPECT_EQ(etcd.current_revision(), revision);
    etcd.compact(revision);
}

}  // namespace
}  // namespace twill::kv
