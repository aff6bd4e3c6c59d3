#pragma once
// A node's WireGuard identity: an X25519 key pair (Curve25519, clamped as WireGuard does),
// the private key kept in a file of mode 0600 in --state-dir and reused across restarts.
#include <filesystem>
#include <string>
#include <string_view>

#include "twill/netlink/wireguard.hpp"

namespace twill::backend {

using netlink::WireguardKey;

struct WireguardKeyPair {
    WireguardKey private_key{};
    WireguardKey public_key{};
};

// A fresh random private key, clamped (RFC 7748), and its public key.
WireguardKeyPair generate_key_pair();
WireguardKey public_key_of(const WireguardKey& private_key);

std::string key_to_base64(const WireguardKey& key);
std::string key_to_hex(const WireguardKey& key);
// Throw ParseError naming `field` unless `text` is exactly 32 bytes in that encoding.
WireguardKey key_from_base64(std::string_view text, std::string_view field);
WireguardKey key_from_hex(std::string_view text, std::string_view field);

// Reads the base64 private key at `path`; when the file is missing, makes a new key pair and
// writes it (mode 0600, atomically). A file that exists but does not hold a key is an error
// (it is not replaced: the operator may want it back).
WireguardKeyPair load_or_create_key(const std::filesystem::path& path);

}  // namespace twill::backend
