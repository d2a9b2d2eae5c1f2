// The comparison view's model (visualizer/model/comparison.h): the same numbers as pal-run --compare
// (both read run/version_compare.h), one bar pair per KV head, and the checks that refuse a
// comparison before anything runs.
#include <catch2/catch.hpp>

#include <algorithm>

#include "tests/visualizer/viz_test_support.h"
#include "visualizer/model/comparison.h"
#include "visualizer/model/view_model.h"

namespace pal::viz {
namespace {

// GQA 8/2 (groups of 4), two short sequences.
Scenario small_gqa() {
  Scenario s;
  s.num_heads = 8;
  s.num_kv_heads = 2;
  s.seq_lens = {70, 20};
  return s;
}

TEST_CASE("the comparison view holds the two runs' comparison; its bars and rows are version_compare's numbers") {
  const std::vector<RecordedRun> runs =
      run_comparison(small_gqa(), {KernelVersion::v1, KernelVersion::grouped}, Backend::emulator);
  REQUIRE(runs.size() == 2u);
  const ComparisonView view = comparison_view(runs[0], runs[1]);
  CHECK(view.passed_a);
  CHECK(view.passed_b);
  CHECK_THAT(view.scenario_summary, Catch::Contains("8"));
  const VersionComparison direct = compare_versions(runs[0], runs[1]);
  CHECK(view.comparison.a.loaded_bytes == direct.a.loaded_bytes);
  CHECK(view.comparison.b.loaded_bytes == direct.b.loaded_bytes);

  const std::vector<KvHeadBar> bars = kv_head_bars(view.comparison);
  REQUIRE(bars.size() == 2u);
  for (const KvHeadBar& bar : bars) {
    const KvHeadTraffic& a = view.comparison.a.kv_heads[static_cast<std::size_t>(bar.kv_head_idx)];
    const KvHeadTraffic& b = view.comparison.b.kv_heads[static_cast<std::size_t>(bar.kv_head_idx)];
    CHECK(bar.loaded_a == a.loaded_bytes);
    CHECK(bar.loaded_b == b.loaded_bytes);
    // v1 reads each KV head once per query head of its group (4), the grouped kernel once.
    CHECK(bar.reads_a == Approx(4.0));
    CHECK(bar.reads_b == Approx(1.0));
    CHECK(bar.unique_bytes >= bar.loaded_b);
    CHECK(bar.loaded_a == 4 * a.unique_bytes);
  }
  // The table is the one pal-run prints: every row appears in format_comparison's text.
  const std::string printed = format_comparison(view.comparison);
  for (const ComparisonRow& row : comparison_rows(view.comparison)) {
    CHECK_THAT(printed, Catch::Contains(row.quantity));
    CHECK_THAT(printed, Catch::Contains(row.a));
    CHECK_THAT(printed, Catch::Contains(row.b));
  }
  // The element-wise difference covers every output element.
  const OutputDifference& d = view.comparison.difference;
  CHECK(d.abs_diff.size() == std::size_t(2 * 8 * 64));
  CHECK(*std::max_element(d.abs_diff.begin(), d.abs_diff.end()) == Approx(d.max_abs));
}

TEST_CASE("the view model opens a comparison: the compare panel's data, and the second version for the other panels") {
  ViewModel model;
  CHECK(model.comparison() == nullptr);
  model.open_comparison(small_gqa(), {KernelVersion::v1, KernelVersion::grouped}, Backend::emulator);
  REQUIRE(model.comparison() != nullptr);
  CHECK(model.comparison()->comparison.a.version == KernelVersion::v1);
  CHECK(model.comparison()->comparison.b.version == KernelVersion::grouped);
  CHECK(model.session().is_grouped());
  CHECK(model.timeline().size() > 0);
}

TEST_CASE("a comparison the scenario cannot run, or one beyond pal-viz's memory budget, is refused before it runs") {
  ViewModel model;
  Scenario sparse = small_gqa();  // the grouped kernel has no block sparsity
  sparse.head_size = 128;
  sparse.block_sparse.vert_stride = 4;
  sparse.block_sparse.local_blocks = 1;
  CHECK_THROWS_WITH(model.open_comparison(sparse, {KernelVersion::v1, KernelVersion::grouped}, Backend::emulator),
                    Catch::Contains("cannot run grouped"));
  Scenario huge = small_gqa();
  huge.seq_lens = {1048576};
  huge.num_seqs = 1;
  // v1 cannot take a million tokens at all (its logits live in shared memory); v2 and grouped can,
  // but not within pal-viz's memory budget.
  CHECK_THROWS_WITH(run_comparison(huge, {KernelVersion::v1, KernelVersion::grouped}, Backend::emulator),
                    Catch::Contains("cannot run v1") && Catch::Contains("shared memory"));
  CHECK_THROWS_WITH(run_comparison(huge, {KernelVersion::v2, KernelVersion::grouped}, Backend::emulator),
                    Catch::Contains("budget") && Catch::Contains("pal-run --compare"));
  CHECK(model.comparison() == nullptr);
  CHECK_FALSE(model.ready());
}

}  // namespace
}  // namespace pal::viz
