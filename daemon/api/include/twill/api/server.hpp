#pragma once
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <twill/api/handler.hpp>

namespace grpc {
class Server;
}

namespace twill::api {

// <run-dir>/twilld.sock, where twilld serves and netctl connects.
std::filesystem::path socket_path(const std::filesystem::path& run_dir);

struct ServerOptions {
    // When set (twilld passes its event loop's executor), every Handler call runs on this
    // executor, so the handler needs no locking; the gRPC thread waits for the result.
    std::optional<boost::asio::any_io_executor> executor;
    // How long an RPC waits for the executor before it fails as "unavailable".
    std::chrono::milliseconds handler_timeout = std::chrono::seconds(10);
    // How long `check --probe` waits for its probe round (netctl waits 120 s).
    std::chrono::milliseconds probe_timeout = std::chrono::seconds(110);
};

// The twilld service on a unix socket (mode 0600), served by gRPC's own threads.
// Construction removes a stale socket file (refusing if a live server still answers on it)
// and starts serving; destruction stops serving, waits for running calls, and removes the
// socket file. `handler` must outlive the Server and any work it posted to the executor.
class Server {
  public:
    Server(std::filesystem::path socket_path, Handler& handler, ServerOptions options = {});
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    const std::filesystem::path& socket_path() const noexcept { return socket_path_; }

  private:
    class Service;
    std::filesystem::path socket_path_;
    std::unique_ptr<Service> service_;
    std::unique_ptr<grpc::Server> server_;
};

}  // namespace twill::api
