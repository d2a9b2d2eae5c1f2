#include "visualizer/model/comparison.h"

#include <algorithm>

namespace pal::viz {

ComparisonView comparison_view(const RecordedRun& a, const RecordedRun& b) {
  ComparisonView view;
  view.comparison = compare_versions(a, b);
  // Both ran it; only the version differs, so the summary leaves out its first word (the version).
  const std::string summary = scenario_summary(a.scenario());
  view.scenario_summary = summary.substr(std::min(summary.size(), summary.find(' ') + 1));
  view.origin = a.origin();
  view.passed_a = a.report().passed();
  view.passed_b = b.report().passed();
  return view;
}

std::vector<RecordedRun> run_comparison(const Scenario& scenario, const std::vector<KernelVersion>& versions,
                                        Backend backend) {
  for (KernelVersion version : versions) {
    Scenario as_run = scenario;
    as_run.version = version;
    SessionMemory memory;
    try {
      memory = session_memory(as_run, backend);
    } catch (const ScenarioError& error) {
      throw ScenarioError("the comparison cannot run " + std::string(version_name(version)) + " on this scenario: " +
                          error.what());
    }
    if (memory.total() > kVizMemoryBudgetBytes)
      throw ScenarioError("pal-viz keeps each compared run in memory, and " + std::string(version_name(version)) +
                          " needs " + describe_memory(memory.total()) + " here, more than its budget of " +
                          describe_memory(kVizMemoryBudgetBytes) +
                          ": shorten seq_lens or use fewer heads, or compare with pal-run --compare");
  }
  RecordedRunOptions options;
  options.backend = backend;
  options.max_recording_bytes = kVizMemoryBudgetBytes;
  return run_compared_versions(scenario, versions, options);
}

std::vector<KvHeadBar> kv_head_bars(const VersionComparison& c) {
  std::vector<KvHeadBar> bars;
  for (std::size_t h = 0; h < std::min(c.a.kv_heads.size(), c.b.kv_heads.size()); ++h) {
    const KvHeadTraffic& x = c.a.kv_heads[h];
    const KvHeadTraffic& y = c.b.kv_heads[h];
    KvHeadBar bar;
    bar.kv_head_idx = x.kv_head_idx;
    bar.loaded_a = x.loaded_bytes;
    bar.loaded_b = y.loaded_bytes;
    // v1/v2 load whole kv_blocks (a partial last block's padding slots too) where the grouped kernel
    // copies only the tokens: the larger distinct count covers both.
    bar.unique_bytes = std::max(x.unique_bytes, y.unique_bytes);
    bar.reads_a = x.reads_per_byte();
    bar.reads_b = y.reads_per_byte();
    bar.loads_a = x.num_loads;
    bar.loads_b = y.num_loads;
    bars.push_back(bar);
  }
  return bars;
}

}  // namespace pal::viz
