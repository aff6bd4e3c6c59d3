#include "plugin_harness.hpp"

#include <stdlib.h>

#include <cstdlib>
#include <fstream>

#include "twill/error.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/sys/file.hpp"

namespace twill::testing {

namespace {
std::filesystem::path make_temp_dir() {
    char dir_template[] = "/tmp/twill-cni-XXXXXX";
    if (!::mkdtemp(dir_template)) throw_errno("create temporary directory");
    return dir_template;
}
}  // namespace

std::filesystem::path CniNode::plugin_path() {
    const char* build = std::getenv("TWILL_BUILD_DIR");
    return std::filesystem::path(build ? build : "build") / "bin" / "twill";
}

CniNode::CniNode()
    : node(topology.add_node("node")),
      dir(make_temp_dir()),
      run_dir(dir / "run"),
      data_dir(dir / "data"),
      subnet{net::Prefix::parse("10.244.0.0/16"), net::Prefix::parse("10.244.3.0/24"),
             net::Address::parse("10.244.3.1"), "twill0", 1450} {
    sys::make_directories(run_dir);
    netlink::Handle handle(node.netns);
    netlink::BridgeSpec bridge;
    bridge.name = subnet.bridge;
    const auto link = handle.create_bridge(bridge);
    handle.add_address(link.index, net::Prefix(subnet.gateway, subnet.subnet.length()));
    handle.set_link_up(link.index);
    write_subnet();
}

CniNode::~CniNode() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
}

void CniNode::write_subnet() {
    cni::write_node_subnet(run_dir, subnet);
}
void CniNode::make_dual_stack() {
    subnet.ipv6 = cni::FamilySubnet{net::Prefix::parse("fd00:10:244::/48"),
                                    net::Prefix::parse("fd00:10:244:3::/64"),
                                    net::Address::parse("fd00:10:244:3::1")};
    netlink::Handle handle(node.netns);
    handle.add_address(handle.get_link(subnet.bridge).index,
                       net::Prefix(subnet.ipv6->gateway, subnet.ipv6->subnet.length()),
                       {.no_dad = true});
    write_subnet();
}
void CniNode::remove_subnet() {
    std::filesystem::remove(run_dir / cni::node_subnet_file_name);
}

nlohmann::json CniNode::config(std::string_view version, const nlohmann::json& extra) const {
    nlohmann::json config{{"cniVersion", version},
                          {"name", "twill"},
                          {"type", "twill"},
                          {"runDir", run_dir.string()},
                          {"dataDir", data_dir.string()}};
    config.update(extra);
    return config;
}

std::vector<std::string> CniNode::attachment_env(std::string_view command,
                                                 std::string_view container_id,
                                                 const std::filesystem::path& netns,
                                                 std::string_view ifname) {
    std::vector<std::string> env{"CNI_COMMAND=" + std::string(command),
                                 "CNI_CONTAINERID=" + std::string(container_id),
                                 "CNI_IFNAME=" + std::string(ifname), "CNI_PATH=/usr/lib/cni"};
    if (!netns.empty()) env.push_back("CNI_NETNS=" + netns.string());
    return env;
}

std::filesystem::path CniNode::write_config(const std::string& config) {
    const auto path = dir / ("config-" + std::to_string(counter_++) + ".json");
    std::ofstream(path) << config;
    return path;
}

PluginOutcome CniNode::run(const std::vector<std::string>& env, const std::string& config,
                           const std::filesystem::path& program) {
    const auto config_path = write_config(config);
    SpawnOptions options{.netns = node.netns.path(), .env = env, .log_file = std::nullopt};
    // The plugin reads its config from stdin, which run_command does not feed: let a shell
    // redirect it and then become the plugin.
    const auto result = run_command(
        {"/bin/sh", "-c", "exec \"$0\" < \"$1\"", program.string(), config_path.string()}, options);
    PluginOutcome outcome{result.exit_code, result.output, nullptr};
    outcome.json = nlohmann::json::parse(result.output, nullptr, false);
    if (outcome.json.is_discarded()) outcome.json = nullptr;
    return outcome;
}

ChildProcess CniNode::start(const std::vector<std::string>& env, const std::string& config,
                            const std::filesystem::path& output) {
    const auto config_path = write_config(config);
    SpawnOptions options{.netns = node.netns.path(), .env = env, .log_file = output};
    return ChildProcess(
        {"/bin/sh", "-c", "exec \"$0\" < \"$1\"", plugin_path().string(), config_path.string()},
        options);
}

std::set<std::string> CniNode::store_files() const {
    std::set<std::string> names;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(data_dir / "twill", error)) {
        names.insert(entry.path().filename().string());
    }
    return names;
}

std::set<std::string> CniNode::reservations() const {
    std::set<std::string> names;
    for (const auto& name : store_files()) {
        if (net::Address::try_parse(name)) names.insert(name);
    }
    return names;
}

std::set<std::string> CniNode::host_veths() const {
    netlink::Handle handle(node.netns);
    std::set<std::string> names;
    for (const auto& link : handle.list_links()) {
        if (link.kind == "veth" && link.name.starts_with("tw")) names.insert(link.name);
    }
    return names;
}

}  // namespace twill::testing
