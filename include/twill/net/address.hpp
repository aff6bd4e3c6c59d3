#pragma once
#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace twill::net {

enum class Family : std::uint8_t { v4 = 4, v6 = 6 };

std::string_view to_string(Family family);
int address_bits(Family family);  // 32 or 128

// An IPv4 or IPv6 address. Family-agnostic by design: nothing outside parsing assumes v4.
class Address {
  public:
    Address() = default;  // 0.0.0.0

    // Throws ParseError naming `field` ("address" when empty).
    static Address parse(std::string_view text, std::string_view field = {});
    static std::optional<Address> try_parse(std::string_view text);
    static Address from_bytes(Family family, std::span<const std::uint8_t> bytes);
    static Address v4(std::uint32_t host_order);
    static Address zero(Family family);

    Family family() const noexcept { return family_; }
    bool is_v4() const noexcept { return family_ == Family::v4; }
    bool is_v6() const noexcept { return family_ == Family::v6; }
    int bits() const noexcept { return address_bits(family_); }
    std::span<const std::uint8_t> bytes() const noexcept;
    std::uint32_t v4_value() const;  // host order; throws for v6

    bool is_unspecified() const noexcept;
    bool is_loopback() const noexcept;
    bool is_multicast() const noexcept;
    bool is_link_local() const noexcept;
    bool is_broadcast() const noexcept;  // 255.255.255.255
    // A unicast address a peer can be reached at: not unspecified, loopback, multicast,
    // link-local or broadcast.
    bool is_usable_unicast() const noexcept;

    // The address with all bits after the first `prefix_len` cleared (or set).
    Address masked(int prefix_len) const;
    Address with_host_bits_set(int prefix_len) const;
    // The address `n` further on (wraps silently past the top; callers check containment).
    Address plus(std::uint64_t n) const;
    // Host part of this address relative to `prefix_len`, for prefixes up to 64 host bits.
    std::uint64_t host_index(int prefix_len) const;

    std::string to_string() const;

    friend auto operator<=>(const Address&, const Address&) = default;
    friend bool operator==(const Address&, const Address&) = default;

  private:
    Family family_ = Family::v4;
    std::array<std::uint8_t, 16> bytes_{};  // v4 uses the first 4
};

// A 48-bit Ethernet address.
class MacAddress {
  public:
    MacAddress() = default;
    // Accepts "aa:bb:cc:dd:ee:ff" and "aa-bb-cc-dd-ee-ff"; throws ParseError naming `field`.
    static MacAddress parse(std::string_view text, std::string_view field = {});
    static std::optional<MacAddress> try_parse(std::string_view text);
    static MacAddress from_bytes(std::span<const std::uint8_t> bytes);

    std::span<const std::uint8_t, 6> bytes() const noexcept {
        return std::span<const std::uint8_t, 6>(bytes_);
    }
    bool is_zero() const noexcept;
    bool is_multicast() const noexcept { return bytes_[0] & 0x01; }
    bool is_unicast() const noexcept { return !is_zero() && !is_multicast(); }
    bool is_locally_administered() const noexcept { return bytes_[0] & 0x02; }
    std::string to_string() const;  // lowercase, colon separated

    friend auto operator<=>(const MacAddress&, const MacAddress&) = default;
    friend bool operator==(const MacAddress&, const MacAddress&) = default;

  private:
    std::array<std::uint8_t, 6> bytes_{};
};

}  // namespace twill::net

template <>
struct std::hash<twill::net::Address> {
    std::size_t operator()(const twill::net::Address& a) const noexcept;
};
template <>
struct std::hash<twill::net::MacAddress> {
    std::size_t operator()(const twill::net::MacAddress& m) const noexcept;
};
