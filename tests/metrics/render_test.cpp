#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <twill/metrics/render.hpp>

namespace twill::metrics {
namespace {

using ::testing::HasSubstr;

TEST(RenderText, CountersWithLabelsHaveHelpAndType) {
    prometheus::Registry registry;
    auto& corrections = prometheus::BuildCounter()
                            .Name("twill_corrections_total")
                            .Help("Kernel objects fixed, by kind.")
                            .Register(registry);
    corrections.Add({{"kind", "route_added"}}).Increment(2);
    corrections.Add({{"kind", "fdb_deleted"}}).Increment();

    const std::string text = render_text(registry);
    EXPECT_THAT(text, HasSubstr("# HELP twill_corrections_total Kernel objects fixed, by kind.\n"));
    EXPECT_THAT(text, HasSubstr("# TYPE twill_corrections_total counter\n"));
    EXPECT_THAT(text, HasSubstr("twill_corrections_total{kind=\"route_added\"} 2\n"));
    EXPECT_THAT(text, HasSubstr("twill_corrections_total{kind=\"fdb_deleted\"} 1\n"));
}

TEST(RenderText, GaugeFollowsSets) {
    prometheus::Registry registry;
    auto& peers = prometheus::BuildGauge()
                      .Name("twill_peers")
                      .Help("Valid peer leases.")
                      .Register(registry)
                      .Add({});
    peers.Set(1000);
    EXPECT_THAT(render_text(registry), HasSubstr("# TYPE twill_peers gauge\ntwill_peers 1000\n"));
    peers.Decrement(3);
    EXPECT_THAT(render_text(registry), HasSubstr("twill_peers 997\n"));
}

TEST(RenderText, HistogramHasCumulativeBucketsSumAndCount) {
    prometheus::Registry registry;
    auto& duration = prometheus::BuildHistogram()
                         .Name("twill_reconcile_duration_seconds")
                         .Help("Time of one reconcile.")
                         .Register(registry)
                         .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.01, 0.1});
    duration.Observe(0.0005);
    duration.Observe(0.05);
    duration.Observe(2);

    const std::string text = render_text(registry);
    EXPECT_THAT(text, HasSubstr("# TYPE twill_reconcile_duration_seconds histogram\n"));
    EXPECT_THAT(text, HasSubstr("twill_reconcile_duration_seconds_bucket{le=\"0.001\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("twill_reconcile_duration_seconds_bucket{le=\"0.01\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("twill_reconcile_duration_seconds_bucket{le=\"0.1\"} 2\n"));
    EXPECT_THAT(text, HasSubstr("twill_reconcile_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
    EXPECT_THAT(text, HasSubstr("twill_reconcile_duration_seconds_count 3\n"));
    EXPECT_THAT(text, HasSubstr("twill_reconcile_duration_seconds_sum 2.0505\n"));
}

TEST(RenderText, LabelValuesAreEscaped) {
    prometheus::Registry registry;
    prometheus::BuildCounter()
        .Name("twill_invalid_leases_total")
        .Help("Leases ignored.")
        .Register(registry)
        .Add({{"reason", "bad \"PublicIP\"\nline"}})
        .Increment();
    EXPECT_THAT(
        render_text(registry),
        HasSubstr("twill_invalid_leases_total{reason=\"bad \\\"PublicIP\\\"\\nline\"} 1\n"));
}

}  // namespace
}  // namespace twill::metrics
