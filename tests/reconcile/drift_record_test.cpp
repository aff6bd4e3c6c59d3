#include "twill/reconcile/drift_record.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace twill::reconcile {
namespace {

netlink::Route route(const char* destination, const char* gateway) {
    netlink::Route r;
    r.destination = net::Prefix::parse(destination);
    r.gateway = net::Address::parse(gateway);
    r.oif = 7;
    r.onlink = true;
    return r;
}

std::string key_of(const netlink::Route& r) {
    return r.destination.to_string();
}

TEST(DriftRecord, RemembersWhatWasDesiredUnderEachKey) {
    DriftRecord record;
    const auto a = route("10.244.1.0/24", "10.244.1.0");
    EXPECT_FALSE(record.was_desired("route", key_of(a)));
    record.set("route", key_of(a), a);
    EXPECT_TRUE(record.was_desired("route", key_of(a)));
    EXPECT_TRUE(record.unchanged("route", key_of(a), a));
    // Another value under the same key is a new desired value, not the remembered one.
    EXPECT_FALSE(record.unchanged("route", key_of(a), route("10.244.1.0/24", "10.244.9.0")));
    // Scopes are apart.
    EXPECT_FALSE(record.was_desired("neighbour", key_of(a)));
    record.erase("route", key_of(a));
    EXPECT_FALSE(record.was_desired("route", key_of(a)));
}

TEST(DriftRecord, ReplaceKeepsExactlyTheGivenValues) {
    DriftRecord record;
    std::vector<netlink::Route> routes;
    for (int i = 0; i < 100; ++i) {
        const auto net = "10.244." + std::to_string(i) + ".0";
        routes.push_back(route((net + "/24").c_str(), net.c_str()));
    }
    record.replace("route", routes, key_of);
    for (const auto& r : routes) EXPECT_TRUE(record.unchanged("route", key_of(r), r));

    // Half of them go, one changes its value: the rest are forgotten, the new value counts.
    std::vector<netlink::Route> half(routes.begin(), routes.begin() + 50);
    half[3] = route("10.244.3.0/24", "10.244.77.0");
    record.replace("route", half, key_of);
    for (std::size_t i = 0; i < routes.size(); ++i) {
        EXPECT_EQ(record.was_desired("route", key_of(routes[i])), i < 50) << i;
    }
    EXPECT_TRUE(record.unchanged("route", key_of(half[3]), half[3]));
    EXPECT_FALSE(record.unchanged("route", key_of(routes[3]), routes[3]));

    record.forget("route");
    EXPECT_FALSE(record.was_desired("route", key_of(half[0])));
}

// A replace with the set the last one was given may skip its work only while nothing else
// changed the record: after a set or an erase in between, the same set must count again.
TEST(DriftRecord, ASecondReplaceWithTheSameSetStillUndoesSetsAndErasesInBetween) {
    DriftRecord record;
    const std::vector<netlink::Route> routes{route("10.244.1.0/24", "10.244.1.0"),
                                             route("10.244.2.0/24", "10.244.2.0")};
    record.replace("route", routes, key_of);
    record.replace("route", routes, key_of);
    EXPECT_TRUE(record.unchanged("route", key_of(routes[0]), routes[0]));

    const auto moved = route("10.244.1.0/24", "10.244.9.0");
    record.set("route", key_of(moved), moved);
    record.replace("route", routes, key_of);
    EXPECT_TRUE(record.unchanged("route", key_of(routes[0]), routes[0]));
    EXPECT_FALSE(record.unchanged("route", key_of(moved), moved));

    record.erase("route", key_of(routes[1]));
    record.replace("route", routes, key_of);
    EXPECT_TRUE(record.was_desired("route", key_of(routes[1])));

    record.forget("route");
    record.replace("route", routes, key_of);
    EXPECT_TRUE(record.was_desired("route", key_of(routes[0])));
}

}  // namespace
}  // namespace twill::reconcile
