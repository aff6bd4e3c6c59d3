// The DaemonSet as operators run it: the image scripts/image builds, started by real containerd
// (Debian's 1.6) in two node namespaces exactly as the rendered manifests say (host network,
// privileged, mounts, environment, command; init containers first, then the containers in
// order, each one's postStart hook awaited, as the kubelet does), etcd with TLS in a namespace
// of its own. Pods started with `ctr run --cni` on both nodes reach each other; restarting the
// twilld container changes nothing in the kernel and pods keep working (with the userspace
// WireGuard overlay, wireguard-go lives in a container of its own and the encrypted path stays
// up while twilld is away). The install step keeps other plugins' files, a dangling symlink
// included, and records what it wrote.
//
// Each node's host filesystem is the machine's, with every hostPath the manifests name
// replaced by a directory of the node's own (<node>/host/<path>): containers get those bound
// at their mountPath, and `ctr run --cni` (which runs the plugins itself) sees them at their
// host paths in a private mount namespace.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "child_process.hpp"
#include "containerd_fixture.hpp"
#include "etcd_fixture.hpp"
#include "netns_topology.hpp"
#include "require_root.hpp"
#include "twill/error.hpp"
#include "twill/sys/file.hpp"

using namespace twill;
using namespace twill::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kPodImage = "docker.io/library/twill-busybox:latest";
constexpr const char* kNetwork = "10.42.0.0/16";  // K3s's cluster CIDR, as docs/install-k3s.md

std::string from_env(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : ".";
}
std::string build_dir() {
    return from_env("TWILL_BUILD_DIR");
}
std::string source_dir() {
    return from_env("TWILL_SOURCE_DIR");
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(100ms);
    }
    return condition();
}

std::string read(const fs::path& path) {
    return sys::read_file(path).value_or("");
}

// The rendered objects of one kustomization: the DaemonSet's pod and the ConfigMaps.
struct Rendered {
    json pod;                                // spec.template.spec
    std::map<std::string, json> configmaps;  // name -> data
    const json& container(const std::string& name) const {
        for (const auto& c : pod["containers"])
            if (c["name"] == name) return c;
        throw Error("the DaemonSet has no container " + name);
    }
    const json& volume(const std::string& name) const {
        for (const auto& v : pod["volumes"])
            if (v["name"] == name) return v;
        throw Error("the DaemonSet has no volume " + name);
    }
    std::string host_path(const std::string& volume_name) const {
        return volume(volume_name)["hostPath"]["path"];
    }
};

// nullopt when kubectl is missing (the test is then skipped).
std::optional<Rendered> render(const std::string& kustomization, const fs::path& work) {
    const auto out = work / (kustomization + ".json");
    auto r = run_command({"/usr/bin/python3", source_dir() + "/tests/deploy/render_manifests.py",
                          source_dir() + "/manifests/" + kustomization, out.string()},
                         {}, 120s);
    if (r.exit_code == 77) return std::nullopt;
    if (r.exit_code != 0) throw Error("rendering manifests/" + kustomization + ": " + r.output);
    Rendered rendered;
    for (const auto& object : json::parse(read(out))) {
        if (object["kind"] == "DaemonSet") rendered.pod = object["spec"]["template"]["spec"];
        if (object["kind"] == "ConfigMap") {
            rendered.configmaps[object["metadata"]["name"]] = object.value("data", json::object());
        }
    }
    if (rendered.pod.is_null()) throw Error("manifests/" + kustomization + " has no DaemonSet");
    return rendered;
}

// One node: a namespace on the fabric, its own host directories and its own containerd.
class Node {
  public:
    Node(NetnsTopology& topology, const std::string& name, const fs::path& work)
        : name_(name),
          netns_(topology.add_node(name).netns.path()),
          dir_(work / name),
          containerd_(netns_, dir_ / "containerd") {
        // A node has a default route; twilld takes its underlay interface from it (the
        // manifests name none). Nothing answers beyond the fabric, and nothing is sent there.
        auto r = run({"ip", "route", "add", "default", "dev", "eth0"});
        if (r.exit_code != 0) throw Error("default route on " + name + ": " + r.output);
    }

