#pragma once
// Runs the built plugin ($TWILL_BUILD_DIR/bin/twill) the way containerd does (CNI_* in the
// environment, the config on stdin) inside a node namespace of a NetnsTopology that holds
// bridge twill0 with the gateway address, and a run dir with subnet.json (IPv4-only, or
// dual-stack after make_dual_stack()).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "netns_topology.hpp"
#include "twill/cni/node_subnet.hpp"

namespace twill::testing {

struct PluginOutcome {
    int exit_code = -1;
    std::string output;
    nlohmann::json json;  // the output parsed; null when it is not JSON
};

class CniNode {
  public:
    // Names the built plugin in `plugin` ("twill"), found in $TWILL_BUILD_DIR/bin.
    CniNode();
    ~CniNode();

    NetnsTopology topology;
    const NetnsTopology::Node& node;
    std::filesystem::path dir;       // temporary, removed by the destructor
    std::filesystem::path run_dir;   // dir/run: subnet.json
    std::filesystem::path data_dir;  // dir/data: IPAM, <data_dir>/twill/<ip>
    cni::NodeSubnet subnet;          // 10.244.3.0/24, gateway .1 on twill0, MTU 1450
    static std::filesystem::path plugin_path();

    void write_subnet();
    // Adds the IPv6 half (fd00:10:244::/48, subnet fd00:10:244:3::/64, gateway ::1) to
    // subnet.json, and the gateway to twill0 without DAD so that pods reach it at once.
    void make_dual_stack();
    void remove_subnet();
    const netlink::OwnedNetns& add_pod(std::string_view name) {
        return topology.add_namespace(name);
    }

    // {"cniVersion":version,"name":"twill","type":"twill","runDir":…,"dataDir":…} + extra.
    nlohmann::json config(std::string_view version,
                          const nlohmann::json& extra = nlohmann::json::object()) const;
    static std::vector<std::string> attachment_env(std::string_view command,
                                                   std::string_view container_id,
                                                   const std::filesystem::path& netns,
                                                   std::string_view ifname = "eth0");

    // Runs a plugin (twill by default, or a reference plugin from /usr/lib/cni) to completion.
    PluginOutcome run(const std::vector<std::string>& env, const std::string& config,
                      const std::filesystem::path& program = plugin_path());
    PluginOutcome run(const std::vector<std::string>& env, const nlohmann::json& config,
                      const std::filesystem::path& program = plugin_path()) {
        return run(env, config.dump(), program);
    }
    // Starts the plugin without waiting; stdout and stderr go to `output`.
    ChildProcess start(const std::vector<std::string>& env, const std::string& config,
                       const std::filesystem::path& output);

    // IP-named files under <data_dir>/twill, and every file there.
    std::set<std::string> reservations() const;
    std::set<std::string> store_files() const;
    // veth links in the node namespace whose name starts with "tw" (host ends).
    std::set<std::string> host_veths() const;

  private:
    std::filesystem::path write_config(const std::string& config);
    int counter_ = 0;
};

}  // namespace twill::testing
