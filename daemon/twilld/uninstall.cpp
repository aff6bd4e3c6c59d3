#include "uninstall.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "leave_marker.hpp"
#include "twill/api/server.hpp"
#include "twill/backend/wireguard_backend.hpp"
#include "twill/backend/wireguard_device.hpp"
#include "twill/cni/node_subnet.hpp"
#include "twill/error.hpp"
#include "twill/firewall/masquerade.hpp"
#include "twill/firewall/ruleset.hpp"
#include "twill/netlink/handle.hpp"
#include "twill/reconcile/object_sets.hpp"
#include "twill/subnet/state_file.hpp"
#include "twill/sys/fd.hpp"
#include "twill/sys/file.hpp"

namespace twill::daemon {

namespace fs = std::filesystem;

namespace {

constexpr const char* kBridge = "twill0";

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

bool plain_file_name(std::string_view name) {
    return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos;
}

// Whether a twilld answers on <run-dir>/twilld.sock: removing its objects under it would only
// make it put them back.
bool daemon_answers(const fs::path& run_dir) {
    const auto path = fs::absolute(api::socket_path(run_dir)).string();
    sockaddr_un address{};
    if (path.size() >= sizeof address.sun_path) return false;  // no daemon could bind it either
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    sys::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket");
    return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
}

class Remover {
  public:
    explicit Remover(UninstallReport& report) : report_(report) {}

    // Runs one removal step; a failure is recorded and the next step still runs.
    void step(const std::string& what, const std::function<void()>& action) {
        try {
            action();
        } catch (const std::exception& e) {
            spdlog::error("{}: {}", what, e.what());
            report_.failed.push_back(what + ": " + e.what());
        }
    }
    void removed(const std::string& what) {
        spdlog::info("removed {}", what);
        report_.removed.push_back(what);
    }
    // A file (not a directory); absent is fine.
    void remove_file(const fs::path& path) {
        step("remove " + path.string(), [&] {
            if (::unlink(path.c_str()) == 0) {
                removed(path.string());
            } else if (errno != ENOENT) {
                throw_errno("remove " + path.string());
            }
        });
    }
    // A directory only when empty: it may hold what is not ours (--state-dir /var/lib).
    void remove_dir_if_empty(const fs::path& path) {
        if (::rmdir(path.c_str()) == 0) {
            removed(path.string() + "/");
        } else if (errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST) {
            report_.failed.push_back("remove " + path.string() + ": " + std::strerror(errno));
        }
    }

