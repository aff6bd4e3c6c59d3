#include "twill/subnet/state_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "twill/sys/file.hpp"

using namespace twill;
using namespace twill::subnet;

namespace {
class StateDir : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("twill-subnet-state-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::filesystem::path dir_;
};
}  // namespace

TEST_F(StateDir, SavesLoadsAndForgets) {
    EXPECT_FALSE(load_remembered_lease(dir_ / "state"));
    RememberedLease lease{"node-a", net::Prefix::parse("10.244.3.0/24"), 7587869125612345};
    save_remembered_lease(dir_ / "state", lease);
    EXPECT_EQ(load_remembered_lease(dir_ / "state"), lease);
    forget_remembered_lease(dir_ / "state");
    EXPECT_FALSE(load_remembered_lease(dir_ / "state"));
    forget_remembered_lease(dir_ / "state");  // absent: fine
}

TEST_F(StateDir, CorruptFileCountsAsAbsent) {
    sys::make_directories(dir_);
    sys::write_file_atomic(lease_state_path(dir_), "{\"subnet\":\"10.244.3.0\"}");
    EXPECT_FALSE(load_remembered_lease(dir_));
    sys::write_file_atomic(lease_state_path(dir_), "garbage");
    EXPECT_FALSE(load_remembered_lease(dir_));
}
