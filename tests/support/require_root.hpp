#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

// Integration tests that touch namespaces, devices or other processes' state need root;
// without it they are skipped, and say why.
#define TWILL_REQUIRE_ROOT()                                                              \
    do {                                                                                  \
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces): skipped"; \
    } while (0)
