#include <gtest/gtest.h>

#include <twill/error.hpp>
#include <twill/metrics/listen_address.hpp>

namespace twill::metrics {
namespace {

TEST(ListenAddress, PortAloneMeansEveryAddress) {
    const auto address = parse_listen_address(":9474");
    EXPECT_FALSE(address.host);
    EXPECT_EQ(address.port, 9474);
    EXPECT_EQ(address.to_string(), ":9474");
}

TEST(ListenAddress, Ipv4Host) {
    const auto address = parse_listen_address("127.0.0.1:9474");
    ASSERT_TRUE(address.host);
    EXPECT_EQ(address.host->to_string(), "127.0.0.1");
    EXPECT_EQ(address.port, 9474);
    EXPECT_EQ(address.to_string(), "127.0.0.1:9474");
}

TEST(ListenAddress, BracketedIpv6Host) {
    const auto address = parse_listen_address("[::1]:9474");
    ASSERT_TRUE(address.host);
    EXPECT_TRUE(address.host->is_v6());
    EXPECT_TRUE(address.host->is_loopback());
    EXPECT_EQ(address.to_string(), "[::1]:9474");
}

TEST(ListenAddress, PortZeroAndPortMaximum) {
    EXPECT_EQ(parse_listen_address("0.0.0.0:0").port, 0);
    EXPECT_EQ(parse_listen_address(":65535").port, 65535);
}

TEST(ListenAddress, RejectsBadInputNamingTheFlag) {
    for (const char* text :
         {"", "9474", "localhost:9474", "::1:9474", "[127.0.0.1]:80", "[::1:9474",
          "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:80x", "1.2.3.4:-1", "1.2.3:80"}) {
        try {
            parse_listen_address(text);
            ADD_FAILURE() << "accepted \"" << text << "\"";
        } catch (const ParseError& e) {
            EXPECT_EQ(e.field(), "--metrics-addr") << text;
            EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
        }
    }
}

TEST(ListenAddress, FlagNameIsTheCallers) {
    try {
        parse_listen_address("nope", "--debug-addr");
        FAIL() << "accepted";
    } catch (const ParseError& e) {
        EXPECT_EQ(e.field(), "--debug-addr");
    }
}

}  // namespace
}  // namespace twill::metrics
