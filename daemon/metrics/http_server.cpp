#include <spdlog/spdlog.h>

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <set>
#include <twill/error.hpp>
#include <twill/metrics/http_server.hpp>
#include <twill/metrics/render.hpp>

namespace twill::metrics {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::asio::ip::tcp;

namespace {
class Session;
}

namespace detail {
// Shared by the server and its sessions, so that completion handlers that run after the
// server is gone find `stopped` set instead of a dangling server.
struct HttpState {
    HttpState(boost::asio::io_context& io, std::shared_ptr<const prometheus::Collectable> registry,
              std::function<Readiness()> readiness, HttpServerOptions options)
        : acceptor(io),
          accept_retry(io),
          registry(std::move(registry)),
          readiness(std::move(readiness)),
          options(options) {}

    tcp::acceptor acceptor;
    boost::asio::steady_timer accept_retry;
    std::shared_ptr<const prometheus::Collectable> registry;
    std::function<Readiness()> readiness;
    HttpServerOptions options;
    std::set<std::shared_ptr<Session>> sessions;
    bool stopped = false;
};
}  // namespace detail

namespace {

using State = detail::HttpState;
using Response = http::response<http::string_body>;

Response respond(State& state, const http::request<http::empty_body>& request) {
    Response response;
    response.version(request.version());
    response.keep_alive(request.keep_alive());
    response.set(http::field::server, "twilld");
    response.set(http::field::content_type, "text/plain; charset=utf-8");

    const std::string_view target(request.target().data(), request.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    const auto method = request.method();
    if (method != http::verb::get && method != http::verb::head) {
        response.result(http::status::method_not_allowed);
        response.set(http::field::allow, "GET, HEAD");
        response.body() = "method not allowed\n";
    } else if (path == "/metrics") {
        try {
            response.body() = render_text(*state.registry);
            response.set(http::field::content_type,
                         beast::string_view(text_content_type.data(), text_content_type.size()));
            response.result(http::status::ok);
        } catch (const std::exception& e) {
            response.result(http::status::internal_server_error);
            response.body() = std::string("rendering metrics failed: ") + e.what() + "\n";
        }
    } else if (path == "/healthz") {
        response.result(http::status::ok);
        response.body() = "ok\n";
    } else if (path == "/readyz") {
        Readiness readiness;
        try {
            readiness = state.readiness();
        } catch (const std::exception& e) {
            readiness = {false, e.what()};
        }
        response.result(readiness.ready ? http::status::ok : http::status::service_unavailable);
        response.body() = readiness.ready ? "ready\n" : "not ready: " + readiness.detail + "\n";
    } else {
        response.result(http::status::not_found);
        response.body() = "not found; try /metrics, /healthz or /readyz\n";
    }
    response.prepare_payload();
    if (method == http::verb::head) {
        const auto length = response.body().size();
        response.body().clear();
        response.content_length(length);
    }
    return response;
}

class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(std::shared_ptr<State> state, tcp::socket socket)
        : state_(std::move(state)),
          stream_(std::move(socket)),
          buffer_(state_->options.max_request_bytes) {}

    void start() { read(); }

    void close() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.close();
    }

  private:
    void read() {
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(state_->options.max_request_bytes));
        parser_->body_limit(0);
        stream_.expires_after(state_->options.timeout);
        http::async_read(stream_, buffer_, *parser_,
                         [self = shared_from_this()](beast::error_code error, std::size_t) {
                             self->on_read(error);
                         });
    }

    void on_read(beast::error_code error) {
        if (state_->stopped) return;
        // Timeouts, closed connections and malformed or oversized requests end the
        // connection; nothing a client sends can hold the loop.
        if (error) return finish();
        response_ = respond(*state_, parser_->get());
        stream_.expires_after(state_->options.timeout);
        http::async_write(stream_, response_,
                          [self = shared_from_this()](beast::error_code error, std::size_t) {
                              self->on_write(error);
                          });
    }

    void on_write(beast::error_code error) {
        if (state_->stopped) return;
        if (error || !response_.keep_alive()) return finish();
        read();
    }

    void finish() {
        close();
        state_->sessions.erase(shared_from_this());
    }

    std::shared_ptr<State> state_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::empty_body>> parser_;
    Response response_;
};

void accept(const std::shared_ptr<State>& state) {
    state->acceptor.async_accept([state](beast::error_code error, tcp::socket socket) {
        if (state->stopped) return;
        if (error) {
            // Out of file descriptors and the like: retrying at once would spin the loop.
            spdlog::warn("metrics server: accept: {}", error.message());
            state->accept_retry.expires_after(std::chrono::milliseconds(100));
            state->accept_retry.async_wait([state](beast::error_code) {
                if (!state->stopped) accept(state);
            });
            return;
        }
        if (state->sessions.size() >= state->options.max_connections) {
            beast::error_code ignored;
            socket.close(ignored);
        } else {
            auto session = std::make_shared<Session>(state, std::move(socket));
            state->sessions.insert(session);
            session->start();
        }
        accept(state);
    });
}

void open_and_bind(tcp::acceptor& acceptor, const ListenAddress& address) {
    const auto fail = [&](const char* step, const beast::error_code& error) {
        throw SystemError(
            "metrics server " + std::string(step) + " " + address.to_string() + " (--metrics-addr)",
            error.value());
    };
    beast::error_code error;
    if (address.host) {
        const tcp::endpoint endpoint(boost::asio::ip::make_address(address.host->to_string()),
                                     address.port);
        acceptor.open(endpoint.protocol(), error);
        if (error) fail("open socket for", error);
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(endpoint, error);
        if (error) fail("bind", error);
    } else {
        // ":PORT" means every address of both families; a kernel without IPv6 gets IPv4 only.
        acceptor.open(tcp::v6(), error);
        if (!error) {
            acceptor.set_option(boost::asio::ip::v6_only(false));
            acceptor.set_option(tcp::acceptor::reuse_address(true));
            acceptor.bind(tcp::endpoint(tcp::v6(), address.port), error);
            if (error) fail("bind", error);
        } else {
            acceptor.open(tcp::v4(), error);
            if (error) fail("open socket for", error);
            acceptor.set_option(tcp::acceptor::reuse_address(true));
            acceptor.bind(tcp::endpoint(tcp::v4(), address.port), error);
            if (error) fail("bind", error);
        }
    }
    acceptor.listen(boost::asio::socket_base::max_listen_connections, error);
    if (error) fail("listen on", error);
}

}  // namespace

HttpServer::HttpServer(boost::asio::io_context& io, const ListenAddress& address,
                       std::shared_ptr<const prometheus::Collectable> registry,
                       std::function<Readiness()> readiness, HttpServerOptions options)
    : state_(std::make_shared<State>(io, std::move(registry), std::move(readiness), options)) {
    open_and_bind(state_->acceptor, address);
    accept(state_);
    const auto bound = local_endpoint();
    const auto host = bound.address().to_string();
    spdlog::info("metrics server listening on {}:{}",
                 bound.address().is_v6() ? "[" + host + "]" : host, bound.port());
}

HttpServer::~HttpServer() {
    state_->stopped = true;
    beast::error_code ignored;
    state_->acceptor.close(ignored);
    state_->accept_retry.cancel();
    for (const auto& session : state_->sessions) session->close();
    state_->sessions.clear();
}

tcp::endpoint HttpServer::local_endpoint() const {
    return state_->acceptor.local_endpoint();
}

}  // namespace twill::metrics
