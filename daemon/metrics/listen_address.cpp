#include <charconv>
#include <twill/error.hpp>
#include <twill/metrics/listen_address.hpp>

namespace twill::metrics {

std::string ListenAddress::to_string() const {
    const std::string port_text = std::to_string(port);
    if (!host) return ":" + port_text;
    if (host->is_v6()) return "[" + host->to_string() + "]:" + port_text;
    return host->to_string() + ":" + port_text;
}

ListenAddress parse_listen_address(std::string_view text, std::string_view flag) {
    const auto fail = [&](const std::string& reason) -> ParseError {
        return ParseError(flag, "\"" + std::string(text) + "\": " + reason +
                                    " (want :PORT, IPV4:PORT or [IPV6]:PORT)");
    };
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) throw fail("no port");
    std::string_view host_text = text.substr(0, colon);
    const std::string_view port_text = text.substr(colon + 1);

    ListenAddress result;
    unsigned port = 0;
    const auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || error != std::errc{} || end != port_text.data() + port_text.size() ||
        port > 65535)
        throw fail("port must be a number 0..65535");
    result.port = static_cast<std::uint16_t>(port);

    if (host_text.empty()) return result;
    const bool bracketed = host_text.front() == '[';
    if (bracketed) {
        if (host_text.size() < 2 || host_text.back() != ']') throw fail("unbalanced brackets");
        host_text = host_text.substr(1, host_text.size() - 2);
    }
    auto host = net::Address::try_parse(host_text);
    if (!host) throw fail("host must be an IP address");
    if (host->is_v6() != bracketed)
        throw fail(bracketed ? "brackets hold IPv6 addresses only"
                             : "an IPv6 address needs brackets");
    result.host = *host;
    return result;
}

}  // namespace twill::metrics
