#include "invocation.hpp"

namespace twill::plugin {

cni::NodeSubnet require_node_subnet(const Invocation& invocation, cni::ErrorCode if_absent) {
    const auto path = invocation.config.run_dir / cni::node_subnet_file_name;
    std::optional<cni::NodeSubnet> subnet;
    try {
        subnet = cni::read_node_subnet(invocation.config.run_dir);
    } catch (const ParseError& e) {
        throw cni::CniError(if_absent,
                            std::string("twilld's node subnet is unusable: ") + e.what());
    } catch (const SystemError& e) {
        throw cni::CniError(if_absent,
                            std::string("twilld's node subnet cannot be read: ") + e.what());
    }
    if (!subnet) {
        throw cni::CniError(if_absent, "twilld is not ready: " + path.string() + " does not exist",
                            "runDir is " + invocation.config.run_dir.string());
    }
    return *subnet;
}

}  // namespace twill::plugin
