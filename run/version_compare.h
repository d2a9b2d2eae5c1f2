// Two versions of the kernel on the same inputs, side by side (issue 11's comparison view): what
// each read from the KV cache, per KV head, counted from its recorded load addresses (v1/v2: every
// vector load of `loads`; grouped: every cp.async of `grouped_copies`); its loads per lane; its
// launches, thread_blocks, stages and shared memory; and how far apart the two outputs are.
// pal-run --compare prints it; the visualizer can draw it. Plain data, testable without a display.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "run/recorded_run.h"

namespace pal {

// What one KV head's K and V cost a run: every byte the loads brought in, re-reads included, and the
// distinct cache bytes among them (the bytes a kernel that reads each once would need).
struct KvHeadTraffic {
  int kv_head_idx = 0;
  std::int64_t loaded_bytes = 0;  // sum over the K/V loads that read this KV head
  std::int64_t unique_bytes = 0;  // distinct bytes of k_cache and v_cache among them
  std::int64_t num_loads = 0;     // K/V load instructions (v1/v2: vector loads; grouped: 16-byte copies)
  double reads_per_byte() const { return unique_bytes > 0 ? double(loaded_bytes) / double(unique_bytes) : 0.0; }
};

// One recorded run of one version, summarised for the comparison.
struct VersionProfile {
  KernelVersion version = KernelVersion::v1;
  std::string device;
  int num_launches = 0;                 // kernels launched: v1 1; v2 2 (main, reduce); grouped 1 or 2 (split_merge)
  std::int64_t num_thread_blocks = 0;   // of the main kernel
  int threads_per_block = 0;
  std::size_t shared_memory_bytes = 0;  // of one main-kernel thread_block (dynamic + static)
  std::vector<std::string> stages;      // the registry's stages this version runs, in kernel order
  std::vector<KvHeadTraffic> kv_heads;  // [num_kv_heads]
  std::int64_t loaded_bytes = 0;        // all KV heads
  std::int64_t unique_bytes = 0;
  // K/V loads per lane (thread) of the main kernel, over every thread of every thread_block.
  double mean_loads_per_lane = 0.0;
  int max_loads_per_lane = 0;
  std::int64_t query_loads = 0;  // v1/v2's q loads (grouped loads its query tile without recording it)
};

// Element by element, in the output dtype: the largest absolute difference and where, and the
// largest distance in units in the last place (adjacent representable values of the dtype apart).
struct OutputDifference {
  int num_seqs = 0, num_heads = 0, head_size = 0;
  // Element by element, [num_seqs, num_heads, head_size]: both outputs (as floats) and |a - b|.
  std::vector<float> values_a, values_b, abs_diff;
  std::vector<double> head_max_abs;  // [num_seqs, num_heads] the largest |a - b| of each head
  double max_abs = 0.0;
  std::int64_t max_ulps = 0;
  int seq_idx = 0, head_idx = 0, dim_idx = 0;  // where max_abs is (the first such element)
  float value_a = 0.0f, value_b = 0.0f;        // the two outputs there
  std::int64_t ulps_at_max_abs = 0;            // and how many ulps of the dtype apart they are
  std::int64_t num_elements = 0;
  std::int64_t num_different = 0;  // elements whose bit patterns differ
};

struct VersionComparison {
  VersionProfile a, b;
  OutputDifference difference;
};

// Summarises a recorded run (throws ScenarioError when the run was not recorded, or when its
// recording holds a load outside the cache: a damaged dump).
VersionProfile profile_version(const RecordedRun& run);

// Distance in ulps of the dtype between two finite values of it (0 when equal; NaNs: INT64_MAX).
std::int64_t ulps_between(float a, float b, DType dtype);

// `a` and `b` hold [num_seqs, num_heads, head_size] outputs of `dtype` of the same shape.
OutputDifference output_difference(const Tensor& a, const Tensor& b, DType dtype, int num_heads, int head_size);

// Both runs must be recorded and have run the same scenario (but the version) on the same inputs.
VersionComparison compare_versions(const RecordedRun& a, const RecordedRun& b);

// "v1,grouped": two different kernel versions (auto is a choice between them, not one). Throws
// ScenarioError quoting `flag` and `text` and saying what to give.
std::vector<KernelVersion> parse_compared_versions(const std::string& text, const std::string& flag = "--compare");

// The runs of a comparison, each recorded (the comparison counts recorded loads), on one set of
// inputs. Each version's own validity is checked before anything runs: a version the scenario
// cannot run (the grouped kernel takes no fp8 cache or block sparsity) is refused with the
// version's name and the reason. From a scenario, the inputs are generated once from its seed,
// after every version's run was checked to fit (check_run_fits); from checked inputs, they are used
// as they are. pal-run --compare and pal-viz --compare both run their comparison through these.
std::vector<RecordedRun> run_compared_versions(const Scenario& scenario, const std::vector<KernelVersion>& versions,
                                               RecordedRunOptions options);
std::vector<RecordedRun> run_compared_versions(const CheckedInputs& checked, const std::vector<KernelVersion>& versions,
                                               RecordedRunOptions options, const std::string& origin);

// The comparison's quantities side by side, as text: launches, thread_blocks, threads, shared
// memory, stages, K/V bytes loaded and distinct, reads per byte, loads per lane, then one row per KV
// head. pal-run --compare prints them; pal-viz's compare panel shows the same rows.
struct ComparisonRow {
  std::string quantity, a, b;
};
std::vector<ComparisonRow> comparison_rows(const VersionComparison& comparison);

// The side-by-side table pal-run --compare prints (comparison_rows, the stages, the outputs' difference).
std::string format_comparison(const VersionComparison& comparison);

}  // namespace pal
