#include "twill/subnet/state_file.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "json_fields.hpp"
#include "twill/error.hpp"
#include "twill/sys/file.hpp"

namespace twill::subnet {

std::filesystem::path lease_state_path(const std::filesystem::path& state_dir) {
    return state_dir / "lease.json";
}

std::optional<RememberedLease> load_remembered_lease(const std::filesystem::path& state_dir) {
    const auto path = lease_state_path(state_dir);
    const auto text = sys::read_file(path);
    if (!text) return std::nullopt;
    try {
        const auto object = detail::parse_object(*text, path.string());
        RememberedLease lease;
        lease.node = detail::optional_string(object, "node", "node").value_or("");
        auto subnet = detail::optional_string(object, "subnet", "subnet");
        if (!subnet) throw ParseError("subnet", "missing");
        lease.subnet = net::Prefix::parse(*subnet, "subnet");
        lease.etcd_lease =
            detail::optional_integer(object, "etcdLease", "etcdLease", 0, INT64_MAX).value_or(0);
        if (auto v6 = detail::optional_string(object, "ipv6Subnet", "ipv6Subnet")) {
            lease.ipv6_subnet = net::Prefix::parse(*v6, "ipv6Subnet");
        }
        return lease;
    } catch (const ParseError& e) {
        spdlog::warn("ignoring {}: {}", path.string(), e.what());
        return std::nullopt;
    }
}

void save_remembered_lease(const std::filesystem::path& state_dir, const RememberedLease& lease) {
    sys::make_directories(state_dir);
    nlohmann::json object{{"node", lease.node},
                          {"subnet", lease.subnet.to_string()},
                          {"etcdLease", lease.etcd_lease}};
    if (lease.ipv6_subnet) object["ipv6Subnet"] = lease.ipv6_subnet->to_string();
    sys::write_file_atomic(lease_state_path(state_dir), object.dump() + "\n", 0600);
}

void forget_remembered_lease(const std::filesystem::path& state_dir) {
    const auto path = lease_state_path(state_dir);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + path.string());
}

}  // namespace twill::subnet
