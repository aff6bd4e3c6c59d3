// The limited etcd identity of docs/install-k3s.md, tested: etcd with client-certificate
// authentication (the certificate's CN is the user), auth enabled, user "twill" with a role
// that covers only twill's prefix. twilld with that certificate takes its lease and becomes
// ready; the same certificate cannot write outside the prefix.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "child_process.hpp"
#include "etcd_fixture.hpp"
#include "netns_topology.hpp"
#include "require_root.hpp"
#include "twill/cni/node_subnet.hpp"
#include "twill/sys/file.hpp"

using namespace twill;
using namespace twill::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr const char* kRolePrefix = "/twill/network/";

std::string binary(const char* name) {
    const char* build = std::getenv("TWILL_BUILD_DIR");
    return std::string(build ? build : ".") + "/bin/" + name;
}

void must(const std::vector<std::string>& argv) {
    const auto result = run_command(argv);
    ASSERT_EQ(result.exit_code, 0) << argv[0] << " " << argv[1] << ": " << result.output;
}

TEST(TwilldEtcdRole, ACertificateUserLimitedToThePrefixRunsTwilldAndNothingElse) {
    TWILL_REQUIRE_ROOT();
    NetnsTopology topology;
    const auto& etcd_node = topology.add_node("etcd");
    const auto& node = topology.add_node("n1");
    auto options = etcd_on(etcd_node);
    options.tls = true;
    EtcdServer etcd(options);
    const auto& tls = *etcd.tls_files();
    const auto work = fs::temp_directory_path() / (topology.prefix() + "etcd-role");
    fs::create_directories(work);
    struct Cleanup {
        fs::path dir;
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(dir, ec);
        }
    } cleanup{work};

    // The certificate an operator issues for twill: CN=twill, signed by etcd's client CA.
    const auto key = work / "twill.key", csr = work / "twill.csr", cert = work / "twill.crt";
    const auto ext = work / "client.ext";
    sys::write_file_atomic(ext, "extendedKeyUsage=clientAuth\n");
    must({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes", "-subj", "/CN=twill", "-keyout", key.string(), "-out", csr.string()});
    must({"openssl", "x509", "-req", "-in", csr.string(), "-CA", tls.ca_file.string(), "-CAkey",
          (tls.ca_file.parent_path() / "ca.key").string(), "-set_serial", "0x1234", "-days", "2",
          "-extfile", ext.string(), "-out", cert.string()});

    // The commands of docs/install-k3s.md, as the administrator (the fixture's own
    // certificate, CN twill-client, which becomes a root user like K3s's own).
    etcd.etcdctl({"role", "add", "twill"});
    etcd.etcdctl({"role", "grant-permission", "twill", "--prefix=true", "readwrite", kRolePrefix});
    etcd.etcdctl({"user", "add", "twill", "--no-password"});
    etcd.etcdctl({"user", "grant-role", "twill", "twill"});
    etcd.etcdctl({"user", "add", "root", "--no-password"});
    etcd.etcdctl({"user", "grant-role", "root", "root"});
    etcd.etcdctl({"user", "add", "twill-client", "--no-password"});
    etcd.etcdctl({"user", "grant-role", "twill-client", "root"});
    etcd.etcdctl({"auth", "enable"});
    etcd.etcdctl({"put", "/twill/network/config",
                  R"({"Network":"10.244.0.0/16","SubnetLen":24,"Backend":{"Type":"vxlan"}})"});

    const std::string endpoint = "https://" + etcd_node.address().to_string() + ":2379";
    auto as_twill = [&](std::vector<std::string> args) {
        std::vector<std::string> argv{
            "etcdctl", "--endpoints", endpoint, "--cacert",  tls.ca_file.string(),
            "--cert",  cert.string(), "--key",  key.string()};
        argv.insert(argv.end(), args.begin(), args.end());
        SpawnOptions spawn;
        spawn.netns = node.netns.path();
        spawn.env = {"ETCDCTL_API=3"};
        return run_command(argv, spawn, 20s);
    };
    // Outside the prefix: refused, reading as well as writing.
    auto outside = as_twill({"put", "/registry/secrets/kube-system/x", "stolen"});
    EXPECT_NE(outside.exit_code, 0) << outside.output;
    EXPECT_NE(outside.output.find("permission denied"), std::string::npos) << outside.output;
    outside = as_twill({"get", "/registry/", "--prefix"});
    EXPECT_NE(outside.exit_code, 0) << outside.output;
    outside = as_twill({"put", "/twill/other", "x"});  // next to the prefix, not under it
    EXPECT_NE(outside.exit_code, 0) << outside.output;
    EXPECT_EQ(etcd.etcdctl({"get", "/registry/secrets/kube-system/x", "--print-value-only"}), "");

    // twilld with that identity: lease taken, devices programmed, subnet.json written.
    const auto run_dir = work / "run", state_dir = work / "state";
    SpawnOptions spawn;
    spawn.netns = node.netns.path();
    spawn.log_file = work / "twilld.log";
    ChildProcess twilld({binary("twilld"),
                         "--etcd-endpoints",
                         endpoint,
                         "--etcd-cafile",
                         tls.ca_file.string(),
                         "--etcd-certfile",
                         cert.string(),
                         "--etcd-keyfile",
                         key.string(),
                         "--node-name",
                         "n1",
                         "--run-dir",
                         run_dir.string(),
                         "--state-dir",
                         state_dir.string(),
                         "--cni-data-dir",
                         (work / "cni").string(),
                         "--metrics-addr",
                         "",
                         "--iface",
                         node.underlay_device},
                        spawn);
    std::optional<cni::NodeSubnet> subnet;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!subnet && twilld.running() && std::chrono::steady_clock::now() < deadline) {
        subnet = cni::read_node_subnet(run_dir);
        std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(subnet) << sys::read_file(work / "twilld.log").value_or("(no log)");
    const auto leases = etcd.etcdctl({"get", "/twill/network/subnets/", "--prefix", "--keys-only"});
    EXPECT_NE(leases.find("/twill/network/subnets/10.244."), std::string::npos) << leases;
    const auto log = sys::read_file(work / "twilld.log").value_or("");
    EXPECT_EQ(log.find("permission denied"), std::string::npos) << log;

    // netctl leave revokes the lease: the role must allow that too (revoke needs write on
    // every key attached).
    SpawnOptions in_node;
    in_node.netns = node.netns.path();
    const auto leave =
        run_command({binary("netctl"), "--run-dir", run_dir.string(), "leave"}, in_node, 30s);
    EXPECT_EQ(leave.exit_code, 0) << leave.output;
    EXPECT_EQ(etcd.etcdctl({"get", "/twill/network/subnets/", "--prefix", "--keys-only"}), "");
    twilld.stop(SIGTERM, 20s);
    // What leave leaves in the node namespace goes with the namespace.
}

}  // namespace
