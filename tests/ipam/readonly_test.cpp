// The store on a read-only mount, as twilld sees the plugin's data dir in its DaemonSet: a
// child process makes a private mount namespace, binds the store's directory read-only onto
// itself and lists it there. Needs root (skipped otherwise).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>

#include "require_root.hpp"
#include "twill/ipam/store.hpp"

namespace twill::ipam {
namespace {

namespace fs = std::filesystem;

// Runs `body` in a child inside a private mount namespace in which `dir` is read-only; returns
// what the child reports ("" when all went well). The mount lives and dies with the child's
// namespace; the child unmounts it explicitly all the same.
std::string run_read_only(const fs::path& dir, const std::function<std::string()>& body) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
    const pid_t child = ::fork();
    if (child < 0) return std::string("fork: ") + std::strerror(errno);
    if (child == 0) {
        ::close(pipe_fds[0]);
        std::string report;
        auto fail = [&](const char* what) {
            report = std::string(what) + ": " + std::strerror(errno);
        };
        if (::unshare(CLONE_NEWNS) != 0) {
            fail("unshare");
        } else if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
            fail("make / private");
        } else if (::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0) {
            fail("bind");
        } else {
            if (::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) !=
                0) {
                fail("remount read-only");
            } else if (::open((dir / "probe").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644) >= 0 ||
                       errno != EROFS) {
                report = "the bind mount is not read-only";
            } else {
                try {
                    report = body();
                } catch (const std::exception& e) {
                    report = std::string("threw: ") + e.what();
                }
            }
            ::umount2(dir.c_str(), MNT_DETACH);
        }
        [[maybe_unused]] auto n = ::write(pipe_fds[1], report.data(), report.size());
        ::_exit(0);
    }
    ::close(pipe_fds[1]);
    std::string report;
    char buffer[512];
    for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        report.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) report += " (child died)";
    return report;
}

class ReadOnlyStore : public ::testing::Test {
  protected:
    void SetUp() override {
        TWILL_REQUIRE_ROOT();
        char dir_template[] = "/tmp/twill-ipam-ro-XXXXXX";
        root_ = ::mkdtemp(dir_template);
        dir_ = root_ / "twill";
    }
    void TearDown() override {
        if (!root_.empty()) fs::remove_all(root_);
    }

    std::set<std::string> files() const {
        std::set<std::string> names;
        for (const auto& e : fs::directory_iterator(dir_))
            names.insert(e.path().filename().string());
        return names;
    }

    fs::path root_;
    fs::path dir_;
};

TEST_F(ReadOnlyStore, ListAndFindWorkOnAReadOnlyMount) {
    // As the plugin leaves it, plus leftovers of a killed writer, but no lock file yet (a
    // store written by an older plugin, or by host-local).
    {
        Store writer(dir_);
        writer.reserve(net::Prefix::parse("10.244.3.0/24"), net::Address::parse("10.244.3.1"),
                       {"c1", "eth0"});
    }
    fs::remove(dir_ / "lock");
    std::ofstream(dir_ / "10.244.3.7") << "c2\r\nnet1\r\n";
    std::ofstream(dir_ / ".reserving") << "c3\n";
    const auto before = files();

    const auto report = run_read_only(root_, [&]() -> std::string {
        Store store(dir_);
        const auto listed = store.list();
        std::set<std::string> seen;
        for (const auto& r : listed)
            seen.insert(r.address.to_string() + " " + r.owner.container_id + " " + r.owner.ifname);
        if (seen != std::set<std::string>{"10.244.3.2 c1 eth0", "10.244.3.7 c2 net1"}) {
            std::string text = "list() gave:";
            for (const auto& s : seen) text += " [" + s + "]";
            return text;
        }
        const auto found = store.find(net::Address::parse("10.244.3.7"));
        if (!found || found->owner != Attachment{"c2", "net1"}) return "find() missed 10.244.3.7";
        if (store.find(net::Address::parse("10.244.3.9"))) return "find() found 10.244.3.9";
        // A store that was never written: empty, not an error.
        if (!Store(root_ / "absent").list().empty()) return "absent store not empty";
        return "";
    });
    EXPECT_EQ(report, "");
    EXPECT_EQ(files(), before);  // nothing created or cleaned up
    EXPECT_FALSE(fs::exists(root_ / "absent"));
}

TEST_F(ReadOnlyStore, ReserveOnAReadOnlyMountFailsNamingThePath) {
    fs::create_directories(dir_);
    const auto report = run_read_only(root_, [&]() -> std::string {
        try {
            Store(dir_).reserve(net::Prefix::parse("10.244.3.0/24"),
                                net::Address::parse("10.244.3.1"), {"c1", "eth0"});
            return "reserve succeeded on a read-only mount";
        } catch (const SystemError& e) {
            const std::string message = e.what();
            if (message.find(dir_.string()) == std::string::npos) return "unclear: " + message;
            return "";
        }
    });
    EXPECT_EQ(report, "");
    EXPECT_TRUE(files().empty());
}

}  // namespace
}  // namespace twill::ipam
