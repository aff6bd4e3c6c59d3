#include "twill/backend/wireguard_uapi.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include "twill/backend/wireguard_keys.hpp"
#include "twill/error.hpp"
#include "twill/sys/fd.hpp"

namespace twill::backend {

namespace {

constexpr int kTimeoutSeconds = 3;

template <typename Integer>
Integer parse_number(std::string_view text, std::string_view field) {
    Integer value{};
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
        throw ParseError(field, "\"" + std::string(text) + "\" is not a number in range");
    }
    return value;
}

netlink::WireguardEndpoint parse_endpoint(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
        throw ParseError("endpoint", "\"" + std::string(text) + "\" has no port");
    auto host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    return {net::Address::parse(host, "endpoint"),
            parse_number<std::uint16_t>(text.substr(colon + 1), "endpoint")};
}

}  // namespace

std::string format_uapi_set(const netlink::WireguardChange& change) {
    std::string text = "set=1\n";
    if (change.private_key) text += "private_key=" + key_to_hex(*change.private_key) + "\n";
    if (change.listen_port) text += "listen_port=" + std::to_string(*change.listen_port) + "\n";
    if (change.replace_peers) text += "replace_peers=true\n";
    for (const auto& [peer, remove] : change.peers) {
        text += "public_key=" + key_to_hex(peer.public_key) + "\n";
        if (remove) {
            text += "remove=true\n";
            continue;
        }
        text += "replace_allowed_ips=true\n";
        if (peer.endpoint) text += "endpoint=" + peer.endpoint->to_string() + "\n";
        text += "persistent_keepalive_interval=" + std::to_string(peer.persistent_keepalive) + "\n";
        for (const auto& ip : peer.allowed_ips) text += "allowed_ip=" + ip.to_string() + "\n";
    }
    return text + "\n";
}

int uapi_errno(std::string_view reply) {
    const auto at = reply.rfind("errno=");
    if (at == std::string_view::npos || (at != 0 && reply[at - 1] != '\n')) {
        throw ParseError("errno", "the UAPI reply has no errno line");
    }
    auto value = reply.substr(at + 6);
    value = value.substr(0, value.find('\n'));
    return parse_number<int>(value, "errno");
}

netlink::WireguardDeviceConfig parse_uapi_get(std::string_view reply) {
    if (const int error = uapi_errno(reply); error != 0) throw SystemError("UAPI get", error);
    netlink::WireguardDeviceConfig config;
    netlink::WireguardPeer* peer = nullptr;
    while (!reply.empty()) {
        const auto end = reply.find('\n');
        const auto line = reply.substr(0, end);
        reply = end == std::string_view::npos ? std::string_view{} : reply.substr(end + 1);
        if (line.empty()) continue;
        const auto equals = line.find('=');
        if (equals == std::string_view::npos)
            throw ParseError("UAPI reply", "line \"" + std::string(line) + "\" has no '='");
        const auto key = line.substr(0, equals);
        const auto value = line.substr(equals + 1);
        if (key == "private_key") {
            const auto parsed = key_from_hex(value, "private_key");
            if (parsed != netlink::WireguardKey{}) config.private_key = parsed;
        } else if (key == "listen_port") {
            config.listen_port = parse_number<std::uint16_t>(value, "listen_port");
        } else if (key == "public_key") {
            config.peers.push_back({});
            peer = &config.peers.back();
            peer->public_key = key_from_hex(value, "public_key");
        } else if (peer && key == "endpoint") {
            peer->endpoint = parse_endpoint(value);
        } else if (peer && key == "allowed_ip") {
            peer->allowed_ips.push_back(net::Prefix::parse(value, "allowed_ip"));
        } else if (peer && key == "persistent_keepalive_interval") {
            peer->persistent_keepalive =
                parse_number<std::uint16_t>(value, "persistent_keepalive_interval");
        }
        // Everything else (statistics, handshake times, protocol_version, fwmark, errno) is
        // not configuration twill sets.
    }
    return config;
}

std::string UapiClient::exchange(const std::string& request, const std::string& what) const {
    sys::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno(what + ": socket");
    const timeval timeout{kTimeoutSeconds, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const auto path = path_.string();
    if (path.size() >= sizeof address.sun_path)
        throw SystemError(what + ": socket path " + path, ENAMETOOLONG);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0) {
        throw_errno(what + ": connect " + path);
    }
    std::size_t sent = 0;
    while (sent < request.size()) {
        const ssize_t n =
            ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno(what + ": send to " + path);
        }
        sent += static_cast<std::size_t>(n);
    }
    std::string reply;
    char buffer[4096];
    // The reply ends with "errno=N\n\n".
    while (!(reply.ends_with("\n\n") && reply.find("errno=") != std::string::npos)) {
        const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno(what + ": receive from " + path);
        }
        if (n == 0) break;
        reply.append(buffer, static_cast<std::size_t>(n));
    }
    return reply;
}

netlink::WireguardDeviceConfig UapiClient::get() const {
    const auto reply = exchange("get=1\n\n", "UAPI get " + path_.string());
    try {
        return parse_uapi_get(reply);
    } catch (const SystemError& e) {
        throw SystemError("UAPI get " + path_.string(), e.code());
    }
}

void UapiClient::set(const netlink::WireguardChange& change) const {
    const auto reply = exchange(format_uapi_set(change), "UAPI set " + path_.string());
    if (const int error = uapi_errno(reply); error != 0)
        throw SystemError("UAPI set " + path_.string(), error);
}

}  // namespace twill::backend
