#include <sched.h>

#include <optional>

#include "invocation.hpp"
#include "twill/error.hpp"

namespace twill::plugin {

netlink::Handle open_handle_in(const netlink::Netns& target) {
    // Handle(netns) opens its socket on a helper thread so that long-lived multi-threaded
    // callers never move a thread. The plugin is one short-lived thread: entering the
    // namespace and coming back is cheaper than starting a thread on every ADD.
    const auto home = netlink::Netns::current();
    if (::setns(target.fd(), CLONE_NEWNET) != 0)
        throw_errno("enter network namespace " + target.description());
    std::optional<netlink::Handle> handle;
    try {
        handle.emplace();
    } catch (...) {
        ::setns(home.fd(), CLONE_NEWNET);
        throw;
    }
    if (::setns(home.fd(), CLONE_NEWNET) != 0)
        throw_errno("return to the node's network namespace");
    return std::move(*handle);
}

}  // namespace twill::plugin
