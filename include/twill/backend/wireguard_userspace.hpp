#pragma once
// How twilld recognises the wireguard-go it started (lib/backend/wireguard_userspace.cpp).
//
// Its PID file (<run-dir>/wireguard/<ifname>.pid) records more than the PID: a PID is reused
// once its process is gone (a reboot, a new container's PID namespace, a long uptime), and a
// restarted twilld must never adopt, stop or kill a stranger that inherited the number. The
// record is "<pid> <start time> <executable>": the start time (clock ticks since boot,
// /proc/<pid>/stat field 22) is unique per PID for the life of a kernel, and the executable
// (/proc/<pid>/exe) must still be the wireguard-go that was started.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace twill::backend {

struct ProcessIdentity {
    pid_t pid = 0;
    std::uint64_t start_time = 0;
    std::string executable;
    bool operator==(const ProcessIdentity&) const = default;
};

// The identity of a live process (not a zombie) from /proc; nullopt when there is none.
std::optional<ProcessIdentity> identify_process(pid_t pid);
// "<pid> <start time> <executable>\n".
std::string format_pid_file(const ProcessIdentity& identity);
// The record of a PID file; nullopt for anything else (an older twilld's bare PID included,
// which can no longer be told apart from a reused PID).
std::optional<ProcessIdentity> parse_pid_file(std::string_view text);
// Whether the process recorded is still running: same PID, start time and executable.
bool same_process_running(const ProcessIdentity& recorded);

}  // namespace twill::backend
