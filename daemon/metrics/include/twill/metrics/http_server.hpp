#pragma once
#include <prometheus/collectable.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <twill/metrics/listen_address.hpp>

namespace twill::metrics {

namespace detail {
struct HttpState;
}

struct Readiness {
    bool ready = false;
    std::string detail;  // why not ready ("lease not held"); shown in the 503 body
};

struct HttpServerOptions {
    // A request must arrive whole, and a response be taken whole, within this time;
    // idle keep-alive connections are closed after it too.
    std::chrono::milliseconds timeout = std::chrono::seconds(10);
    std::size_t max_request_bytes = 8192;  // request line and headers
    std::size_t max_connections = 32;      // more are closed at once
};

// GET /metrics (the registry, text format 0.0.4), /healthz (200 "ok" whenever the loop
// answers), /readyz (200 or 503 from `readiness`); 404 for other paths, 405 for other
// methods. Everything runs asynchronously on `io`, the caller's event loop; construct,
// use and destroy it on that loop's thread. Destruction closes the listener and every
// connection.
class HttpServer {
  public:
    HttpServer(boost::asio::io_context& io, const ListenAddress& address,
               std::shared_ptr<const prometheus::Collectable> registry,
               std::function<Readiness()> readiness, HttpServerOptions options = {});
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // The bound address (with the port the kernel chose when asked for port 0).
    boost::asio::ip::tcp::endpoint local_endpoint() const;

  private:
    std::shared_ptr<detail::HttpState> state_;
};

}  // namespace twill::metrics
