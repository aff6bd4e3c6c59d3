#pragma once
#include <twill/api/twilld.pb.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <twill/error.hpp>

namespace twill::api {

// The daemon cannot be reached: no socket, refused, no permission, or no answer in time.
// The message names the socket path and the reason.
class UnreachableError : public Error {
  public:
    using Error::Error;
};

// The daemon answered with an error (its message is the handler's).
class RpcError : public Error {
  public:
    RpcError(std::string message, bool invalid_argument)
        : Error(std::move(message)), invalid_argument_(invalid_argument) {}
    bool invalid_argument() const noexcept { return invalid_argument_; }

  private:
    bool invalid_argument_;
};

// netctl's side: each call connects to the socket with a deadline of `timeout`.
class Client {
  public:
    explicit Client(std::filesystem::path socket_path,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    v1::StatusReply status();
    v1::PeersReply peers();
    // With `probe`, the daemon runs a probe round first: the deadline grows to `probe_timeout`.
    v1::CheckReply check(bool probe = false,
                         std::chrono::milliseconds probe_timeout = std::chrono::minutes(2));
    v1::LeaveReply leave();
    v1::EvictReply evict(const std::string& node);
    v1::JoinReply join();

    const std::filesystem::path& socket_path() const noexcept { return socket_path_; }

  private:
    class Stub;
    template <class Request, class Reply, class Method>
    Reply call(const char* rpc, const Request& request, Method method,
               std::optional<std::chrono::milliseconds> timeout = std::nullopt);

    std::filesystem::path socket_path_;
    std::chrono::milliseconds timeout_;
    std::unique_ptr<Stub> stub_;
};

}  // namespace twill::api
