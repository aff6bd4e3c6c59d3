#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <twill/api/twilld.grpc.pb.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <functional>
#include <future>
#include <system_error>
#include <twill/api/server.hpp>
#include <twill/error.hpp>
#include <type_traits>

#include "unix_socket.hpp"

namespace twill::api {

std::filesystem::path socket_path(const std::filesystem::path& run_dir) {
    return run_dir / "twilld.sock";
}

namespace {

// Thrown when the event loop does not take a call in time (or the server is stopping);
// netctl reports it as "daemon cannot be reached".
class LoopUnavailable : public Error {
  public:
    using Error::Error;
};

void remove_stale_socket(const std::filesystem::path& path) {
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0) {
        if (errno == ENOENT) return;
        throw_errno("stat " + path.native());
    }
    if (!S_ISSOCK(info.st_mode))
        throw Error("listen on " + path.native() + ": the path exists and is not a socket");
    if (probe_unix_socket(path) == 0)
        throw Error("listen on " + path.native() +
                    ": another twilld answers on it (one daemon per --run-dir)");
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        throw_errno("remove stale socket " + path.native());
    spdlog::info("removed stale API socket {}", path.native());
}

}  // namespace

class Server::Service final : public v1::Twilld::Service {
  public:
    Service(Handler& handler, ServerOptions options)
        : handler_(handler), options_(std::move(options)) {}

    void stop() { stopping_ = true; }

    grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*,
                        v1::StatusReply* reply) override {
        return serve("Status", reply, [this] { return handler_.status(); });
    }
    grpc::Status Peers(grpc::ServerContext*, const v1::PeersRequest*,
                       v1::PeersReply* reply) override {
        v1::StatusReply status;
        auto result = serve("Peers", &status, [this] { return handler_.status(); });
        if (result.ok()) reply->mutable_peers()->Swap(status.mutable_peers());
        return result;
    }
    grpc::Status Check(grpc::ServerContext*, const v1::CheckRequest* request,
                       v1::CheckReply* reply) override {
        return guarded("Check", [&] {
            std::vector<v1::ProbeOutcome> probes;
            if (request->probe()) probes = probe_round();
            *reply = call_handler<v1::CheckReply>([this] { return handler_.check(); });
            if (!request->probe()) return;
            reply->set_probed(true);
            for (auto& probe : probes) *reply->add_probes() = std::move(probe);
        });
    }
    grpc::Status Leave(grpc::ServerContext*, const v1::LeaveRequest*,
                       v1::LeaveReply* reply) override {
        return serve("Leave", reply, [this] { return handler_.leave(); });
    }
    grpc::Status Evict(grpc::ServerContext*, const v1::EvictRequest* request,
                       v1::EvictReply* reply) override {
        return serve("Evict", reply,
                     [this, node = request->node()] { return handler_.evict(node); });
    }
    grpc::Status Join(grpc::ServerContext*, const v1::JoinRequest*, v1::JoinReply* reply) override {
        return serve("Join", reply, [this] { return handler_.join(); });
    }

  private:
    // Runs `body`, mapping twill's errors to gRPC statuses netctl tells apart.
    grpc::Status guarded(const char* rpc, const std::function<void()>& body) {
        try {
            body();
            return grpc::Status::OK;
        } catch (const LoopUnavailable& e) {
            return {grpc::StatusCode::UNAVAILABLE, e.what()};
        } catch (const ParseError& e) {
            return {grpc::StatusCode::INVALID_ARGUMENT, e.what()};
        } catch (const std::exception& e) {
            spdlog::warn("API {}: {}", rpc, e.what());
            return {grpc::StatusCode::INTERNAL, e.what()};
        }
    }

    template <class Reply>
    grpc::Status serve(const char* rpc, Reply* reply,
                       std::type_identity_t<std::function<Reply()>> call) {
        return guarded(rpc, [&] { *reply = call_handler<Reply>(std::move(call)); });
    }

    // The handler's reply, computed on the executor when there is one.
    template <class Reply>
    Reply call_handler(std::type_identity_t<std::function<Reply()>> call) {
        if (!options_.executor) return call();
        auto promise = std::make_shared<std::promise<Reply>>();
        boost::asio::post(*options_.executor, [promise, call = std::move(call)] {
            try {
                promise->set_value(call());
            } catch (...) {
                promise->set_exception(std::current_exception());
            }
        });
        return wait(promise->get_future(), options_.handler_timeout, "twilld's event loop");
    }

    // Starts a probe round on the executor and waits for its outcomes.
    std::vector<v1::ProbeOutcome> probe_round() {
        using Outcomes = std::vector<v1::ProbeOutcome>;
        auto promise = std::make_shared<std::promise<Outcomes>>();
        auto start = [this, promise] {
            try {
                handler_.probe_round(
                    [promise](Outcomes outcomes) { promise->set_value(std::move(outcomes)); });
            } catch (...) {
                promise->set_exception(std::current_exception());
            }
        };
        auto result = promise->get_future();
        if (options_.executor)
            boost::asio::post(*options_.executor, std::move(start));
        else
            start();
        return wait(std::move(result), options_.probe_timeout, "the probe round");
    }

    template <class Result>
    Result wait(std::future<Result> result, std::chrono::milliseconds timeout,
                const std::string& what) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        // Polls so that a stopping server does not wait out the full timeout.
        while (result.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
            if (stopping_) throw LoopUnavailable("twilld is stopping");
            if (std::chrono::steady_clock::now() >= deadline)
                throw LoopUnavailable(what + " did not answer within " +
                                      std::to_string(timeout.count()) + " ms");
        }
        try {
            return result.get();
        } catch (const std::future_error&) {
            // The loop dropped the call without finishing it (it is shutting down).
            throw LoopUnavailable("twilld is stopping");
        }
    }

    Handler& handler_;
    ServerOptions options_;
    std::atomic<bool> stopping_ = false;
};

Server::Server(std::filesystem::path socket_path, Handler& handler, ServerOptions options)
    : socket_path_(std::filesystem::absolute(socket_path)),
      service_(std::make_unique<Service>(handler, std::move(options))) {
    check_unix_socket_path(socket_path_);
    if (!std::filesystem::is_directory(socket_path_.parent_path()))
        throw Error("listen on " + socket_path_.native() + ": directory " +
                    socket_path_.parent_path().native() + " does not exist");
    remove_stale_socket(socket_path_);

    grpc::ServerBuilder builder;
    int selected_port = 0;
    builder.AddListeningPort("unix:" + socket_path_.native(), grpc::InsecureServerCredentials(),
                             &selected_port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    if (!server_)
        throw Error("listen on " + socket_path_.native() + ": gRPC could not bind the socket");
    // gRPC binds with the process umask; a umask such as 022 already keeps others from
    // connecting (connect needs write permission) until this narrows it to the owner.
    if (::chmod(socket_path_.c_str(), 0600) != 0) {
        const int error = errno;
        server_->Shutdown();
        ::unlink(socket_path_.c_str());
        throw SystemError("chmod 0600 " + socket_path_.native(), error);
    }
    spdlog::info("API listening on unix:{}", socket_path_.native());
}

Server::~Server() {
    service_->stop();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
    std::error_code ignored;
    std::filesystem::remove(socket_path_, ignored);
}

}  // namespace twill::api
