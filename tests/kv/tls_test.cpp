// TLS with certificates made by the test (openssl CLI): client certificates required.
#include <gtest/gtest.h>

#include "etcd_fixture.hpp"
#include "process_helpers.hpp"
#include "twill/kv/client.hpp"

namespace twill::kv {
namespace {

using namespace std::chrono_literals;
using twill::testing::eventually;

class Tls : public ::testing::Test {
  protected:
    static void SetUpTestSuite() { etcd_ = new twill::testing::EtcdServer({.tls = true}); }
    static void TearDownTestSuite() {
        delete etcd_;
        etcd_ = nullptr;
    }
    static twill::testing::EtcdServer* etcd_;
};

twill::testing::EtcdServer* Tls::etcd_ = nullptr;

std::string failure_of(const std::function<void()>& call) {
    try {
        call();
    } catch (const KvError& e) {
        return e.what();
    }
    return "";
}

TEST_F(Tls, ClientWithCaAndClientCertificateWorks) {
    const auto options = etcd_->client_options();
    ASSERT_TRUE(options.endpoints[0].starts_with("https://"));
    Client client(options);
    client.put("/tls/a", "1");
    EXPECT_EQ(client.get("/tls/a")->value, "1");

    std::atomic<int> events{0};
    auto watch = client.watch("/tls/", {.prefix = true},
                              {.on_snapshot = {},
                               .on_events = [&](const std::vector<WatchEvent>& e,
                                                Revision) { events += static_cast<int>(e.size()); },
                               .on_error = {},
                               .on_progress = {}});
    ASSERT_TRUE(eventually([&] { return watch->connected(); }));
    client.put("/tls/b", "2");
    ASSERT_TRUE(eventually([&] { return events == 1; }));
}

TEST_F(Tls, PlaintextClientAgainstTlsEndpointFailsClearly) {
    ClientOptions options;
    options.endpoints = {"127.0.0.1:" + std::to_string(etcd_->client_port())};
    options.call_timeout = 1s;
    Client client(options);
    const std::string message = failure_of([&] { client.put("/tls/plain", "1"); });
    ASSERT_FALSE(message.empty()) << "a plaintext put against a TLS etcd succeeded";
    EXPECT_NE(message.find("etcd put /tls/plain"), std::string::npos) << message;
    EXPECT_NE(message.find("TLS"), std::string::npos) << message;
}

TEST_F(Tls, ClientWithoutClientCertificateIsRefused) {
    ClientOptions options = etcd_->client_options();
    options.tls->cert_file.clear();
    options.tls->key_file.clear();
    options.call_timeout = 1s;
    Client client(options);
    const std::string message = failure_of([&] { client.get("/tls/a"); });
    ASSERT_FALSE(message.empty())
        << "etcd requiring client certificates served a client without one";
    EXPECT_NE(message.find("etcd range /tls/a"), std::string::npos) << message;
    EXPECT_NE(message.find("TLS"), std::string::npos) << message;
}

TEST_F(Tls, ClientWithWrongCaIsRefused) {
    ClientOptions options = etcd_->client_options();
    options.tls->ca_file = etcd_->tls_files()->client_cert;  // not the CA that signed etcd's
    options.call_timeout = 1s;
    Client client(options);
    const std::string message = failure_of([&] { client.get("/tls/a"); });
    ASSERT_FALSE(message.empty()) << "a client trusting the wrong CA accepted etcd's certificate";
    EXPECT_NE(message.find("TLS"), std::string::npos) << message;
}

TEST(TlsMismatch, TlsClientAgainstPlaintextEndpointFailsClearly) {
    twill::testing::EtcdServer plain;
    ClientOptions options;
    options.endpoints = {"https://127.0.0.1:" + std::to_string(plain.client_port())};
    options.call_timeout = 1s;
    Client client(options);
    const std::string message = failure_of([&] { client.get("/x"); });
    ASSERT_FALSE(message.empty());
    EXPECT_NE(message.find("TLS"), std::string::npos) << message;
}

}  // namespace
}  // namespace twill::kv