    const std::string& name() const { return name_; }
    const fs::path& netns() const { return netns_; }
    const fs::path& dir() const { return dir_; }
    Containerd& containerd() { return containerd_; }
    // The node's own copy of a host path.
    fs::path host(const std::string& path) const {
        return dir_ / "host" / fs::path(path).relative_path();
    }

    CommandResult run(const std::vector<std::string>& argv) {
        SpawnOptions spawn;
        spawn.netns = netns_;
        return run_command(argv, spawn, 60s);
    }

  private:
    std::string name_;
    fs::path netns_;
    fs::path dir_;
    Containerd containerd_;
};

// The kubelet's part, for one node: volumes made real, containers started as specified.
class Kubelet {
  public:
    Kubelet(const Rendered& manifests, Node& node, std::map<std::string, json> secrets,
            std::string image)
        : m_(manifests), node_(node), secrets_(std::move(secrets)), image_(std::move(image)) {}

    // Init containers to completion, then each container, awaiting its postStart hook.
    void start_pod() {
        run_init_containers();
        for (const auto& c : m_.pod["containers"]) start_container(c["name"]);
    }

    void run_init_containers() {
        for (const auto& c : m_.pod.value("initContainers", json::array())) {
            auto r = node_.containerd().run(arguments(c, false), {}, 120s);
            if (r.exit_code != 0) {
                throw Error("init container " + c["name"].get<std::string>() + " on " +
                            node_.name() + " failed: " + r.output);
            }
            init_output_ += r.output;
        }
    }

    void start_container(const std::string& name) {
        const auto& c = m_.container(name);
        auto r = node_.containerd().run(arguments(c, true));
        if (r.exit_code != 0)
            throw Error("container " + name + " on " + node_.name() + ": " + r.output);
        if (c.contains("lifecycle")) {
            const auto& hook = c["lifecycle"]["postStart"]["exec"]["command"];
            auto h = node_.containerd().exec(id(name), hook.get<std::vector<std::string>>());
            if (h.exit_code != 0) throw Error("postStart of " + name + " failed: " + h.output);
        }
    }

    // SIGTERM (as the kubelet stops a container), wait, delete.
    void stop_container(const std::string& name) { node_.containerd().remove(id(name), "SIGTERM"); }

    std::string id(const std::string& container) const { return node_.name() + "-" + container; }
    fs::path log_file(const std::string& container) const {
        return node_.dir() / "logs" / (id(container) + ".log");
    }
    // Every container's output so far, for a failed test's message.
    std::string logs() const {
        std::string out;
        for (const auto& c : m_.pod["containers"]) {
            out += "---- " + id(c["name"]) + "\n" + read(log_file(c["name"]));
        }
        return out + "---- init\n" + init_output_ + "---- last probe\n" + last_probe_ + "\n";
    }
    const std::string& init_output() const { return init_output_; }

    bool running(const std::string& container) {
        return node_.containerd().task_pid(id(container)) != 0;
    }

    // Polls the container's probe until it answers or the container has exited.
    bool becomes(const std::string& container, const std::string& probe_name) {
        return eventually([&] { return probe(container, probe_name) || !running(container); },
                          90s) &&
               probe(container, probe_name);
    }

    // The container's probe (httpGet on the host network) answers 2xx, as the kubelet asks it
    // (with python3: the wget of Debian 12's busybox-static crashes).
    bool probe(const std::string& container, const std::string& probe) {
        const auto& get = m_.container(container)[probe]["httpGet"];
        const std::string url = "http://127.0.0.1:" + std::to_string(get["port"].get<int>()) +
                                get["path"].get<std::string>();
        auto r = node_.run({"/usr/bin/python3", "-c",
                            "import sys, urllib.request; "
                            "urllib.request.urlopen(sys.argv[1], timeout=5)",
                            url});
        last_probe_ = url + ": " + r.output;
        return r.exit_code == 0;
    }

