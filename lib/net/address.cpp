#include "twill/net/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "twill/error.hpp"

namespace twill::net {

namespace {
std::string_view field_or(std::string_view field, std::string_view fallback) {
    return field.empty() ? fallback : field;
}
}  // namespace

std::string_view to_string(Family family) {
    return family == Family::v4 ? "IPv4" : "IPv6";
}

int address_bits(Family family) {
    return family == Family::v4 ? 32 : 128;
}

std::optional<Address> Address::try_parse(std::string_view text) {
    if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
    std::string buffer(text);
    Address a;
    if (buffer.find(':') == std::string::npos) {
        in_addr v4{};
        if (inet_pton(AF_INET, buffer.c_str(), &v4) != 1) return std::nullopt;
        a.family_ = Family::v4;
        std::memcpy(a.bytes_.data(), &v4, 4);
        return a;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, buffer.c_str(), &v6) != 1) return std::nullopt;
    a.family_ = Family::v6;
    std::memcpy(a.bytes_.data(), &v6, 16);
    return a;
}

Address Address::parse(std::string_view text, std::string_view field) {
    if (auto a = try_parse(text)) return *a;
    throw ParseError(field_or(field, "address"),
                     "\"" + std::string(text) + "\" is not an IPv4 or IPv6 address");
}

Address Address::from_bytes(Family family, std::span<const std::uint8_t> bytes) {
    const std::size_t want = family == Family::v4 ? 4 : 16;
    if (bytes.size() != want) {
        throw ParseError("address", std::string(net::to_string(family)) + " address needs " +
                                        std::to_string(want) + " bytes, got " +
                                        std::to_string(bytes.size()));
    }
    Address a;
    a.family_ = family;
    std::copy(bytes.begin(), bytes.end(), a.bytes_.begin());
    return a;
}

Address Address::v4(std::uint32_t host_order) {
    Address a;
    a.family_ = Family::v4;
    a.bytes_[0] = host_order >> 24;
    a.bytes_[1] = host_order >> 16;
    a.bytes_[2] = host_order >> 8;
    a.bytes_[3] = host_order;
    return a;
}

Address Address::zero(Family family) {
    Address a;
    a.family_ = family;
    return a;
}

std::span<const std::uint8_t> Address::bytes() const noexcept {
    return {bytes_.data(), is_v4() ? 4u : 16u};
}

std::uint32_t Address::v4_value() const {
    if (!is_v4()) throw Error("address " + to_string() + " is not IPv4");
    return (std::uint32_t(bytes_[0]) << 24) | (std::uint32_t(bytes_[1]) << 16) |
           (std::uint32_t(bytes_[2]) << 8) | bytes_[3];
}

bool Address::is_unspecified() const noexcept {
    auto b = bytes();
    return std::all_of(b.begin(), b.end(), [](auto x) { return x == 0; });
}

bool Address::is_loopback() const noexcept {
    if (is_v4()) return bytes_[0] == 127;
    return *this ==
           Address::from_bytes(Family::v6, std::array<std::uint8_t, 16>{0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                                        0, 0, 0, 0, 0, 0, 1});
}

bool Address::is_multicast() const noexcept {
    if (is_v4()) return (bytes_[0] & 0xf0) == 0xe0;
    return bytes_[0] == 0xff;
}

bool Address::is_link_local() const noexcept {
    if (is_v4()) return bytes_[0] == 169 && bytes_[1] == 254;
    return bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80;
}

bool Address::is_broadcast() const noexcept {
    return is_v4() && bytes_[0] == 255 && bytes_[1] == 255 && bytes_[2] == 255 && bytes_[3] == 255;
}

bool Address::is_usable_unicast() const noexcept {
    return !is_unspecified() && !is_loopback() && !is_multicast() && !is_link_local() &&
           !is_broadcast();
}

namespace {

// Applies `op(byte, host_mask)` to every byte holding host bits past `prefix_len`, a byte at a
// time: every resync asks, of each of thousands of neighbours, whether the Network holds it.
template <class Op>
void host_bytes(std::uint8_t* bytes, int total_bits, int prefix_len, Op op) {
    const int prefix = std::clamp(prefix_len, 0, total_bits);
    int byte = prefix / 8;
    if (prefix % 8 != 0) {
        op(bytes[byte], static_cast<std::uint8_t>(0xffu >> (prefix % 8)));
        ++byte;
    }
    for (; byte < total_bits / 8; ++byte) op(bytes[byte], std::uint8_t{0xff});
}

}  // namespace

