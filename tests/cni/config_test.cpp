#include "twill/cni/config.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "twill/cni/error.hpp"

namespace twill::cni {
namespace {

ErrorCode code_of(std::string_view text) {
    try {
        parse_config(text);
    } catch (const CniError& e) {
        return e.code();
    }
    ADD_FAILURE() << "no error for " << text;
    return ErrorCode::Internal;
}

std::string message_of(std::string_view text) {
    try {
        parse_config(text);
    } catch (const CniError& e) {
        return e.what();
    }
    return "";
}

TEST(CniConfig, ParsesEveryVersionWithDefaults) {
    for (const auto* version : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
        const auto config = parse_config(std::string(R"({"cniVersion":")") + version +
                                         R"(","name":"twill","type":"twill"})");
        EXPECT_EQ(to_string(config.version), version);
        EXPECT_EQ(config.name, "twill");
        EXPECT_EQ(config.type, "twill");
        EXPECT_EQ(config.run_dir, "/run/twill");
        EXPECT_EQ(config.data_dir, "/var/lib/cni/twill");
        EXPECT_TRUE(config.log_level.empty());
        EXPECT_FALSE(config.prev_result);
        EXPECT_FALSE(config.valid_attachments);
    }
}

TEST(CniConfig, ReadsPluginKeysDnsAndPrevResult) {
    const auto config = parse_config(R"({"cniVersion":"1.0.0","name":"n1","type":"twill",
        "runDir":"/tmp/r","dataDir":"/tmp/d","logLevel":"debug",
        "dns":{"nameservers":["10.43.0.10"],"search":["svc.cluster.local"],"options":["ndots:5"]},
        "prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"tw1"},{"name":"eth0","sandbox":"/x"}],
                      "ips":[{"address":"10.244.3.5/24","gateway":"10.244.3.1","interface":1}],
                      "routes":[{"dst":"0.0.0.0/0","gw":"10.244.3.1"}]}})");
    EXPECT_EQ(config.run_dir, "/tmp/r");
    EXPECT_EQ(config.data_dir, "/tmp/d");
    EXPECT_EQ(config.log_level, "debug");
    EXPECT_EQ(config.dns.nameservers, std::vector<std::string>{"10.43.0.10"});
    EXPECT_EQ(config.dns.search, std::vector<std::string>{"svc.cluster.local"});
    EXPECT_EQ(config.dns.options, std::vector<std::string>{"ndots:5"});
    ASSERT_TRUE(config.prev_result);
    ASSERT_EQ(config.prev_result->ips.size(), 1u);
    EXPECT_EQ(config.prev_result->ips[0].address.to_string(), "10.244.3.5/24");
    EXPECT_EQ(config.prev_result->ips[0].interface, 1);
    EXPECT_EQ(config.prev_result->interfaces[1].sandbox, "/x");
}

TEST(CniConfig, ReadsBothGcAttachmentKeys) {
    for (const auto* key : {"cni.dev/valid-attachments", "cni.dev/attachments"}) {
        const auto config = parse_config(
            std::string(R"({"cniVersion":"1.1.0","name":"n","type":"twill",")") + key +
            R"(":[{"containerID":"c1","ifname":"eth0"},{"containerID":"c2","ifname":"net1"}]})");
        ASSERT_TRUE(config.valid_attachments) << key;
        ASSERT_EQ(config.valid_attachments->size(), 2u);
        EXPECT_EQ((*config.valid_attachments)[1].container_id, "c2");
        EXPECT_EQ((*config.valid_attachments)[1].ifname, "net1");
    }
}

TEST(CniConfig, DecodeErrorsAreCode6) {
    EXPECT_EQ(code_of("not json"), ErrorCode::DecodeFailure);
    EXPECT_EQ(code_of("[1,2]"), ErrorCode::DecodeFailure);
    EXPECT_EQ(code_of(""), ErrorCode::DecodeFailure);
}

TEST(CniConfig, UnsupportedVersionIsCode1) {
    EXPECT_EQ(code_of(R"({"cniVersion":"0.2.0","name":"n","type":"twill"})"),
              ErrorCode::IncompatibleVersion);
    EXPECT_EQ(code_of(R"({"cniVersion":"2.0.0","name":"n","type":"twill"})"),
              ErrorCode::IncompatibleVersion);
    EXPECT_NE(message_of(R"({"cniVersion":"2.0.0","name":"n","type":"twill"})").find("cniVersion"),
              std::string::npos);
}

TEST(CniConfig, InvalidFieldsAreCode7AndNamed) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {R"({"name":"n","type":"twill"})", "cniVersion"},
        {R"({"cniVersion":1,"name":"n","type":"twill"})", "cniVersion"},
        {R"({"cniVersion":"1.0.0","type":"twill"})", "name"},
        {R"({"cniVersion":"1.0.0","name":"../etc","type":"twill"})", "name"},
        {R"({"cniVersion":"1.0.0","name":"a/b","type":"twill"})", "name"},
        {R"({"cniVersion":"1.0.0","name":"n"})", "type"},
        {R"({"cniVersion":"1.0.0","name":"n","type":"twill","runDir":"relative"})", "runDir"},
        {R"({"cniVersion":"1.0.0","name":"n","type":"twill","dataDir":5})", "dataDir"},
        {R"({"cniVersion":"1.0.0","name":"n","type":"twill","logLevel":"loud"})", "logLevel"},
        {R"({"cniVersion":"1.0.0","name":"n","type":"twill","dns":{"nameservers":"x"}})",
         "dns.nameservers"},
        {R"({"cniVersion":"1.0.0","name":"n","type":"twill","prevResult":{"ips":[{"address":"10.0.0.300/24"}]}})",
         "prevResult.ips[0].address"},
        {R"({"cniVersion":"1.0.0","name":"n","type":"twill","prevResult":{"ips":[{"address":"10.0.0.3/24","interface":2}]}})",
         "prevResult.ips[0].interface"},
        {R"({"cniVersion":"1.1.0","name":"n","type":"twill","cni.dev/valid-attachments":[{"ifname":"eth0"}]})",
         "cni.dev/valid-attachments[0].containerID"},
    };
    for (const auto& [text, field] : cases) {
        EXPECT_EQ(code_of(text), ErrorCode::InvalidConfig) << text;
        EXPECT_NE(message_of(text).find(field), std::string::npos)
            << message_of(text) << " should name " << field;
    }
}

TEST(CniConfig, PeekVersionReadsWhatItCan) {
    EXPECT_EQ(peek_version(R"({"cniVersion":"0.4.0"})"), Version::v0_4_0);
    EXPECT_EQ(peek_version(R"({"cniVersion":"9.9.9"})"), std::nullopt);
    EXPECT_EQ(peek_version("garbage"), std::nullopt);
}

TEST(CniError, JsonHasSpecFields) {
    const auto text = error_json(
        CniError(ErrorCode::TryAgainLater, "not ready", "subnet.json missing"), Version::v1_0_0);
    const auto json = nlohmann::json::parse(text);
    EXPECT_EQ(json["cniVersion"], "1.0.0");
    EXPECT_EQ(json["code"], 11);
    EXPECT_EQ(json["msg"], "not ready");
    EXPECT_EQ(json["details"], "subnet.json missing");
    EXPECT_FALSE(
        nlohmann::json::parse(error_json(ErrorCode::InvalidConfig, "x", "", Version::v0_3_1))
            .contains("details"));
}

}  // namespace
}  // namespace twill::cni
