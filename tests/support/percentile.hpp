#pragma once
// The percentile every benchmark prints: nearest rank, the smallest sample that at least a
// fraction `p` of the samples do not exceed. Of 100 samples, p99 is the second largest; the
// largest is the maximum, which a benchmark prints as such when it wants it.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace twill::test {

inline double percentile(std::vector<double> samples, double p) {
    if (samples.empty()) return 0;
    std::sort(samples.begin(), samples.end());
    // 0.99 * 200 is 198.00000000000003 in doubles: a rank is an integer only up to rounding.
    const auto rank =
        static_cast<std::size_t>(std::ceil(p * static_cast<double>(samples.size()) - 1e-9));
    return samples[std::clamp<std::size_t>(rank, 1, samples.size()) - 1];
}

}  // namespace twill::test
