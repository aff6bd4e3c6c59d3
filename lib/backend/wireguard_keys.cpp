#include "twill/backend/wireguard_keys.hpp"

#include <sodium.h>

#include "twill/error.hpp"
#include "twill/subnet/lease.hpp"
#include "twill/sys/file.hpp"

namespace twill::backend {

namespace {
void init_sodium() {
    if (sodium_init() < 0) throw Error("initialise libsodium");
}
}  // namespace

WireguardKey public_key_of(const WireguardKey& private_key) {
    init_sodium();
    WireguardKey public_key{};
    if (crypto_scalarmult_base(public_key.data(), private_key.data()) != 0) {
        throw Error("derive WireGuard public key: Curve25519 failed");
    }
    return public_key;
}

WireguardKeyPair generate_key_pair() {
    init_sodium();
    WireguardKeyPair pair;
    randombytes_buf(pair.private_key.data(), pair.private_key.size());
    pair.private_key[0] &= 248;
    pair.private_key[31] = static_cast<std::uint8_t>((pair.private_key[31] & 127) | 64);
    pair.public_key = public_key_of(pair.private_key);
    return pair;
}

// The lease codec owns base64 for keys; the key file uses the same.
std::string key_to_base64(const WireguardKey& key) {
    return subnet::WireguardLeaseData{key}.public_key_base64();
}

WireguardKey key_from_base64(std::string_view text, std::string_view field) {
    return subnet::WireguardLeaseData::from_base64(text, field).public_key;
}

std::string key_to_hex(const WireguardKey& key) {
    std::string text(key.size() * 2 + 1, '\0');
    sodium_bin2hex(text.data(), text.size(), key.data(), key.size());
    text.pop_back();
    return text;
}

WireguardKey key_from_hex(std::string_view text, std::string_view field) {
    WireguardKey key{};
    std::size_t length = 0;
    const char* end = nullptr;
    if (text.size() != key.size() * 2 ||
        sodium_hex2bin(key.data(), key.size(), text.data(), text.size(), nullptr, &length, &end) !=
            0 ||
        length != key.size()) {
        throw ParseError(field,
                         "\"" + std::string(text) + "\" is not the hex of a 32-byte WireGuard key");
    }
    return key;
}

WireguardKeyPair load_or_create_key(const std::filesystem::path& path) {
    if (auto text = sys::read_file(path)) {
        while (!text->empty() && (text->back() == '\n' || text->back() == ' ')) text->pop_back();
        WireguardKeyPair pair;
        pair.private_key = key_from_base64(*text, path.string());
        pair.public_key = public_key_of(pair.private_key);
        return pair;
    }
    auto pair = generate_key_pair();
    sys::make_directories(path.parent_path(), 0700);
    sys::write_file_atomic(path, key_to_base64(pair.private_key) + "\n", 0600);
    return pair;
}

}  // namespace twill::backend