  private:
    std::vector<std::string> arguments(const json& c, bool detached) {
        static const std::set<std::string> modelled = {
            "name",     "image",         "imagePullPolicy", "command",
            "args",     "env",           "securityContext", "volumeMounts",
            "ports",    "livenessProbe", "readinessProbe",  "resources",
            "lifecycle"};
        for (const auto& [key, _] : c.items()) {
            if (!modelled.contains(key))
                throw Error("the test does not model container field " + key);
        }
        if (c["image"] != image_)
            throw Error("container " + c["name"].get<std::string>() + " runs image " +
                        c["image"].get<std::string>());
        std::vector<std::string> args{detached ? "-d" : "--rm"};
        if (detached) {
            fs::create_directories(node_.dir() / "logs");
            args.insert(args.end(), {"--log-uri", "file://" + log_file(c["name"]).string()});
        }
        if (m_.pod.value("hostNetwork", false)) args.push_back("--net-host");
        const auto security = c.value("securityContext", json::object());
        for (const auto& [key, value] : security.items()) {
            if (key != "privileged") throw Error("the test does not model securityContext." + key);
        }
        if (security.value("privileged", false)) args.push_back("--privileged");
        for (const auto& e : c.value("env", json::array())) {
            args.insert(args.end(), {"--env", e["name"].get<std::string>() + "=" + env_value(e)});
        }
        for (const auto& mount : c.value("volumeMounts", json::array())) {
            for (const auto& [key, _] : mount.items()) {
                if (key != "name" && key != "mountPath" && key != "readOnly") {
                    throw Error("the test does not model volumeMounts." + key);
                }
            }
            const auto source = volume_dir(mount["name"]);
            args.insert(args.end(),
                        {"--mount", "type=bind,src=" + source.string() + ",dst=" +
                                        mount["mountPath"].get<std::string>() + ",options=rbind:" +
                                        (mount.value("readOnly", false) ? "ro" : "rw")});
        }
        args.push_back(image_);
        args.push_back(id(c["name"]));
        if (!c.contains("command"))
            throw Error("the test does not model a container without command");
        for (const auto& word : c["command"]) args.push_back(word);
        for (const auto& word : c.value("args", json::array())) args.push_back(word);
        return args;
    }

    std::string env_value(const json& e) {
        if (e.contains("value")) return e["value"];
        const auto& from = e["valueFrom"];
        if (from.contains("fieldRef")) {
            if (from["fieldRef"]["fieldPath"] != "spec.nodeName")
                throw Error("fieldRef not modelled");
            return node_.name();
        }
        if (from.contains("secretKeyRef")) {
            return secrets_.at(from["secretKeyRef"]["name"]).at(from["secretKeyRef"]["key"]);
        }
        throw Error("the test does not model env " + e.dump());
    }

    // hostPath: the node's own copy; configMap and secret: files made from the data.
    fs::path volume_dir(const std::string& name) {
        const auto& v = m_.volume(name);
        if (v.contains("hostPath")) {
            const auto dir = node_.host(v["hostPath"]["path"]);
            if (v["hostPath"].value("type", "") != "DirectoryOrCreate")
                throw Error("hostPath type not modelled");
            fs::create_directories(dir);
            return dir;
        }
        json data;
        json items;
        int mode = 0644;
        if (v.contains("configMap")) {
            data = m_.configmaps.at(v["configMap"]["name"]);
            items = v["configMap"].value("items", json::array());
        } else if (v.contains("secret")) {
            data = secrets_.at(v["secret"]["secretName"]);
            items = v["secret"].value("items", json::array());
            mode = v["secret"].value("defaultMode", 0644);
        } else {
            throw Error("the test does not model volume " + v.dump());
        }
        const auto dir = node_.dir() / "volumes" / name;
        fs::remove_all(dir);
        fs::create_directories(dir);
        if (items.empty()) {
            for (const auto& [key, _] : data.items())
                items.push_back({{"key", key}, {"path", key}});
        }
        for (const auto& item : items) {
            const auto file = dir / item["path"].get<std::string>();
            sys::write_file_atomic(file, data.at(item["key"].get<std::string>()).get<std::string>(),
                                   static_cast<mode_t>(mode));
        }
        return dir;
    }

