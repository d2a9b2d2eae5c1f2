// Running the kernel: one entry point for both backends (the GPU and the CPU emulator), with or
// without the recording probe. Everything above this (pal-run, the visualizer, the walkthroughs,
// the tests) goes through run_kernel().
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "core/inputs.h"
#include "core/scenario.h"
#include "core/tensor.h"
#include "kernels/auto_version.h"
#include "kernels/recording.h"
#include "kernels/split_planner.h"

namespace pal {

enum class Backend : std::uint8_t { gpu, emulator, automatic };
std::string_view backend_name(Backend backend);          // "gpu", "emulator", "auto"
bool parse_backend(std::string_view text, Backend& backend);

struct RunOptions {
  Backend backend = Backend::automatic;
  bool record = false;
  std::size_t max_recording_bytes = kDefaultMaxRecordingBytes;
};

struct KernelRun {
  Scenario scenario;
  KernelVersion version = KernelVersion::v1;  // what actually ran (auto resolved)
  Backend backend = Backend::emulator;        // what actually ran
  std::string device_name;                    // "CPU emulator (Boost.Fiber)" or the GPU's name
  Tensor output;      // [num_seqs, num_heads, head_size]                         dtype
  // v2 only (numel 0 for v1): the main kernel's per-partition results that the reduce merges.
  Tensor tmp_out;     // [num_seqs, num_heads, max_num_partitions, head_size]    dtype
  Tensor exp_sums;    // [num_seqs, num_heads, max_num_partitions]                f32
  Tensor max_logits;  // [num_seqs, num_heads, max_num_partitions]                f32
  // grouped only (numel 0 otherwise): the plan it ran with, and each KV split's results that
  // split_merge merges (NaN for splits past a sequence's end, and for sequences with one split).
  GroupedPlan grouped_plan;
  Tensor split_partial_out;  // [num_seqs, num_heads, num_splits, head_size]  f32
  Tensor split_max_logits;   // [num_seqs, num_heads, num_splits]             f32
  Tensor split_exp_sums;     // [num_seqs, num_heads, num_splits]             f32
  std::optional<Recording> recording;
  double elapsed_ms = 0.0;  // wall time of the launch(es), for information only: not a benchmark
};

// What run_kernel decides before it allocates anything: the backend (auto: the GPU when one
// answers), the version (as run_kernel below resolves it; v1 refused when its logits would not fit
// in shared memory) and, with options.record, the recording's layout, checked against
// options.max_recording_bytes. Throws ScenarioError for a run that cannot happen. Front ends call it
// before they generate or read large inputs, so such a run is refused before any allocation.
struct RunPlan {
  Backend backend = Backend::emulator;
  KernelVersion version = KernelVersion::v1;
  std::string auto_reason;  // with version auto: which version it picked and why (kernels/auto_version.h)
  std::optional<RecordLayout> recording;  // with options.record
};
RunPlan plan_run(const Scenario& scenario, const RunOptions& options);

// Chooses the version (auto: kernels/auto_version.h, the grouped kernel on an unrecorded GPU run
// where it was measured faster, else upstream's heuristic, then v2 if v1's logits would not fit in
// shared memory), checks the recording size, and runs (grouped: through
// run_grouped, kernels/grouped_launch.h, with the split planner's choice). Throws ScenarioError for anything the kernel cannot
// run, with the reason and the fix. The first form validates the scenario and inputs; the second
// takes them validated already (core/inputs.h), as the run layer does.
KernelRun run_kernel(const Scenario& scenario, const Inputs& inputs, const RunOptions& options = {});
KernelRun run_kernel(const CheckedInputs& checked, const RunOptions& options = {});

// What `auto` may consider for this scenario on this backend (kernels/auto_version.h): the device's
// shared memory limit, and whether the grouped kernel is a candidate (a GPU run without a recording,
// of a configuration the build compiled the grouped GPU kernel for, whose shared memory fits).
AutoContext auto_context(const Scenario& scenario, Backend backend, bool record);

// GPU presence: false with a reason when built without CUDA, or when no device answers.
bool gpu_available(std::string* why_not = nullptr);

// Dynamic shared memory v1 needs for this scenario (bytes): max(logits, cross-warp outputs).
std::size_t v1_shared_memory_bytes(const Scenario& scenario);
std::size_t v2_shared_memory_bytes(const Scenario& scenario);
// The per-block opt-in limit the emulator enforces, an H100's (232448 B), so the emulator refuses
// what the GPU would refuse.
inline constexpr std::size_t kEmulatedMaxSharedMemoryBytes = 232448;

}  // namespace pal
