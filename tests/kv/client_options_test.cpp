// Client construction: endpoint and TLS option validation (no etcd needed: nothing connects).
#include <gtest/gtest.h>

#include "twill/kv/client.hpp"

namespace twill::kv {
namespace {

ClientOptions with_endpoints(std::vector<std::string> endpoints) {
    ClientOptions options;
    options.endpoints = std::move(endpoints);
    return options;
}

std::string parse_failure(ClientOptions options) {
    try {
        Client client(std::move(options));
    } catch (const ParseError& e) {
        return e.what();
    }
    return "";
}

TEST(ClientOptions, ParsesCommaListOfEndpoints) {
    EXPECT_EQ(ClientOptions::parse_endpoints("https://10.0.0.1:2379, https://10.0.0.2:2379,"),
              (std::vector<std::string>{"https://10.0.0.1:2379", "https://10.0.0.2:2379"}));
    EXPECT_EQ(ClientOptions::parse_endpoints("127.0.0.1:2379"),
              std::vector<std::string>{"127.0.0.1:2379"});
    EXPECT_TRUE(ClientOptions::parse_endpoints("").empty());
}

TEST(ClientOptions, AcceptsHostPortAndUrls) {
    EXPECT_NO_THROW(
        Client(with_endpoints({"127.0.0.1:2379", "http://localhost:2379/", "[::1]:2379"})));
    EXPECT_NO_THROW(Client(with_endpoints({"https://127.0.0.1:2379"})));
}

TEST(ClientOptions, RejectsBadEndpointsNamingThem) {
    EXPECT_NE(parse_failure(with_endpoints({})).find("etcd endpoints"), std::string::npos);
    const std::string no_port = parse_failure(with_endpoints({"127.0.0.1"}));
    EXPECT_NE(no_port.find("\"127.0.0.1\""), std::string::npos) << no_port;
    EXPECT_NE(no_port.find("port"), std::string::npos) << no_port;
    EXPECT_NE(parse_failure(with_endpoints({"127.0.0.1:70000"})).find("port"), std::string::npos);
    EXPECT_NE(parse_failure(with_endpoints({"unix:///run/etcd.sock"})).find("scheme"),
              std::string::npos);
    EXPECT_NE(parse_failure(with_endpoints({"::1:2379"})).find("brackets"), std::string::npos);
    EXPECT_NE(parse_failure(with_endpoints({"http://h:1/v3"})).find("path"), std::string::npos);
    EXPECT_NE(parse_failure(with_endpoints({":2379"})).find("host"), std::string::npos);
}

TEST(ClientOptions, RejectsPlaintextUrlMixedWithTls) {
    auto options = with_endpoints({"https://10.0.0.1:2379", "http://10.0.0.2:2379"});
    EXPECT_NE(parse_failure(options).find("http://10.0.0.2:2379"), std::string::npos);
}

TEST(ClientOptions, RejectsMissingTlsFilesNamingThem) {
    auto options = with_endpoints({"127.0.0.1:2379"});
    options.tls = TlsOptions{.ca_file = "/nonexistent/ca.pem", .cert_file = {}, .key_file = {}};
    const std::string message = parse_failure(options);
    EXPECT_NE(message.find("etcd CA file"), std::string::npos) << message;
    EXPECT_NE(message.find("/nonexistent/ca.pem"), std::string::npos) << message;

    options.tls = TlsOptions{.ca_file = {}, .cert_file = "/nonexistent/cert.pem", .key_file = {}};
    EXPECT_NE(parse_failure(options).find("together"), std::string::npos);
}

TEST(ClientOptions, RejectsNonPositiveTimeouts) {
    auto options = with_endpoints({"127.0.0.1:2379"});
    options.call_timeout = std::chrono::milliseconds(0);
    EXPECT_NE(parse_failure(options).find("call timeout"), std::string::npos);
}

TEST(ClientOptions, ConstructionDoesNotConnect) {
    // Nothing listens on port 1; construction must still succeed (the daemon starts without etcd).
    Client client(with_endpoints({"127.0.0.1:1"}));
    EXPECT_FALSE(client.connected());
    EXPECT_EQ(client.current_endpoint(), "127.0.0.1:1");
}

}  // namespace
}  // namespace twill::kv
