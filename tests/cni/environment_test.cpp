#include "twill/cni/environment.hpp"

#include <gtest/gtest.h>

#include <map>

#include "twill/cni/error.hpp"

namespace twill::cni {
namespace {

struct FakeEnv {
    std::map<std::string, std::string> values;
    EnvLookup lookup() const {
        return [this](const char* name) -> const char* {
            const auto it = values.find(name);
            return it == values.end() ? nullptr : it->second.c_str();
        };
    }
};

std::string error_of(const FakeEnv& env) {
    try {
        parse_environment(env.lookup());
    } catch (const CniError& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidEnvironment);
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
}

FakeEnv add_env() {
    return FakeEnv{{{"CNI_COMMAND", "ADD"},
                    {"CNI_CONTAINERID", "abc123"},
                    {"CNI_NETNS", "/var/run/netns/pod"},
                    {"CNI_IFNAME", "eth0"},
                    {"CNI_ARGS", "K8S_POD_NAME=web;IgnoreUnknown=1"},
                    {"CNI_PATH", "/opt/cni/bin"}}};
}

TEST(CniEnvironment, ParsesAdd) {
    const auto env = parse_environment(add_env().lookup());
    EXPECT_EQ(env.command, Command::Add);
    EXPECT_EQ(env.container_id, "abc123");
    EXPECT_EQ(env.netns, "/var/run/netns/pod");
    EXPECT_EQ(env.ifname, "eth0");
    ASSERT_EQ(env.args.size(), 2u);
    EXPECT_EQ(env.args[0], (std::pair<std::string, std::string>{"K8S_POD_NAME", "web"}));
    EXPECT_EQ(env.path, "/opt/cni/bin");
}

TEST(CniEnvironment, EachCommandNeedsItsVariables) {
    for (const auto* command : {"ADD", "CHECK"}) {
        for (const auto* missing : {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"}) {
            auto env = add_env();
            env.values["CNI_COMMAND"] = command;
            env.values.erase(missing);
            EXPECT_NE(error_of(env).find(missing), std::string::npos)
                << command << " without " << missing;
        }
    }
    auto del = add_env();
    del.values["CNI_COMMAND"] = "DEL";
    del.values.erase("CNI_NETNS");
    EXPECT_EQ(parse_environment(del.lookup()).netns, "");  // DEL works without a namespace
    for (const auto* command : {"VERSION", "STATUS", "GC"}) {
        FakeEnv env{{{"CNI_COMMAND", command}}};
        EXPECT_EQ(to_string(parse_environment(env.lookup()).command), command);
    }
}

TEST(CniEnvironment, RejectsBadValuesNamingTheVariable) {
    EXPECT_NE(error_of(FakeEnv{}).find("CNI_COMMAND"), std::string::npos);
    EXPECT_NE(error_of(FakeEnv{{{"CNI_COMMAND", "FROB"}}}).find("CNI_COMMAND"), std::string::npos);
    const std::vector<std::pair<std::string, std::string>> bad{
        {"CNI_CONTAINERID", "-leading-dash"},
        {"CNI_CONTAINERID", "a/b"},
        {"CNI_IFNAME", "sixteen-chars-xx"},
        {"CNI_IFNAME", "a/b"},
        {"CNI_IFNAME", ".."},
        {"CNI_IFNAME", "eth 0"},
        {"CNI_ARGS", "novalue"},
        {"CNI_ARGS", "=x"},
    };
    for (const auto& [name, value] : bad) {
        auto env = add_env();
        env.values[name] = value;
        EXPECT_NE(error_of(env).find(name), std::string::npos) << name << "=" << value;
    }
}

}  // namespace
}  // namespace twill::cni