Address Address::masked(int prefix_len) const {
    Address a = *this;
    host_bytes(a.bytes_.data(), bits(), prefix_len,
               [](std::uint8_t& b, std::uint8_t host) { b &= static_cast<std::uint8_t>(~host); });
    return a;
}

Address Address::with_host_bits_set(int prefix_len) const {
    Address a = *this;
    host_bytes(a.bytes_.data(), bits(), prefix_len,
               [](std::uint8_t& b, std::uint8_t host) { b |= host; });
    return a;
}

Address Address::plus(std::uint64_t n) const {
    Address a = *this;
    int i = static_cast<int>(bytes().size()) - 1;
    unsigned carry = 0;
    while (i >= 0 && (n != 0 || carry != 0)) {
        unsigned sum = a.bytes_[i] + static_cast<unsigned>(n & 0xff) + carry;
        a.bytes_[i] = static_cast<std::uint8_t>(sum);
        carry = sum >> 8;
        n >>= 8;
        --i;
    }
    return a;
}

std::uint64_t Address::host_index(int prefix_len) const {
    const int host = bits() - prefix_len;
    if (host > 64)
        throw Error("host part of " + to_string() + "/" + std::to_string(prefix_len) +
                    " exceeds 64 bits");
    std::uint64_t value = 0;
    auto b = bytes();
    for (std::size_t i = b.size() >= 8 ? b.size() - 8 : 0; i < b.size(); ++i) {
        value = (value << 8) | b[i];
    }
    return host == 64 ? value : value & ((std::uint64_t{1} << host) - 1);
}

std::string Address::to_string() const {
    char buffer[INET6_ADDRSTRLEN] = {};
    inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buffer, sizeof buffer);
    return buffer;
}

std::optional<MacAddress> MacAddress::try_parse(std::string_view text) {
    if (text.size() != 17) return std::nullopt;
    const char separator = text[2];
    if (separator != ':' && separator != '-') return std::nullopt;
    MacAddress m;
    for (int i = 0; i < 6; ++i) {
        if (i > 0 && text[i * 3 - 1] != separator) return std::nullopt;
        unsigned value = 0;
        for (int j = 0; j < 2; ++j) {
            const char c = text[i * 3 + j];
            value <<= 4;
            if (c >= '0' && c <= '9')
                value |= c - '0';
            else if (c >= 'a' && c <= 'f')
                value |= c - 'a' + 10;
            else if (c >= 'A' && c <= 'F')
                value |= c - 'A' + 10;
            else
                return std::nullopt;
        }
        m.bytes_[i] = static_cast<std::uint8_t>(value);
    }
    return m;
}

MacAddress MacAddress::parse(std::string_view text, std::string_view field) {
    if (auto m = try_parse(text)) return *m;
    throw ParseError(field_or(field, "MAC address"),
                     "\"" + std::string(text) + "\" is not a MAC address (want aa:bb:cc:dd:ee:ff)");
}

MacAddress MacAddress::from_bytes(std::span<const std::uint8_t> bytes) {
    if (bytes.size() != 6) {
        throw ParseError("MAC address", "needs 6 bytes, got " + std::to_string(bytes.size()));
    }
    MacAddress m;
    std::copy(bytes.begin(), bytes.end(), m.bytes_.begin());
    return m;
}

bool MacAddress::is_zero() const noexcept {
    return std::all_of(bytes_.begin(), bytes_.end(), [](auto x) { return x == 0; });
}

std::string MacAddress::to_string() const {
    char buffer[18];
    std::snprintf(buffer, sizeof buffer, "%02x:%02x:%02x:%02x:%02x:%02x", bytes_[0], bytes_[1],
                  bytes_[2], bytes_[3], bytes_[4], bytes_[5]);
    return buffer;
}

}  // namespace twill::net

std::size_t std::hash<twill::net::Address>::operator()(
    const twill::net::Address& a) const noexcept {
    std::size_t h = static_cast<std::size_t>(a.family());
    for (auto b : a.bytes()) h = h * 131 + b;
    return h;
}

std::size_t std::hash<twill::net::MacAddress>::operator()(
    const twill::net::MacAddress& m) const noexcept {
    std::size_t h = 0;
    for (auto b : m.bytes()) h = h * 131 + b;
    return h;
}
