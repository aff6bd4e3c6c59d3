#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "twill/net/address.hpp"

namespace twill::net {

// An address with a prefix length, "10.244.3.0/24" or "10.244.3.1/24" (an interface
// address keeps its host bits; network() drops them).
class Prefix {
  public:
    Prefix() = default;
    // Throws ParseError when the length is out of range for the family.
    Prefix(Address address, int length);

    // "a.b.c.d/len" or "x::y/len"; throws ParseError naming `field`.
    static Prefix parse(std::string_view text, std::string_view field = {});
    static std::optional<Prefix> try_parse(std::string_view text);
    // A whole-address prefix (/32 or /128).
    static Prefix host(Address address);

    const Address& address() const noexcept { return address_; }
    int length() const noexcept { return length_; }
    Family family() const noexcept { return address_.family(); }

    Prefix network() const;   // host bits cleared
    bool is_network() const;  // host bits already clear
    Address first() const;    // the network address
    Address last() const;     // the broadcast address for v4
    int host_bits() const noexcept { return address_.bits() - length_; }

    bool contains(const Address& a) const;
    bool contains(const Prefix& p) const;
    bool overlaps(const Prefix& p) const;

    std::string to_string() const;

    friend auto operator<=>(const Prefix&, const Prefix&) = default;
    friend bool operator==(const Prefix&, const Prefix&) = default;

  private:
    Address address_;
    int length_ = 0;
};

// The subnets of length `subnet_len` that a Network hands out, from `min` to `max` inclusive
// (flannel's SubnetMin/SubnetMax). Indexes count subnets of the Network from its first one.
class SubnetRange {
  public:
    // Validates and fills flannel's defaults: min = the second subnet, max = the last.
    // Throws ParseError naming "SubnetLen", "SubnetMin" or "SubnetMax".
    SubnetRange(Prefix network, int subnet_len, std::optional<Address> min = {},
                std::optional<Address> max = {});

    const Prefix& network() const noexcept { return network_; }
    int subnet_len() const noexcept { return subnet_len_; }
    const Prefix& min() const noexcept { return min_; }
    const Prefix& max() const noexcept { return max_; }

    std::uint64_t size() const noexcept { return last_index_ - first_index_ + 1; }
    // The i-th subnet of the range, 0 <= i < size().
    Prefix at(std::uint64_t i) const;
    // Whether `p` is one of the range's subnets (right length, aligned, between min and max).
    bool contains(const Prefix& p) const;
    std::optional<std::uint64_t> index_of(const Prefix& p) const;

  private:
    Prefix network_;
    int subnet_len_ = 0;
    Prefix min_;
    Prefix max_;
    std::uint64_t first_index_ = 0;
    std::uint64_t last_index_ = 0;
};

}  // namespace twill::net

template <>
struct std::hash<twill::net::Prefix> {
    std::size_t operator()(const twill::net::Prefix& p) const noexcept;
};
