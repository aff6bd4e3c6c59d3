#include "twill/netlink/failpoints.hpp"

#include <atomic>
#include <cerrno>
#include <charconv>
#include <map>
#include <mutex>
#include <string>

#include "twill/error.hpp"

namespace twill::netlink {

namespace {

constexpr int forever = -1;

struct Failpoints {
    std::atomic<bool> armed{false};  // the common case costs one load
    std::mutex mutex;
    std::map<std::string, int, std::less<>> remaining;
};

Failpoints& failpoints() {
    static Failpoints instance;
    return instance;
}

bool known(std::string_view name) {
    return name == "dump_links" || name == "dump_addresses" || name == "dump_routes" ||
           name == "dump_neighbours" || name == "dump_fdb";
}

}  // namespace

void set_failpoints(std::string_view spec) {
    std::map<std::string, int, std::less<>> parsed;
    while (!spec.empty()) {
        const auto comma = spec.find(',');
        auto item = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
        if (item.empty()) continue;
        int count = forever;
        if (const auto equals = item.find('='); equals != std::string_view::npos) {
            const auto number = item.substr(equals + 1);
            const auto [end, ec] =
                std::from_chars(number.data(), number.data() + number.size(), count);
            if (ec != std::errc() || end != number.data() + number.size() || count < 1) {
                throw ParseError("TWILL_FAILPOINTS", "\"" + std::string(item) +
                                                         "\": the count must be a positive number");
            }
            item = item.substr(0, equals);
        }
        if (!known(item)) {
            throw ParseError("TWILL_FAILPOINTS", "unknown failpoint \"" + std::string(item) +
                                                     "\" (dump_links, dump_addresses, "
                                                     "dump_routes, dump_neighbours, dump_fdb)");
        }
        parsed[std::string(item)] = count;
    }
    auto& f = failpoints();
    std::lock_guard lock(f.mutex);
    f.remaining = std::move(parsed);
    f.armed.store(!f.remaining.empty());
}

void check_failpoint(std::string_view name) {
    auto& f = failpoints();
    if (!f.armed.load(std::memory_order_relaxed)) return;
    std::lock_guard lock(f.mutex);
    const auto it = f.remaining.find(name);
    if (it == f.remaining.end()) return;
    if (it->second != forever && --it->second == 0) f.remaining.erase(it);
    throw SystemError(std::string(name) + ": injected failure (TWILL_FAILPOINTS)", EIO);
}

}  // namespace twill::netlink
