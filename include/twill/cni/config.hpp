#pragma once
// The network configuration a runtime passes on stdin, for every supported version.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twill/cni/result.hpp"
#include "twill/cni/version.hpp"

namespace twill::cni {

struct Attachment {
    std::string container_id;
    std::string ifname;
    friend auto operator<=>(const Attachment&, const Attachment&) = default;
};

struct Config {
    Version version = latest_version;
    std::string name;  // the network name; IPAM keeps its reservations under dataDir/name
    std::string type;
    std::filesystem::path run_dir = "/run/twill";           // "runDir": where subnet.json is
    std::filesystem::path data_dir = "/var/lib/cni/twill";  // "dataDir": IPAM reservations
    std::string log_level;              // "logLevel": stderr logging, off if empty
    Dns dns;                            // "dns": passed through into the result
    std::optional<Result> prev_result;  // "prevResult"
    // GC: "cni.dev/valid-attachments" (or the older "cni.dev/attachments").
    std::optional<std::vector<Attachment>> valid_attachments;
};

// Throws CniError: code 6 when stdin is not a JSON object, 1 for an unsupported cniVersion,
// 7 for an invalid field (the message names it).
Config parse_config(std::string_view text);

// The version a config claims, as far as it can be read (for error replies); nullopt when
// the text does not parse or names no supported version.
std::optional<Version> peek_version(std::string_view text);

}  // namespace twill::cni