    const Rendered& m_;
    Node& node_;
    std::map<std::string, json> secrets_;
    std::string image_;
    std::string init_output_;
    std::string last_probe_;
};

// What twill may own in a node's kernel and what anyone could see changing: links, routes,
// permanent neighbours and static FDB entries (learned ones age by themselves, as bridge
// timers run).
std::string kernel_state(Node& node) {
    std::string state;
    for (const auto& argv :
         std::vector<std::vector<std::string>>{{"ip", "-d", "link", "show"},
                                               {"ip", "-d", "route", "show", "table", "all"},
                                               {"ip", "-d", "-6", "route", "show", "table", "all"},
                                               {"ip", "-d", "neigh", "show", "nud", "permanent"},
                                               {"bridge", "fdb", "show"}}) {
        auto r = node.run(argv);
        state += "$";
        for (const auto& w : argv) state += " " + w;
        state += "\n";
        std::istringstream lines(r.output);
        for (std::string line; std::getline(lines, line);) {
            if (argv[0] == "bridge" && line.find("permanent") == std::string::npos &&
                line.find("static") == std::string::npos)
                continue;
            // A bridge's running timers (hello, tcn, gc, hold, ...) are the kernel's clock.
            state += std::regex_replace(line, std::regex(R"((\w*timer)\s+[0-9.]+)"), "$1") + "\n";
        }
    }
    return state;
}

// The address the plugin gave the pod. An exec whose output ctr lost (seen once, on a loaded
// CI machine: exit status and output both empty) is asked again; only a pod that never shows
// an address fails.
std::string pod_ip(Node& node, const std::string& pod) {
    CommandResult r;
    std::smatch match;
    const std::regex inet(R"(inet (\d+\.\d+\.\d+\.\d+)/)");
    if (!eventually(
            [&] {
                r = node.containerd().exec(
                    pod, {"/bin/busybox", "ip", "-4", "-o", "addr", "show", "eth0"});
                return std::regex_search(r.output, match, inet);
            },
            10s)) {
        throw Error("no IPv4 address in pod " + pod + " (exit " + std::to_string(r.exit_code) +
                    "): " + r.output + "\n" +
                    node.containerd().exec(pod, {"/bin/busybox", "ip", "addr"}).output);
    }
    return match[1];
}

bool pings(Node& node, const std::string& pod, const std::string& ip) {
    return node.containerd()
               .exec(pod, {"/bin/busybox", "ping", "-c", "1", "-W", "2", ip})
               .exit_code == 0;
}

struct Scenario {
    std::string kustomization;
    std::string backend;  // the Backend of <prefix>/config
};

void PrintTo(const Scenario& scenario, std::ostream* out) {
    *out << scenario.kustomization;
}

class Deploy : public ::testing::TestWithParam<Scenario> {
  protected:
    static void SetUpTestSuite() {
        work_ = fs::temp_directory_path() / ("twill-deploy-" + std::to_string(::getpid()));
        fs::create_directories(work_);
    }
    static void TearDownTestSuite() {
        std::error_code ec;
        fs::remove_all(work_, ec);
    }
    static fs::path work_;
};
fs::path Deploy::work_;

// Built once per run from this build tree's programs, with the name the manifests use.
fs::path image_archive(const fs::path& work, const std::string& name) {
    const auto archive = work / (name.substr(name.rfind('/') + 1) + ".tar");
    if (fs::exists(archive)) return archive;
    auto r = run_command(
        {"/usr/bin/python3", source_dir() + "/scripts/image", "--build-dir", build_dir(),
         "--output", archive.string(), "--name", name, "--compress-level", "1"},
        {}, 300s);
    if (r.exit_code != 0) throw Error("scripts/image: " + r.output);
    std::cout << r.output;
    return archive;
}

