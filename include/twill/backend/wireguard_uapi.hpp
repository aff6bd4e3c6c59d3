#pragma once
// wireguard-go's configuration protocol (wireguard.com/xplatform): text over the UNIX socket
// /var/run/wireguard/<ifname>.sock. "get=1" answers key=value lines; "set=1" takes them;
// each reply ends with "errno=N" and an empty line. Keys are hex there.
#include <filesystem>
#include <string>
#include <string_view>

#include "twill/netlink/wireguard.hpp"

namespace twill::backend {

// "set=1\n...\n\n" for `change` (remove=true / replace_allowed_ips=true per peer).
std::string format_uapi_set(const netlink::WireguardChange& change);
// The configuration in a "get=1" reply. Throws SystemError with the reply's errno when it is
// not 0, ParseError for a line that does not parse.
netlink::WireguardDeviceConfig parse_uapi_get(std::string_view reply);
// The errno of a reply; throws ParseError when it has none.
int uapi_errno(std::string_view reply);

class UapiClient {
  public:
    explicit UapiClient(std::filesystem::path socket_path) : path_(std::move(socket_path)) {}
    // One connection per request (wireguard-go answers one and keeps reading); each request
    // gives up after a few seconds instead of stalling the caller.
    netlink::WireguardDeviceConfig get() const;
    void set(const netlink::WireguardChange& change) const;

  private:
    std::string exchange(const std::string& request, const std::string& what) const;
    std::filesystem::path path_;
};

}  // namespace twill::backend
