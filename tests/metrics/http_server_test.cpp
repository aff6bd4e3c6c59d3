#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>
#include <twill/error.hpp>
#include <twill/metrics/http_server.hpp>

namespace twill::metrics {
namespace {

namespace http = boost::beast::http;
using boost::asio::ip::tcp;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct Reply {
    unsigned status = 0;
    std::string content_type;
    std::string body;
};

// A blocking client socket whose reads give up after 10 s, so a server that never answers
// fails the test instead of hanging it.
tcp::socket connect_to(boost::asio::io_context& io, std::uint16_t port) {
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    timeval timeout{10, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    return socket;
}

Reply exchange(tcp::socket& socket, http::verb verb, const std::string& target) {
    http::request<http::empty_body> request{verb, target, 11};
    request.set(http::field::host, "127.0.0.1");
    http::write(socket, request);
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.skip(verb == http::verb::head);
    http::read(socket, buffer, parser);
    const auto& response = parser.get();
    return {response.result_int(), std::string(response[http::field::content_type]),
            response.body()};
}

// True once the server has closed `socket` (read returns end of file or a reset).
bool closed_by_server(tcp::socket& socket) {
    char byte;
    boost::system::error_code error;
    socket.read_some(boost::asio::buffer(&byte, 1), error);
    return error == boost::asio::error::eof || error == boost::asio::error::connection_reset;
}

class HttpServerTest : public ::testing::Test {
  protected:
    void start(HttpServerOptions options = {}) {
        registry_ = std::make_shared<prometheus::Registry>();
        prometheus::BuildCounter()
            .Name("twill_test_total")
            .Help("A test counter.")
            .Register(*registry_)
            .Add({})
            .Increment(5);
        server_ = std::make_unique<HttpServer>(
            io_, parse_listen_address("127.0.0.1:0"), registry_,
            [this] {
                return Readiness{ready_.load(), "lease not held"};
            },
            options);
        port_ = server_->local_endpoint().port();
        loop_ = std::thread([this] { io_.run(); });
    }
    void TearDown() override {
        io_.stop();
        if (loop_.joinable()) loop_.join();
        server_.reset();
    }
    Reply get(const std::string& target, http::verb verb = http::verb::get) {
        boost::asio::io_context client_io;
        auto socket = connect_to(client_io, port_);
        return exchange(socket, verb, target);
    }

    boost::asio::io_context io_;
    std::shared_ptr<prometheus::Registry> registry_;
    std::atomic<bool> ready_ = false;
    std::unique_ptr<HttpServer> server_;
    std::uint16_t port_ = 0;
    std::thread loop_;
};

TEST_F(HttpServerTest, PortZeroBindsAnEphemeralPort) {
    start();
    EXPECT_NE(port_, 0);
    EXPECT_TRUE(server_->local_endpoint().address().is_loopback());
}

TEST_F(HttpServerTest, MetricsInTextFormat) {
    start();
    const auto reply = get("/metrics");
    EXPECT_EQ(reply.status, 200);
    EXPECT_THAT(reply.content_type, HasSubstr("text/plain; version=0.0.4"));
    EXPECT_THAT(reply.body, HasSubstr("# TYPE twill_test_total counter\ntwill_test_total 5\n"));
    EXPECT_EQ(get("/metrics?name[]=x").status, 200);
}

TEST_F(HttpServerTest, HealthzAnswersWhileNotReady) {
    start();
    const auto reply = get("/healthz");
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.body, "ok\n");
}

TEST_F(HttpServerTest, ReadyzFollowsTheCallback) {
    start();
    auto reply = get("/readyz");
    EXPECT_EQ(reply.status, 503);
    EXPECT_EQ(reply.body, "not ready: lease not held\n");
    ready_ = true;
    reply = get("/readyz");
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.body, "ready\n");
}

TEST_F(HttpServerTest, UnknownPathsAndMethods) {
    start();
    EXPECT_EQ(get("/").status, 404);
    EXPECT_EQ(get("/metricsx").status, 404);
    EXPECT_EQ(get("/metrics", http::verb::post).status, 405);
    const auto head = get("/healthz", http::verb::head);
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.body, "");
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
    start();
    boost::asio::io_context client_io;
    auto socket = connect_to(client_io, port_);
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(exchange(socket, http::verb::get, "/healthz").status, 200);
}

TEST_F(HttpServerTest, SilentClientIsDisconnectedAndOthersAreServed) {
    start({.timeout = 200ms});
    boost::asio::io_context client_io;
    auto silent = connect_to(client_io, port_);
    boost::asio::write(silent, boost::asio::buffer(std::string_view("GET /metr")));
    EXPECT_EQ(get("/healthz").status, 200);  // meanwhile, the loop answers others
    EXPECT_TRUE(closed_by_server(silent));
}

TEST_F(HttpServerTest, OversizedRequestIsRefused) {
    start({.max_request_bytes = 1024});
    boost::asio::io_context client_io;
    auto socket = connect_to(client_io, port_);
    const std::string request =
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
    boost::system::error_code error;
    boost::asio::write(socket, boost::asio::buffer(request),
                       error);  // may fail once the server closes
    EXPECT_TRUE(closed_by_server(socket));
    EXPECT_EQ(get("/healthz").status, 200);
}

TEST_F(HttpServerTest, GarbageIsRefused) {
    start();
    boost::asio::io_context client_io;
    auto socket = connect_to(client_io, port_);
    boost::asio::write(socket, boost::asio::buffer(std::string_view("\x01\x02 not http\r\n\r\n")));
    EXPECT_TRUE(closed_by_server(socket));
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitAreClosed) {
    start({.max_connections = 2});
    boost::asio::io_context client_io;
    auto first = connect_to(client_io, port_);
    auto second = connect_to(client_io, port_);
    EXPECT_EQ(exchange(first, http::verb::get, "/healthz").status, 200);
    EXPECT_EQ(exchange(second, http::verb::get, "/healthz").status, 200);
    auto third = connect_to(client_io, port_);
    EXPECT_TRUE(closed_by_server(third));
}

TEST_F(HttpServerTest, PortInUseNamesTheFlag) {
    start();
    boost::asio::io_context other;
    try {
        HttpServer second(other, parse_listen_address("127.0.0.1:" + std::to_string(port_)),
                          registry_, [] {
                              return Readiness{true, ""};
                          });
        FAIL() << "bound a port in use";
    } catch (const SystemError& e) {
        EXPECT_EQ(e.code(), EADDRINUSE);
        EXPECT_THAT(e.what(), HasSubstr("--metrics-addr"));
    }
}

TEST(HttpServerAnyAddress, PortOnlyListensOnIpv4Too) {
    boost::asio::io_context io;
    auto registry = std::make_shared<prometheus::Registry>();
    HttpServer server(io, parse_listen_address(":0"), registry, [] { return Readiness{true, ""}; });
    const auto port = server.local_endpoint().port();
    std::thread loop([&] { io.run(); });
    boost::asio::io_context client_io;
    auto socket = connect_to(client_io, port);
    EXPECT_EQ(exchange(socket, http::verb::get, "/readyz").status, 200);
    io.stop();
    loop.join();
}

}  // namespace
}  // namespace twill::metrics
