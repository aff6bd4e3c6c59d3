#pragma once
// The fixture of a test with a virtual cluster: the daemons' logs go to stderr when the test
// failed, and the cluster (daemons, pods, namespaces, etcd) is removed after it, failed or not.
// Derived fixtures make `cluster_` in SetUp after TWILL_REQUIRE_ROOT().
#include <gtest/gtest.h>

#include <iostream>
#include <optional>

#include "virtual_cluster.hpp"

namespace twill::testing {

class ClusterTest : public ::testing::Test {
  protected:
    void TearDown() override {
        if (HasFailure() && cluster_) cluster_->print_logs(std::cerr);
        cluster_.reset();
    }

    std::optional<VirtualCluster> cluster_;
};

}  // namespace twill::testing
