#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <twill/api/client.hpp>
#include <twill/api/server.hpp>
#include <twill/sys/fd.hpp>

namespace twill::api {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

class FakeHandler : public Handler {
  public:
    v1::StatusReply status() override {
        calls_from = std::this_thread::get_id();
        if (fail) throw Error("etcd lease lookup failed");
        v1::StatusReply reply;
        reply.set_node("node-a");
        reply.set_subnet("10.244.3.0/24");
        auto* peer = reply.add_peers();
        peer->set_node("node-b");
        peer->set_subnet("10.244.4.0/24");
        peer->set_in_kernel(true);
        return reply;
    }
    v1::CheckReply check() override {
        v1::CheckReply reply;
        reply.set_in_sync(true);
        reply.set_revision(42);
        return reply;
    }
    void probe_round(ProbeRoundDone done) override {
        round_from = std::this_thread::get_id();
        if (round_fails) throw Error("peer probes are off");
        v1::ProbeOutcome outcome;
        outcome.set_node("node-b");
        outcome.set_reachable(false);
        outcome.set_attempts(3);
        // The round ends later, on another thread, as a real one does.
        std::thread([done, outcome] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            done({outcome});
        }).detach();
    }
    v1::LeaveReply leave() override {
        v1::LeaveReply reply;
        reply.set_message("left");
        return reply;
    }
    v1::JoinReply join() override {
        v1::JoinReply reply;
        reply.set_message("joined");
        return reply;
    }
    v1::EvictReply evict(const std::string& node) override {
        if (node.empty()) throw ParseError("node", "empty");
        v1::EvictReply reply;
        reply.set_found(node == "node-b");
        reply.set_message("evicted " + node);
        return reply;
    }

    bool fail = false;
    std::thread::id calls_from;
    std::thread::id round_from;
    bool round_fails = false;
};

class ApiTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char dir_template[] = "/tmp/twill-api-test-XXXXXX";
        ASSERT_NE(::mkdtemp(dir_template), nullptr);
        dir_ = dir_template;
        socket_ = socket_path(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::filesystem::path dir_;
    std::filesystem::path socket_;
    FakeHandler handler_;
};

// A socket file nobody listens on, as a killed daemon leaves behind.
void make_stale_socket(const std::filesystem::path& path) {
    sys::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, path.c_str());
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
}

TEST_F(ApiTest, SocketIsInTheRunDirWithMode0600AndRemovedAtStop) {
    EXPECT_EQ(socket_, dir_ / "twilld.sock");
    {
        Server server(socket_, handler_);
        struct stat info {};
        ASSERT_EQ(::stat(socket_.c_str(), &info), 0);
        EXPECT_TRUE(S_ISSOCK(info.st_mode));
        EXPECT_EQ(info.st_mode & 07777, 0600);
    }
    EXPECT_FALSE(std::filesystem::exists(socket_));
}

TEST_F(ApiTest, ClientGetsTheHandlersReplies) {
    Server server(socket_, handler_);
    Client client(socket_);
    const auto status = client.status();
    EXPECT_EQ(status.node(), "node-a");
    EXPECT_EQ(status.subnet(), "10.244.3.0/24");
    const auto peers = client.peers();
    ASSERT_EQ(peers.peers_size(), 1);
    EXPECT_EQ(peers.peers(0).node(), "node-b");
    EXPECT_TRUE(peers.peers(0).in_kernel());
    EXPECT_EQ(client.check().revision(), 42);
    EXPECT_EQ(client.leave().message(), "left");
    const auto evicted = client.evict("node-b");
    EXPECT_TRUE(evicted.found());
    EXPECT_EQ(evicted.message(), "evicted node-b");
    EXPECT_FALSE(client.evict("node-z").found());
}

