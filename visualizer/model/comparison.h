// The comparison view's model (pal-viz --compare v1,grouped, the compare panel): two kernel versions
// run on the same inputs, summarised by run/version_compare.h, the code pal-run --compare prints
// from, so the panel and the command line show the same numbers. What the panel draws is read from
// here and from run/version_compare.h (comparison_rows: the table's rows): one pair of bars per KV head (bytes each version loaded against the
// distinct bytes, i.e. one read of each), and the element-wise |difference| of the two outputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "run/version_compare.h"
#include "visualizer/model/session.h"

namespace pal::viz {

struct ComparisonView {
  VersionComparison comparison;
  std::string scenario_summary;   // the scenario both ran (the version aside)
  std::string origin;             // where the inputs came from
  bool passed_a = false, passed_b = false;  // each run within tolerance of its own reference
};

// From two runs of the same inputs (throws ScenarioError as compare_versions does).
ComparisonView comparison_view(const RecordedRun& a, const RecordedRun& b);

// The runs of a comparison for pal-viz: each version checked against pal-viz's memory budget
// (session_memory, kVizMemoryBudgetBytes) before anything runs, then run_compared_versions. Throws
// ScenarioError saying which version and why.
std::vector<RecordedRun> run_comparison(const Scenario& scenario, const std::vector<KernelVersion>& versions,
                                        Backend backend);

// One KV head's bar pair: what each version loaded, and the distinct bytes among them.
struct KvHeadBar {
  int kv_head_idx = 0;
  std::int64_t loaded_a = 0, loaded_b = 0;
  std::int64_t unique_bytes = 0;  // distinct cache bytes, the larger of the two versions' counts
  double reads_a = 0.0, reads_b = 0.0;  // loaded / unique
  std::int64_t loads_a = 0, loads_b = 0;  // load instructions (v1/v2 vector loads; grouped 16-byte copies)
};
std::vector<KvHeadBar> kv_head_bars(const VersionComparison& comparison);

}  // namespace pal::viz
