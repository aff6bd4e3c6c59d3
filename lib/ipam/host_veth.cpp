#include "twill/ipam/host_veth.hpp"

#include <cstdint>
#include <cstdio>

namespace twill::ipam {

std::string host_veth_name(const Attachment& attachment) {
    // FNV-1a 64: stable across builds and machines (std::hash is not), and 48 of its bits
    // make a collision between two attachments of one node vanishingly unlikely.
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    auto mix = [&hash](std::string_view text) {
        for (const unsigned char c : text) {
            hash ^= c;
            hash *= 0x100000001b3ULL;
        }
    };
    mix(attachment.container_id);
    mix(std::string_view("\0", 1));
    mix(attachment.ifname);
    char name[16];
    std::snprintf(name, sizeof name, "tw%012llx", static_cast<unsigned long long>(hash >> 16));
    return name;
}

}  // namespace twill::ipam
