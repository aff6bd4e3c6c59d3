#include "twill/sys/file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "twill/error.hpp"

namespace fs = std::filesystem;

class FileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("twill-file-test-" + std::to_string(::getpid()));
        fs::remove_all(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

TEST_F(FileTest, WritesAtomicallyWithModeAndLeavesNoTemporaries) {
    twill::sys::make_directories(dir_ / "a" / "b", 0700);
    const auto path = dir_ / "a" / "b" / "subnet.json";
    twill::sys::write_file_atomic(path, "one", 0600);
    twill::sys::write_file_atomic(path, "two", 0600);
    EXPECT_EQ(twill::sys::read_file(path), "two");
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "a" / "b"), fs::directory_iterator()), 1);
}

TEST_F(FileTest, ReadOfMissingFileIsNullopt) {
    EXPECT_FALSE(twill::sys::read_file(dir_ / "missing"));
}

TEST_F(FileTest, WriteIntoMissingDirectoryNamesThePath) {
    try {
        twill::sys::write_file_atomic(dir_ / "nope" / "x", "x");
        FAIL();
    } catch (const twill::SystemError& e) {
        EXPECT_EQ(e.code(), ENOENT);
        EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
    }
}
