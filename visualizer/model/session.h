// A Session is one recorded run of a kernel version (v1, v2 or grouped) and everything the
// visualizer shows about it: a RecordedRun of the run layer (run/recorded_run.h: the scenario, the
// inputs, the kernel's run with its recording, the reference's stages for the same inputs, the
// comparison, where it came from) with the v1/v2 thread_block look-ups at hand (a grouped run's
// views are in model/grouped.h). No UI here: the tests and command-line tools build Sessions
// without a window.
//
// Where a run comes from:
//   - a scenario: the inputs are generated from its seed (core/inputs.h), then the kernel runs;
//   - a dump file (safetensors, as pal-run --output writes, run/run_dump.h): when it holds the
//     recording (kernel.recording_buffer), that recording is shown as it is (a GPU run can be
//     studied on a machine without a GPU); when it holds only inputs (or an output without a
//     recording), the kernel is run again here with the recording probe, and a stored output is
//     checked against the re-run.
#pragma once

#include <cstdint>
#include <string>

#include "core/inputs.h"
#include "core/scenario.h"
#include "kernels/simt/access_profile.h"
#include "run/paged_lookups.h"
#include "run/recorded_run.h"

namespace pal::viz {

class Session : public RecordedRun {
 public:
  // The run must be recorded (throws ScenarioError otherwise).
  explicit Session(RecordedRun run);
  // With the access profile of the kernel run (an emulated run made in this process).
  Session(RecordedRun run, simt::AccessProfile access_profile);

  // Shared-memory banks and global sectors per access site (kernels/simt/access_profile.h): null
  // when the kernel did not run on the emulator here (a GPU run, a recording read from a dump).
  const simt::AccessProfile* access_profile() const {
    return access_profile_.sites.empty() ? nullptr : &access_profile_;
  }

  bool is_grouped() const { return version() == KernelVersion::grouped; }
  // The v1/v2 look-ups the panels use most (run/paged_lookups.h has the rest: paged()); a grouped
  // run has none of these (they throw): its panels ask model/grouped.h.
  bool is_v2() const { return version() == KernelVersion::v2; }
  int num_partitions(int seq_idx) const { return paged().num_partitions(seq_idx); }  // 1 in v1
  TokenRange range(int seq_idx, int partition_idx) const { return paged().range(seq_idx, partition_idx); }
  std::int64_t tb_index(int seq_idx, int head_idx, int partition_idx) const {
    return paged().tb_index(seq_idx, head_idx, partition_idx);
  }

 private:
  simt::AccessProfile access_profile_;
};

// pal-viz keeps one whole recorded run in memory: the tensors, the kernel's recording and the
// reference's stages. A scenario that needs more than this is refused before anything is allocated
// or run (pal-run, which can run without a recording, takes such contexts). The budget also bounds
// the wait: a run costs time in proportion to what it records, and at 256 MiB (about 100k tokens
// with 4 query heads of head_size 64) the emulator took about 10 s of CPU time on the CI machine.
inline constexpr std::uint64_t kVizMemoryBudgetBytes = std::uint64_t{256} << 20;

// What a session of the scenario will hold, computed before it is built (kernels/launch.h plan_run,
// core/scenario.h estimated_buffer_bytes, reference/paged_reference.h reference_run_bytes).
struct SessionMemory {
  std::uint64_t tensors = 0;    // inputs, output and v2's partition buffers
  std::uint64_t recording = 0;  // the debug buffer
  std::uint64_t reference = 0;  // every thread_block's reference stages
  std::uint64_t total() const { return tensors + recording + reference; }
};
// Validates the scenario and plans the run (throws ScenarioError as they do).
SessionMemory session_memory(const Scenario& scenario, Backend backend);

// Validates, checks the memory budget, generates the inputs, runs the kernel with the recording on
// `backend` (auto: the GPU when one answers, else the emulator) and the reference. Throws
// ScenarioError with the reason.
Session make_session(const Scenario& scenario, Backend backend);
// Reads a dump written by pal-run --output (or any safetensors file holding the kernel inputs): its
// recording when it has one, else a re-run of its inputs. Throws ScenarioError naming the file.
Session session_from_dump(const std::string& path, Backend backend);

}  // namespace pal::viz
