#include "leave_marker.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iterator>

#include "twill/error.hpp"
#include "twill/sys/file.hpp"

using namespace twill::daemon;
namespace fs = std::filesystem;

namespace {
class LeaveMarkerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("twill-leave-marker-" + std::to_string(::getpid()));
        fs::remove_all(dir_);
    }
    void TearDown() override {
        std::error_code ec;
        fs::permissions(dir_, fs::perms::owner_all, ec);
        fs::remove_all(dir_, ec);
    }
    fs::path dir_;
};
}  // namespace

TEST_F(LeaveMarkerTest, PathIsLeftInTheStateDir) {
    EXPECT_EQ(leave_marker_path("/var/lib/twill"), fs::path("/var/lib/twill/left"));
}

TEST_F(LeaveMarkerTest, WriteCreatesTheStateDirAndKeepsTheReason) {
    const auto state = dir_ / "state";
    EXPECT_FALSE(has_left(state));
    EXPECT_FALSE(leave_reason(state));
    write_leave_marker(state, "netctl leave at 2024-05-01T10:00:00Z");
    EXPECT_TRUE(has_left(state));
    EXPECT_EQ(leave_reason(state), "netctl leave at 2024-05-01T10:00:00Z");
    EXPECT_EQ(twill::sys::read_file(state / "left"), "netctl leave at 2024-05-01T10:00:00Z\n");
    struct stat st {};
    ASSERT_EQ(::stat((state / "left").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    // Nothing but the marker: no temporary file left beside it.
    EXPECT_EQ(std::distance(fs::directory_iterator(state), fs::directory_iterator{}), 1);

    write_leave_marker(state, "again");  // replaces, never appends
    EXPECT_EQ(leave_reason(state), "again");
}

TEST_F(LeaveMarkerTest, RemoveIsIdempotent) {
    const auto state = dir_ / "state";
    remove_leave_marker(state);  // neither dir nor marker: fine
    write_leave_marker(state, "left");
    remove_leave_marker(state);
    EXPECT_FALSE(has_left(state));
    EXPECT_TRUE(fs::exists(state));  // the dir itself stays
    remove_leave_marker(state);
}

TEST_F(LeaveMarkerTest, FailuresNameThePath) {
    // A state dir that is a file, and a "left" that is a directory: errors even for root.
    fs::create_directories(dir_);
    twill::sys::write_file_atomic(dir_ / "file", "x");
    try {
        write_leave_marker(dir_ / "file" / "state", "left");
        FAIL() << "wrote below a regular file";
    } catch (const twill::SystemError& e) {
        EXPECT_NE(std::string(e.what()).find((dir_ / "file").string()), std::string::npos)
            << e.what();
    }
    const auto state = dir_ / "state";
    fs::create_directories(state / "left" / "inside");
    try {
        remove_leave_marker(state);
        FAIL() << "removed a directory named left";
    } catch (const twill::SystemError& e) {
        EXPECT_NE(std::string(e.what()).find((state / "left").string()), std::string::npos)
            << e.what();
    }
    EXPECT_TRUE(fs::exists(state / "left" / "inside"));
}
