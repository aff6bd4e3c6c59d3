// <prefix>/config is read once at start; a later change, deletion or invalid value is
// reported (status warning naming both versions, twill_config_stale), not applied: a new
// Network or VNI under running pods needs every node restarted together.
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "twill/error.hpp"

namespace twill::daemon {

namespace {

bool same_config(const subnet::NetworkConfig& a, const subnet::NetworkConfig& b) {
    return a.network() == b.network() && a.range.subnet_len() == b.range.subnet_len() &&
           a.range.min() == b.range.min() && a.range.max() == b.range.max() &&
           a.backend == b.backend && a.ipv6.has_value() == b.ipv6.has_value();
}

std::string describe(const subnet::NetworkConfig& config) {
    return "Network " + config.network().to_string() + ", SubnetLen " +
           std::to_string(config.range.subnet_len()) + ", SubnetMin " +
           config.range.min().to_string() + ", SubnetMax " + config.range.max().to_string() +
           ", backend " + std::string(subnet::to_string(config.backend_type()));
}

}  // namespace

void Daemon::on_config_seen(const std::optional<std::string>& value) {
    if (!config_) return;
    std::string problem;
    const auto key = subnet::config_key(options_.etcd_prefix);
    if (!value) {
        problem =
            key + " was deleted from etcd; twilld keeps running with the config it started with";
    } else {
        try {
            const auto fresh = subnet::parse_network_config(*value);
            if (!same_config(fresh, *config_)) {
                problem = key + " changed in etcd (now " + describe(fresh) + "; running with " +
                          describe(*config_) + "): restart twilld on every node to apply it";
            }
        } catch (const Error& e) {
            problem = key + " in etcd is invalid now (" + e.what() +
                      "); twilld keeps running with the config it started with";
        }
    }
    if (problem == config_problem_) return;
    if (problem.empty()) {
        spdlog::info("{} in etcd matches the running config again", key);
    } else {
        spdlog::warn("{}", problem);
    }
    config_problem_ = problem;
    metrics_.config_stale.Set(problem.empty() ? 0 : 1);
}

}  // namespace twill::daemon