  private:
    UninstallReport& report_;
};

void remove_devices(netlink::Handle& handle, Remover& remover) {
    std::vector<netlink::Link> links = handle.list_links();
    int bridge = 0;
    for (const auto& link : links) {
        if (link.name == kBridge) bridge = link.index;
    }
    // The pods' host ends first (the plugin's veths on twill0; the pod's end goes with each),
    // then twill's own devices.
    for (int pass = 0; pass < 2; ++pass) {
        for (const auto& link : links) {
            const bool pod_end = bridge != 0 && link.master == bridge && link.kind == "veth";
            if (pass == 0 ? !pod_end : !is_own_device(link.name)) continue;
            remover.step("delete link " + link.name, [&] {
                try {
                    handle.delete_link(link.index);
                } catch (const SystemError& e) {
                    if (e.code() == ENODEV) return;  // gone with its peer meanwhile
                    throw;
                }
                remover.removed("link " + link.name);
            });
        }
    }
}

void remove_routes(netlink::Handle& handle, Remover& remover) {
    netlink::RouteFilter ours;
    ours.protocol = reconcile::twill_route_protocol;
    for (const auto& route : handle.dump_routes(ours)) {
        const auto text = netlink::to_string(route, "");
        remover.step("delete route " + text, [&] {
            try {
                handle.delete_route(route);
            } catch (const SystemError& e) {
                if (e.code() == ESRCH) return;  // went with its device meanwhile
                throw;
            }
            remover.removed("route " + text);
        });
    }
}

// The plugin's IP store (include/twill/ipam/store.hpp): <dataDir>/<network>/ holding one file
// per reserved address, the round-robin cursors, its lock and a reservation being written.
void remove_cni_data(const fs::path& data_dir, Remover& remover) {
    std::error_code ec;
    for (const auto& network : fs::directory_iterator(data_dir, ec)) {
        if (!network.is_directory(ec)) continue;
        for (const auto& entry : fs::directory_iterator(network.path(), ec)) {
            const auto name = entry.path().filename().string();
            bool store_file =
                name == "lock" || name == ".reserving" || starts_with(name, "last_reserved_ip.");
            if (!store_file) {
                try {
                    net::Address::parse(name, "reservation");
                    store_file = true;
                } catch (const ParseError&) {
                }
            }
            if (store_file && !entry.is_directory(ec)) remover.remove_file(entry.path());
        }
        remover.remove_dir_if_empty(network.path());
    }
    remover.remove_dir_if_empty(data_dir);
}

}  // namespace

bool is_own_device(std::string_view name) {
    return name == kBridge || name == backend::kWireguardDevice ||
           (starts_with(name, "twill.") && name.size() > 6) ||
           (starts_with(name, "twill-v6.") && name.size() > 9);
}

CniInstallRecord parse_cni_install_record(std::string_view text) {
    CniInstallRecord record;
    int number = 0;
    while (!text.empty()) {
        const auto end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        ++number;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        if (line.empty() || line.front() == '#') continue;
        const auto field = std::string(cni_install_record_name) + " line " + std::to_string(number);
        const auto space = line.find(' ');
        const auto kind = line.substr(0, space);
        auto name = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
        while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
        if (kind != "bin" && kind != "conf") {
            throw ParseError(field, "\"" + std::string(line) +
                                        "\": expected \"bin <name>\" or "
                                        "\"conf <name>\"");
        }
        if (!plain_file_name(name)) {
            throw ParseError(field, "\"" + std::string(name) + "\" is not a plain file name");
        }
        (kind == "bin" ? record.bin : record.conf).emplace_back(name);
    }
    return record;
}

UninstallReport uninstall(const Options& options) {
    if (daemon_answers(options.run_dir)) {
        throw Error("twilld is running (it answers on " +
                    api::socket_path(options.run_dir).string() +
                    "); stop it first, or it puts back what uninstall removes");
    }
    const auto record_path = options.state_dir / cni_install_record_name;
    CniInstallRecord record{{std::string(default_plugin_name)},
                            {std::string(default_conflist_name)}};
    if (const auto text = sys::read_file(record_path)) {
        try {
            record = parse_cni_install_record(*text);
        } catch (const ParseError& e) {
            throw Error(record_path.string() + ": " + e.what() + "; nothing removed");
        }
    }

    UninstallReport report;
    Remover remover(report);
    netlink::Handle handle;
    remover.step("stop wireguard-go", [&] {
        auto device =
            backend::make_userspace_wireguard_device(backend::kWireguardDevice, options.run_dir);
        device->remove(handle);
    });
    remover.step("list links", [&] { remove_devices(handle, remover); });
    remover.step("dump routes", [&] { remove_routes(handle, remover); });
    remover.step("remove nftables table inet twill", [&] {
        firewall::Masquerade masquerade;
        const auto outcome = masquerade.reconcile(std::nullopt, false);
        if (outcome.action == firewall::Outcome::Action::removed) {
            remover.removed("nftables table " + std::string(firewall::table_family) + " " +
                            std::string(firewall::table_name));
        }
    });

    const auto failed_before_cni = report.failed.size();
    for (const auto& name : record.bin) remover.remove_file(options.cni_bin_dir / name);
    for (const auto& name : record.conf) remover.remove_file(options.cni_conf_dir / name);
    const bool cni_files_removed = report.failed.size() == failed_before_cni;

    const auto wireguard_dir = options.run_dir / "wireguard";
    for (const auto* suffix : {".sock", ".pid", ".log"}) {
        remover.remove_file(wireguard_dir / (std::string(backend::kWireguardDevice) + suffix));
    }
    remover.remove_dir_if_empty(wireguard_dir);
    remover.remove_file(options.run_dir / cni::node_subnet_file_name);
    remover.remove_file(api::socket_path(options.run_dir));
    remover.remove_dir_if_empty(options.run_dir);

    remove_cni_data(options.cni_data_dir, remover);

    remover.remove_file(subnet::lease_state_path(options.state_dir));
    remover.remove_file(options.state_dir / backend::kWireguardKeyFile);
    remover.remove_file(leave_marker_path(options.state_dir));
    // Kept when a recorded file could not be removed: the next run must find the list again.
    if (cni_files_removed) remover.remove_file(record_path);
    remover.remove_dir_if_empty(options.state_dir);
    return report;
}

int run_uninstall(const Options& options) {
    try {
        const auto report = uninstall(options);
        if (!report.failed.empty()) {
            spdlog::error("uninstall: {} removed, {} failed", report.removed.size(),
                          report.failed.size());
            return 1;
        }
        if (report.removed.empty()) {
            spdlog::info("uninstall: nothing of twill's on this node");
        } else {
            spdlog::info("uninstall: removed {} objects", report.removed.size());
        }
        return 0;
    } catch (const std::exception& e) {
        spdlog::error("uninstall: {}", e.what());
        return 1;
    }
}

}  // namespace twill::daemon
