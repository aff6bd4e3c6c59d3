#include "percentile.hpp"

#include <gtest/gtest.h>

#include <numeric>

namespace twill::test {
namespace {

std::vector<double> one_to(int n) {
    std::vector<double> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 1.0);
    std::reverse(v.begin(), v.end());  // unsorted on purpose
    return v;
}

TEST(Percentile, IsTheNearestRank) {
    EXPECT_EQ(percentile(one_to(100), 0.99), 99);  // not the maximum
    EXPECT_EQ(percentile(one_to(100), 0.5), 50);
    EXPECT_EQ(percentile(one_to(200), 0.99), 198);
    EXPECT_EQ(percentile(one_to(1000), 0.99), 990);
    EXPECT_EQ(percentile(one_to(10), 0.99), 10);  // too few samples: the maximum
    EXPECT_EQ(percentile(one_to(3), 0.5), 2);
}

TEST(Percentile, EdgesStayInRange) {
    EXPECT_EQ(percentile(one_to(5), 0), 1);
    EXPECT_EQ(percentile(one_to(5), 1), 5);
    EXPECT_EQ(percentile({}, 0.99), 0);
    EXPECT_EQ(percentile({7}, 0.99), 7);
}

}  // namespace
}  // namespace twill::test