TEST_P(Deploy, PodsOnTwoNodesReachEachOtherAndSurviveATwilldRestart) {
    TWILL_REQUIRE_ROOT();
    const auto& scenario = GetParam();
    const auto rendered = render(scenario.kustomization, work_);
    if (!rendered) GTEST_SKIP() << "kubectl is not installed: it renders the manifests";
    const auto& m = *rendered;
    const std::string image = m.container("twilld")["image"];
    const auto twill_image = image_archive(work_, image);
    const auto pod_image = work_ / "busybox.tar";
    if (!fs::exists(pod_image)) {
        auto r = run_command({"/usr/bin/python3",
                              source_dir() + "/tests/containerd/make_busybox_image.py",
                              pod_image.string()});
        ASSERT_EQ(r.exit_code, 0) << r.output;
    }

    // Host paths `ctr run --cni` reads, bound to the node's own in its private mount namespace:
    // the CNI dirs (K3s's containerd reads the ones the DaemonSet's cni-* volumes name) and the
    // plugin's runDir and dataDir (hostPaths twilld mounts at the same path).
    const auto& twilld = m.container("twilld");
    std::vector<std::string> shared_paths;
    for (const auto& mount : twilld["volumeMounts"]) {
        const auto& volume = m.volume(mount["name"]);
        if (volume.contains("hostPath") && volume["hostPath"]["path"] == mount["mountPath"]) {
            shared_paths.push_back(mount["mountPath"]);
        }
    }
    // ctr keeps CNI results in /var/lib/cni/results (no DEL runs for its pods): the node's own.
    HostMountPoints mount_points({"/etc/cni/net.d", "/opt/cni/bin", "/var/lib/cni/results"});
    HostMountPoints shared_mount_points({shared_paths.begin(), shared_paths.end()});

    const auto work = work_ / scenario.kustomization;
    fs::create_directories(work);
    NetnsTopology topology;
    const auto& etcd_host = topology.add_node("etcd");
    auto etcd_options = etcd_on(etcd_host);
    etcd_options.tls = true;
    EtcdServer etcd(etcd_options);
    std::string prefix = "/twill/network";
    for (const auto& e : twilld["env"]) {
        if (e["name"] == "TWILL_ETCD_PREFIX") prefix = e["value"];
    }
    etcd.etcdctl({"put", prefix + "/config",
                  std::string(R"({"Network":")") + kNetwork + R"(","SubnetLen":24,"Backend":)" +
                      scenario.backend + "}"});

    // The Secret docs/install-k3s.md has the operator create, from this etcd's files.
    const auto& tls = *etcd.tls_files();
    std::map<std::string, json> secrets;
    secrets["twill-etcd"] = {{"endpoints", etcd.endpoint()},
                             {"ca.crt", read(tls.ca_file)},
                             {"client.crt", read(tls.client_cert)},
                             {"client.key", read(tls.client_key)}};

    std::map<std::string, std::unique_ptr<Node>> nodes;
    std::map<std::string, std::unique_ptr<Kubelet>> kubelets;
    for (const std::string n : {"a", "b"}) {
        nodes[n] = std::make_unique<Node>(topology, n, work);
        nodes[n]->containerd().import(twill_image);
        nodes[n]->containerd().import(pod_image);
        kubelets[n] = std::make_unique<Kubelet>(m, *nodes[n], secrets, image);
    }
    auto& a = *nodes["a"];
    auto& b = *nodes["b"];

    // The image's programs run from its own root filesystem (libraries, loader).
    const auto version =
        a.containerd().run({"--rm", image, "version", "/usr/local/bin/twilld", "--version"});
    EXPECT_EQ(version.exit_code, 0) << version.output;
    const auto host_version = run_command({build_dir() + "/bin/twilld", "--version"});
    EXPECT_FALSE(host_version.output.empty());
    EXPECT_EQ(version.output, host_version.output);

    // Node a is K3s-like: portmap is an absolute symlink into K3s's data dir, which does not
    // resolve inside the init container; another plugin's binary and config are there too.
    const auto bin_dir = a.host(m.host_path("cni-bin"));
    const auto conf_dir = a.host(m.host_path("cni-conf"));
    fs::create_directories(bin_dir);
    fs::create_directories(conf_dir);
    fs::create_directories(a.dir() / "k3s-data" / "bin");
    fs::copy_file("/usr/lib/cni/portmap", a.dir() / "k3s-data" / "bin" / "cni");
    const auto k3s_portmap = (a.dir() / "k3s-data" / "bin" / "cni").string();
    fs::create_symlink(k3s_portmap, bin_dir / "portmap");
    fs::create_symlink("/usr/lib/cni/loopback", bin_dir / "loopback");
    // (After twill's in name order: the runtime uses the first config.)
    const std::string other_conflist =
        R"({"cniVersion":"1.0.0","name":"other","plugins":[{"type":"loopback"}]})";
    sys::write_file_atomic(conf_dir / "90-other.conflist", other_conflist, 0644);
    // Node b's bin dir has no portmap (the image's is installed), only the loopback plugin
    // containerd itself runs for every pod.
    fs::create_directories(b.host(m.host_path("cni-bin")));
    fs::create_symlink("/usr/lib/cni/loopback", b.host(m.host_path("cni-bin")) / "loopback");

    try {
        for (const std::string n : {"a", "b"}) kubelets[n]->start_pod();
    } catch (const std::exception& e) {
        FAIL() << e.what() << "\n" << a.containerd().log();
    }

    // The install step: twill's files only, the foreign ones untouched, all recorded.
    const auto link_target = [](const fs::path& path) {
        std::error_code ec;
        auto target = fs::read_symlink(path, ec);
        return ec ? "(not a symlink any more)" : target.string();
    };
    EXPECT_EQ(link_target(bin_dir / "portmap"), k3s_portmap) << "K3s's portmap was replaced";
    EXPECT_EQ(link_target(bin_dir / "loopback"), "/usr/lib/cni/loopback");
    EXPECT_EQ(read(conf_dir / "90-other.conflist"), other_conflist);
    // The image's plugin (stripped of debug info): it answers VERSION.
    auto plugin_version = run_command({"sh", "-c",
                                       "echo '{\"cniVersion\":\"1.0.0\"}' | CNI_COMMAND=VERSION " +
                                           (bin_dir / "twill").string()});
    EXPECT_NE(plugin_version.output.find("supportedVersions"), std::string::npos)
        << plugin_version.output;
    const auto state_dir = m.host_path("state");
    EXPECT_EQ(read(a.host(state_dir) / "cni-installed"), "bin twill\nconf 10-twill.conflist\n")
        << kubelets["a"]->init_output();
    EXPECT_EQ(read(b.host(state_dir) / "cni-installed"),
              "bin twill\nbin portmap\nconf 10-twill.conflist\n");
    // (Large files: compared as a whole, never printed.)
    EXPECT_TRUE(read(b.host(m.host_path("cni-bin")) / "portmap") == read("/usr/lib/cni/portmap"))
        << "node b's portmap is not the image's";
    EXPECT_EQ(json::parse(read(b.host(m.host_path("cni-conf")) / "10-twill.conflist")),
              json::parse(m.configmaps.at("twill-config")["10-twill.conflist"].get<std::string>()));
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(bin_dir)) names.insert(entry.path().filename());
    EXPECT_EQ(names, (std::set<std::string>{"loopback", "portmap", "twill"}));

    for (const std::string n : {"a", "b"}) {
        ASSERT_TRUE(kubelets[n]->becomes("twilld", "readinessProbe"))
            << "twilld on " << n << " never ready\n"
            << kubelets[n]->logs()
            << nodes[n]
                   ->run({build_dir() + "/bin/netctl", "--run-dir",
                          nodes[n]->host(m.host_path("run")).string(), "status"})
                   .output;
        EXPECT_TRUE(kubelets[n]->probe("twilld", "livenessProbe"));
    }

    // Pods through the installed conflist and plugins, as K3s's containerd runs them.
    std::map<std::string, std::string> ips;
    for (const std::string n : {"a", "b"}) {
        auto& node = *nodes[n];
        std::vector<std::pair<std::string, std::string>> binds{
            {node.host(m.host_path("cni-conf")).string(), "/etc/cni/net.d"},
            {node.host(m.host_path("cni-bin")).string(), "/opt/cni/bin"}};
        for (const auto& path : shared_paths) binds.emplace_back(node.host(path).string(), path);
        fs::create_directories(node.dir() / "cni-results");
        binds.emplace_back((node.dir() / "cni-results").string(), "/var/lib/cni/results");
        auto r = node.containerd().run({"-d", "--cni", kPodImage, "pod-" + n}, binds);
        ASSERT_EQ(r.exit_code, 0) << r.output;
        ips[n] = pod_ip(node, "pod-" + n);
    }
    const auto both_ways = [&] {
        return eventually([&] { return pings(a, "pod-a", ips["b"]); }, 30s) &&
               eventually([&] { return pings(b, "pod-b", ips["a"]); }, 30s);
    };
    ASSERT_TRUE(both_ways()) << "pods " << ips["a"] << " and " << ips["b"]
                             << " do not reach each other";

    const auto netctl_check = [&](Node& node) {
        return node.run({build_dir() + "/bin/netctl", "--run-dir",
                         node.host(m.host_path("run")).string(), "check"});
    };
    ASSERT_TRUE(eventually([&] { return netctl_check(a).exit_code == 0; }, 30s))
        << netctl_check(a).output;
    // Once the kernel's own follow-ups of the new pod (IPv6 link-local address, its route)
    // are done, nothing changes by itself any more.
    std::string before;
    ASSERT_TRUE(eventually(
        [&] {
            before = kernel_state(a);
            std::this_thread::sleep_for(2s);
            return kernel_state(a) == before;
        },
        60s))
        << "node a's kernel state does not settle";
    const bool separate_wireguard_go = m.pod["containers"].size() > 1;
    const pid_t wireguard_go =
        separate_wireguard_go ? a.containerd().task_pid(kubelets["a"]->id("wireguard-go")) : 0;

    // twilld's container restarts: the data plane (and wireguard-go) outlives it.
    kubelets["a"]->stop_container("twilld");
    EXPECT_TRUE(eventually([&] { return pings(b, "pod-b", ips["a"]); }, 10s))
        << "the pod path broke while twilld was stopped";
    EXPECT_EQ(kernel_state(a), before) << "stopping twilld changed the kernel";
    kubelets["a"]->start_container("twilld");
    ASSERT_TRUE(kubelets["a"]->becomes("twilld", "readinessProbe"));
    EXPECT_TRUE(eventually([&] { return netctl_check(a).exit_code == 0; }, 30s))
        << netctl_check(a).output;
    EXPECT_EQ(kernel_state(a), before) << "the restarted twilld changed the kernel";
    if (separate_wireguard_go) {
        EXPECT_EQ(a.containerd().task_pid(kubelets["a"]->id("wireguard-go")), wireguard_go);
        EXPECT_FALSE(fs::exists(a.host(m.host_path("run")) / "wireguard" / "twill-wg.pid"))
            << "twilld started a wireguard-go of its own";
    }
    EXPECT_TRUE(both_ways()) << "pods lost each other after the restart";

    // The install step run again (a new pod on the node) still owns what it wrote before.
    ASSERT_NO_THROW(kubelets["b"]->run_init_containers());
    EXPECT_EQ(read(b.host(state_dir) / "cni-installed"),
              "bin twill\nbin portmap\nconf 10-twill.conflist\n");
}

INSTANTIATE_TEST_SUITE_P(
    Manifests, Deploy,
    ::testing::Values(
        Scenario{"k3s", R"({"Type":"vxlan","VNI":1,"Port":8472})"},
        Scenario{"k3s-wireguard-userspace",
                 R"({"Type":"wireguard","ListenPort":51820,"PersistentKeepaliveInterval":25})"}),
    [](const auto& info) {
        return info.param.kustomization == "k3s" ? std::string("K3sVxlan")
                                                 : std::string("K3sWireguardUserspace");
    });

}  // namespace