TEST_F(ApiTest, HandlerErrorsReachTheClientWithTheirMessage) {
    Server server(socket_, handler_);
    Client client(socket_);
    handler_.fail = true;
    try {
        client.status();
        FAIL() << "no error";
    } catch (const RpcError& e) {
        EXPECT_THAT(e.what(), HasSubstr("etcd lease lookup failed"));
        EXPECT_FALSE(e.invalid_argument());
    }
    try {
        client.evict("");
        FAIL() << "no error";
    } catch (const RpcError& e) {
        EXPECT_THAT(e.what(), HasSubstr("node: empty"));
        EXPECT_TRUE(e.invalid_argument());
    }
}

TEST_F(ApiTest, StaleSocketIsReplaced) {
    make_stale_socket(socket_);
    ASSERT_TRUE(std::filesystem::is_socket(socket_));
    Server server(socket_, handler_);
    EXPECT_EQ(Client(socket_).status().node(), "node-a");
}

TEST_F(ApiTest, LiveServerOnTheSocketIsNotStolen) {
    Server first(socket_, handler_);
    try {
        Server second(socket_, handler_);
        FAIL() << "second server started";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("another twilld"));
    }
    EXPECT_EQ(Client(socket_).status().node(), "node-a");
}

TEST_F(ApiTest, OtherFilesAtTheSocketPathAreLeftAlone) {
    std::ofstream(socket_) << "not a socket";
    EXPECT_THROW(Server(socket_, handler_), Error);
    EXPECT_TRUE(std::filesystem::is_regular_file(socket_));
}

TEST_F(ApiTest, MissingRunDirIsNamed) {
    try {
        Server server(dir_ / "missing" / "twilld.sock", handler_);
        FAIL() << "server started";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr((dir_ / "missing").native() + " does not exist"));
    }
}

TEST_F(ApiTest, NoDaemonIsUnreachableNamingThePath) {
    Client client(socket_);
    try {
        client.status();
        FAIL() << "no error";
    } catch (const UnreachableError& e) {
        EXPECT_THAT(e.what(), HasSubstr(socket_.native()));
        EXPECT_THAT(e.what(), HasSubstr("No such file or directory"));
    }
    make_stale_socket(socket_);
    try {
        client.status();
        FAIL() << "no error";
    } catch (const UnreachableError& e) {
        EXPECT_THAT(e.what(), HasSubstr("Connection refused"));
    }
}

TEST_F(ApiTest, OverlongSocketPathIsRefused) {
    EXPECT_THROW(Client(dir_ / std::string(120, 'x')), ParseError);
}

TEST_F(ApiTest, CallsRunOnTheExecutorWhenGiven) {
    boost::asio::io_context io;
    auto work = boost::asio::make_work_guard(io);
    std::thread loop([&] { io.run(); });
    {
        Server server(socket_, handler_, {.executor = io.get_executor()});
        EXPECT_EQ(Client(socket_).status().node(), "node-a");
        EXPECT_EQ(handler_.calls_from, loop.get_id());
        // A probe round starts on the loop and ends whenever its replies are in; the server
        // waits for it, not the loop.
        const auto check = Client(socket_).check(true);
        EXPECT_TRUE(check.probed());
        ASSERT_EQ(check.probes_size(), 1);
        EXPECT_EQ(check.probes(0).node(), "node-b");
        EXPECT_FALSE(check.probes(0).reachable());
        EXPECT_EQ(handler_.round_from, loop.get_id());
        EXPECT_FALSE(Client(socket_).check().probed());
        handler_.round_fails = true;
        try {
            Client(socket_).check(true);
            FAIL() << "no error";
        } catch (const RpcError& e) {
            EXPECT_THAT(e.what(), HasSubstr("peer probes are off"));
        }
    }
    work.reset();
    io.stop();
    loop.join();
}

TEST_F(ApiTest, StuckEventLoopMakesTheDaemonUnreachable) {
    boost::asio::io_context io;  // never run: the loop does not answer
    Server server(socket_, handler_, {.executor = io.get_executor(), .handler_timeout = 200ms});
    try {
        Client(socket_).status();
        FAIL() << "no error";
    } catch (const UnreachableError& e) {
        EXPECT_THAT(e.what(), HasSubstr("did not answer within 200 ms"));
    }
}

}  // namespace
}  // namespace twill::api
