#include "twill/net/prefix.hpp"

#include <charconv>

#include "twill/error.hpp"

namespace twill::net {

namespace {

bool bit_at(const Address& a, int bit) {
    return a.bytes()[bit / 8] & (0x80u >> (bit % 8));
}

// The bits [from, to) of `a` as a number; to - from <= 63.
std::uint64_t bit_field(const Address& a, int from, int to) {
    std::uint64_t value = 0;
    for (int bit = from; bit < to; ++bit) value = (value << 1) | (bit_at(a, bit) ? 1 : 0);
    return value;
}

// `a` with the bits [from, to) replaced by `value`.
Address with_bit_field(const Address& a, int from, int to, std::uint64_t value) {
    std::array<std::uint8_t, 16> bytes{};
    auto src = a.bytes();
    std::copy(src.begin(), src.end(), bytes.begin());
    for (int bit = to - 1; bit >= from; --bit, value >>= 1) {
        const auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
        if (value & 1)
            bytes[bit / 8] |= mask;
        else
            bytes[bit / 8] &= static_cast<std::uint8_t>(~mask);
    }
    return Address::from_bytes(a.family(), std::span(bytes.data(), src.size()));
}

std::string_view field_or(std::string_view field, std::string_view fallback) {
    return field.empty() ? fallback : field;
}

}  // namespace

Prefix::Prefix(Address address, int length) : address_(address), length_(length) {
    if (length < 0 || length > address.bits()) {
        throw ParseError("prefix length", std::to_string(length) + " out of range 0.." +
                                              std::to_string(address.bits()) + " for " +
                                              address.to_string());
    }
}

std::optional<Prefix> Prefix::try_parse(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto address = Address::try_parse(text.substr(0, slash));
    if (!address) return std::nullopt;
    const auto digits = text.substr(slash + 1);
    int length = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size()) {
        return std::nullopt;
    }
    if (length < 0 || length > address->bits()) return std::nullopt;
    return Prefix(*address, length);
}

Prefix Prefix::parse(std::string_view text, std::string_view field) {
    if (auto p = try_parse(text)) return *p;
    const auto name = field_or(field, "prefix");
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) {
        throw ParseError(name,
                         "\"" + std::string(text) + "\" has no prefix length (want a.b.c.d/len)");
    }
    auto address = Address::try_parse(text.substr(0, slash));
    if (!address) {
        throw ParseError(
            name, "\"" + std::string(text.substr(0, slash)) + "\" is not an IPv4 or IPv6 address");
    }
    throw ParseError(name, "prefix length \"" + std::string(text.substr(slash + 1)) +
                               "\" out of range 0.." + std::to_string(address->bits()));
}

Prefix Prefix::host(Address address) {
    return Prefix(address, address.bits());
}

Prefix Prefix::network() const {
    return Prefix(address_.masked(length_), length_);
}

bool Prefix::is_network() const {
    return address_.masked(length_) == address_;
}

Address Prefix::first() const {
    return address_.masked(length_);
}

Address Prefix::last() const {
    return address_.with_host_bits_set(length_);
}

bool Prefix::contains(const Address& a) const {
    return a.family() == family() && a.masked(length_) == first();
}

bool Prefix::contains(const Prefix& p) const {
    return p.family() == family() && p.length_ >= length_ && contains(p.address_);
}

bool Prefix::overlaps(const Prefix& p) const {
    return contains(p) || p.contains(*this);
}

std::string Prefix::to_string() const {
    return address_.to_string() + "/" + std::to_string(length_);
}

SubnetRange::SubnetRange(Prefix network, int subnet_len, std::optional<Address> min,
                         std::optional<Address> max)
    : network_(network), subnet_len_(subnet_len) {
    if (!network.is_network()) {
        throw ParseError("Network", network.to_string() + " has host bits set (did you mean " +
                                        network.network().to_string() + "?)");
    }
    const int bits = network.address().bits();
    if (subnet_len <= network.length() || subnet_len > bits) {
        throw ParseError("SubnetLen", std::to_string(subnet_len) + " must be longer than the " +
                                          "Network's /" + std::to_string(network.length()) +
                                          " and at most " + std::to_string(bits) + " (Network " +
                                          network.to_string() + " too small)");
    }
    if (subnet_len - network.length() > 62) {
        throw ParseError("SubnetLen", std::to_string(subnet_len) + " splits " +
                                          network.to_string() + " into more than 2^62 subnets");
    }
    const std::uint64_t count = std::uint64_t{1} << (subnet_len - network.length());
    auto index_for = [&](const Address& a, std::string_view field) {
        if (a.family() != network.family()) {
            throw ParseError(field, a.to_string() + " is " + std::string(to_string(a.family())) +
                                        " but Network " + network.to_string() + " is " +
                                        std::string(to_string(network.family())));
        }
        if (!network.contains(a)) {
            throw ParseError(field, a.to_string() + " is outside Network " + network.to_string());
        }
        if (a.masked(subnet_len) != a) {
            throw ParseError(
                field, a.to_string() + " is not on a /" + std::to_string(subnet_len) + " boundary");
        }
        return bit_field(a, network.length(), subnet_len);
    };
    first_index_ = min ? index_for(*min, "SubnetMin") : 1;
    last_index_ = max ? index_for(*max, "SubnetMax") : count - 1;
    if (first_index_ > last_index_) {
        throw ParseError(
            min ? "SubnetMin" : "SubnetLen",
            "no subnet lies between SubnetMin " +
                with_bit_field(network.first(), network.length(), subnet_len, first_index_)
                    .to_string() +
                " and SubnetMax " +
                with_bit_field(network.first(), network.length(), subnet_len, last_index_)
                    .to_string());
    }
    min_ = at(0);
    max_ = at(size() - 1);
}

Prefix SubnetRange::at(std::uint64_t i) const {
    if (i >= size()) {
        throw Error("subnet index " + std::to_string(i) + " out of range (size " +
                    std::to_string(size()) + ")");
    }
    return Prefix(
        with_bit_field(network_.first(), network_.length(), subnet_len_, first_index_ + i),
        subnet_len_);
}

std::optional<std::uint64_t> SubnetRange::index_of(const Prefix& p) const {
    if (p.length() != subnet_len_ || !p.is_network() || !network_.contains(p)) return std::nullopt;
    const auto index = bit_field(p.address(), network_.length(), subnet_len_);
    if (index < first_index_ || index > last_index_) return std::nullopt;
    return index - first_index_;
}

bool SubnetRange::contains(const Prefix& p) const {
    return index_of(p).has_value();
}

}  // namespace twill::net

std::size_t std::hash<twill::net::Prefix>::operator()(const twill::net::Prefix& p) const noexcept {
    return std::hash<twill::net::Address>{}(p.address()) * 131 +
           static_cast<std::size_t>(p.length());
}
