#pragma once
// `twilld --uninstall`: removes what twill put on this node, recognised by name and marks only
// (DESIGN.md "Own only what is ours"), without etcd: the node's lease is `netctl leave`'s
// business (or its TTL's).
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "options.hpp"

namespace twill::daemon {

// twill's own devices: twill0, twill.<VNI> (any twill.*), twill-v6.*, twill-wg.
bool is_own_device(std::string_view name);

// <state-dir>/cni-installed, written by the install step: one line per file it wrote,
// "bin <name>" (in --cni-bin-dir) or "conf <name>" (in --cni-conf-dir). Blank lines and
// lines starting with '#' are ignored.
inline constexpr std::string_view cni_install_record_name = "cni-installed";
// What uninstall removes when there is no record: twill's own names only.
inline constexpr std::string_view default_plugin_name = "twill";
inline constexpr std::string_view default_conflist_name = "10-twill.conflist";

struct CniInstallRecord {
    std::vector<std::string> bin;
    std::vector<std::string> conf;
    friend bool operator==(const CniInstallRecord&, const CniInstallRecord&) = default;
};
// Throws ParseError naming the record and the line for an unknown kind or a name that is not
// a plain file name ("", ".", "..", or with '/'), so nothing outside the two dirs is touched.
CniInstallRecord parse_cni_install_record(std::string_view text);

// What one run did: each object removed, and each failure (the run goes on after one).
struct UninstallReport {
    std::vector<std::string> removed;
    std::vector<std::string> failed;
};

// Removes, in this network namespace and on this file system: wireguard-go started for
// twill-wg (by its PID file) and every own device (neighbours and FDB entries go with them),
// the pod veths on twill0, every route of protocol 137 in every table, nftables `table inet
// twill`, the files twill keeps in --run-dir, --state-dir and --cni-data-dir (then those dirs
// when empty), and the CNI plugin and conflist the install step recorded. Throws Error, with
// nothing changed, when twilld still answers on its socket or the install record is bad.
UninstallReport uninstall(const Options& options);

// uninstall() with logging; the process exit code (0: all removed or nothing there).
int run_uninstall(const Options& options);

}  // namespace twill::daemon
