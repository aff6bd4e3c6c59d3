#pragma once
// The CPU time this process has used, in milliseconds: what a benchmark's floor is measured in
// when it stands beside a daemon's CPU (an idle resync, a probe), not wall-clock time.
#include <time.h>

namespace twill::test {

inline double own_cpu_ms() {
    timespec t{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

}  // namespace twill::test
