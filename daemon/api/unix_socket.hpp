#pragma once
#include <filesystem>

namespace twill::api {

// Tries to connect to the unix stream socket at `path`; 0 if something accepted, else the
// errno of the failure (ENOENT: no file, ECONNREFUSED: a stale socket nobody listens on).
int probe_unix_socket(const std::filesystem::path& path);

// The unix-socket address limit (sun_path) for `path`, checked before gRPC sees it.
void check_unix_socket_path(const std::filesystem::path& path);

}  // namespace twill::api
