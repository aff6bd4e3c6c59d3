#include "transport.hpp"

#include <linux/rtnetlink.h>

#include <stdexcept>

#include "integration.hpp"

namespace twill::netlink::testing {
namespace {

using TransportTest = NetnsTest;

// A dump whose handler throws is read to its end, so the socket serves the next request.
TEST_F(TransportTest, ThrowingHandlerLeavesTheSocketUsable) {
    for (int i = 0; i < 20; ++i) make_bridge("br" + std::to_string(i));
    detail::RtnlSocket socket(&netns().netns());
    auto describe = [] { return std::string("dump links"); };
    int seen = 0;
    EXPECT_THROW(socket.dump(
                     RTM_GETLINK, AF_UNSPEC,
                     [&](const nlmsghdr*) {
                         ++seen;
                         throw std::runtime_error("handler failed");
                     },
                     {}, describe),
                 std::runtime_error);
    EXPECT_EQ(seen, 1);
    int links = 0;
    socket.dump(
        RTM_GETLINK, AF_UNSPEC, [&](const nlmsghdr*) { ++links; }, {}, describe);
    EXPECT_EQ(links, 21);  // lo and the bridges
}

}  // namespace
}  // namespace twill::netlink::testing
