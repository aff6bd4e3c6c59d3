#include "twill/backend/wireguard_keys.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "twill/error.hpp"
#include "twill/sys/file.hpp"

using namespace twill;
using namespace twill::backend;

namespace {

class KeyFile : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("twill-wg-keys-" + std::to_string(::getpid()));
        std::filesystem::remove_all(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::filesystem::path dir_;
};

}  // namespace

// RFC 7748 section 6.1: Alice's key pair.
TEST(WireguardKeys, PublicKeyIsX25519OfThePrivateKey) {
    const auto priv =
        key_from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "k");
    EXPECT_EQ(key_to_hex(public_key_of(priv)),
              "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
}

TEST(WireguardKeys, GeneratedKeysAreClampedAndDistinct) {
    const auto a = generate_key_pair();
    const auto b = generate_key_pair();
    EXPECT_NE(a.private_key, b.private_key);
    EXPECT_EQ(a.private_key[0] & 7, 0);
    EXPECT_EQ(a.private_key[31] & 128, 0);
    EXPECT_EQ(a.private_key[31] & 64, 64);
    EXPECT_EQ(a.public_key, public_key_of(a.private_key));
}

TEST(WireguardKeys, Base64AndHexRoundTripAndRejectBadText) {
    const auto pair = generate_key_pair();
    EXPECT_EQ(key_from_base64(key_to_base64(pair.public_key), "k"), pair.public_key);
    EXPECT_EQ(key_from_hex(key_to_hex(pair.public_key), "k"), pair.public_key);
    EXPECT_EQ(key_to_base64(pair.public_key).size(), 44u);
    EXPECT_THROW(key_from_hex("abcd", "k"), ParseError);
    EXPECT_THROW(key_from_hex(std::string(64, 'z'), "k"), ParseError);
    EXPECT_THROW(key_from_base64("not base64!", "k"), ParseError);
    try {
        key_from_base64("AAAA", "PublicKey");
        FAIL();
    } catch (const ParseError& e) {
        EXPECT_NE(std::string(e.what()).find("PublicKey"), std::string::npos) << e.what();
    }
}

TEST_F(KeyFile, MissingKeyIsCreatedWithMode0600AndReused) {
    const auto path = dir_ / "state" / "wireguard.key";
    const auto first = load_or_create_key(path);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(*sys::read_file(path), key_to_base64(first.private_key) + "\n");
    const auto again = load_or_create_key(path);
    EXPECT_EQ(again.private_key, first.private_key);
    EXPECT_EQ(again.public_key, first.public_key);

    std::filesystem::remove(path);
    const auto fresh = load_or_create_key(path);
    EXPECT_NE(fresh.public_key, first.public_key);
}

TEST_F(KeyFile, CorruptKeyFileIsAnErrorNamingTheFileAndIsKept) {
    const auto path = dir_ / "wireguard.key";
    sys::make_directories(dir_);
    sys::write_file_atomic(path, "garbage\n", 0600);
    try {
        load_or_create_key(path);
        FAIL() << "accepted a corrupt key file";
    } catch (const ParseError& e) {
        EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
    EXPECT_EQ(*sys::read_file(path), "garbage\n");
}
