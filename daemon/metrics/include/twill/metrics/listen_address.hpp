#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <twill/net/address.hpp>

namespace twill::metrics {

// A TCP listen address as --metrics-addr takes it: ":9474" (every address, IPv6 and IPv4),
// "127.0.0.1:9474", "[::1]:9474". Port 0 asks the kernel for a free port.
struct ListenAddress {
    std::optional<net::Address> host;  // nullopt: every address
    std::uint16_t port = 0;

    std::string to_string() const;
    friend bool operator==(const ListenAddress&, const ListenAddress&) = default;
};

// Throws ParseError naming `flag` ("--metrics-addr: ...").
ListenAddress parse_listen_address(std::string_view text, std::string_view flag = "--metrics-addr");

}  // namespace twill::metrics
