#include "uninstall.hpp"

#include <gtest/gtest.h>

#include "twill/error.hpp"

using namespace twill::daemon;

TEST(Uninstall, OwnDevicesByName) {
    for (auto name : {"twill0", "twill.1", "twill.4096", "twill-v6.1", "twill-wg"})
        EXPECT_TRUE(is_own_device(name)) << name;
    for (auto name : {"eth0", "twill", "twill.", "twill1", "twill-v6.", "twill-wg0", "tw0123456789",
                      "flannel.1", "cni0", ""})
        EXPECT_FALSE(is_own_device(name)) << name;
}

TEST(Uninstall, InstallRecordListsBinAndConfFiles) {
    const auto record = parse_cni_install_record(
        "# written by twill-install\n"
        "bin twill\n"
        "\n"
        "conf 10-twill.conflist\r\n"
        "bin  portmap-twill  \n"
        "conf 05-extra.conf");
    EXPECT_EQ(record.bin, (std::vector<std::string>{"twill", "portmap-twill"}));
    EXPECT_EQ(record.conf, (std::vector<std::string>{"10-twill.conflist", "05-extra.conf"}));
    EXPECT_EQ(parse_cni_install_record(""), CniInstallRecord{});
}

TEST(Uninstall, InstallRecordRefusesNamesOutsideTheDirsNamingTheLine) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"bin twill\nconf ../../etc/passwd\n", "line 2"},
        {"bin /usr/bin/ls\n", "line 1"},
        {"conf ..\n", "line 1"},
        {"bin\n", "line 1"},
        {"bin twill\n\nplugin twill\n", "line 3"},
    };
    for (const auto& [text, line] : cases) {
        try {
            parse_cni_install_record(text);
            FAIL() << text;
        } catch (const twill::ParseError& e) {
            EXPECT_EQ(e.field(), std::string(cni_install_record_name) + " " + line) << text;
        }
    }
}
