#include <grpcpp/grpcpp.h>
#include <twill/api/twilld.grpc.pb.h>

#include <cstring>
#include <twill/api/client.hpp>

#include "unix_socket.hpp"

namespace twill::api {

class Client::Stub {
  public:
    explicit Stub(const std::filesystem::path& path)
        : stub(v1::Twilld::NewStub(
              grpc::CreateChannel("unix:" + path.native(), grpc::InsecureChannelCredentials()))) {}
    std::unique_ptr<v1::Twilld::Stub> stub;
};

Client::Client(std::filesystem::path socket_path, std::chrono::milliseconds timeout)
    : socket_path_(std::filesystem::absolute(socket_path)), timeout_(timeout) {
    check_unix_socket_path(socket_path_);
    stub_ = std::make_unique<Stub>(socket_path_);
}

Client::~Client() = default;

template <class Request, class Reply, class Method>
Reply Client::call(const char* rpc, const Request& request, Method method,
                   std::optional<std::chrono::milliseconds> timeout) {
    const auto deadline = timeout.value_or(timeout_);
    const std::string where = "cannot reach twilld at " + socket_path_.native() + ": ";
    // gRPC's own connect errors are vague; a direct connect names the reason (no such file,
    // connection refused, permission denied).
    if (const int error = probe_unix_socket(socket_path_); error != 0) {
        std::string reason = std::strerror(error);
        if (error == ENOENT) reason += " (is twilld running with this --run-dir?)";
        if (error == ECONNREFUSED) reason += " (stale socket: twilld is not running)";
        throw UnreachableError(where + reason);
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    Reply reply;
    const grpc::Status status = ((*stub_->stub).*method)(&context, request, &reply);
    if (status.ok()) return reply;
    switch (status.error_code()) {
        case grpc::StatusCode::UNAVAILABLE:
            throw UnreachableError(where + status.error_message());
        case grpc::StatusCode::DEADLINE_EXCEEDED:
            throw UnreachableError(where + "no answer to " + rpc + " within " +
                                   std::to_string(deadline.count()) + " ms");
        case grpc::StatusCode::INVALID_ARGUMENT:
            throw RpcError(status.error_message(), true);
        default:
            throw RpcError(std::string(rpc) + " failed: " + status.error_message(), false);
    }
}

v1::StatusReply Client::status() {
    return call<v1::StatusRequest, v1::StatusReply>("Status", {}, &v1::Twilld::Stub::Status);
}
v1::PeersReply Client::peers() {
    return call<v1::PeersRequest, v1::PeersReply>("Peers", {}, &v1::Twilld::Stub::Peers);
}
v1::CheckReply Client::check(bool probe, std::chrono::milliseconds probe_timeout) {
    v1::CheckRequest request;
    request.set_probe(probe);
    return call<v1::CheckRequest, v1::CheckReply>(
        "Check", request, &v1::Twilld::Stub::Check,
        probe ? std::optional(std::max(probe_timeout, timeout_)) : std::nullopt);
}
v1::LeaveReply Client::leave() {
    return call<v1::LeaveRequest, v1::LeaveReply>("Leave", {}, &v1::Twilld::Stub::Leave);
}
v1::JoinReply Client::join() {
    return call<v1::JoinRequest, v1::JoinReply>("Join", {}, &v1::Twilld::Stub::Join);
}
v1::EvictReply Client::evict(const std::string& node) {
    v1::EvictRequest request;
    request.set_node(node);
    return call<v1::EvictRequest, v1::EvictReply>("Evict", request, &v1::Twilld::Stub::Evict);
}

}  // namespace twill::api
