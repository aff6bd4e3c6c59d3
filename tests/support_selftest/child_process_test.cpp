#include "child_process.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

using namespace twill::testing;

TEST(ChildProcess, RunsCommandsAndCapturesOutput) {
    auto r = run_command({"sh", "-c", "echo hello; echo err >&2; exit 3"});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.output.find("hello"), std::string::npos);
    EXPECT_NE(r.output.find("err"), std::string::npos);
}

TEST(ChildProcess, EndsItsProcessWhenDestroyed) {
    pid_t pid;
    {
        ChildProcess sleeper({"sleep", "60"});
        pid = sleeper.pid();
        EXPECT_TRUE(sleeper.running());
    }
    EXPECT_EQ(::kill(pid, 0), -1);
}

TEST(ChildProcess, EscalatesToSigkill) {
    ChildProcess stubborn({"sh", "-c", "trap '' TERM; sleep 60"});
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    int status = stubborn.stop(SIGTERM, std::chrono::milliseconds(200));
    EXPECT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
}
