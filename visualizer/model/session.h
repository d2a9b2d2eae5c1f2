// A Session is one recorded run and everything the visualizer shows about it: the scenario, the
// kernel inputs, the kernel's run with its recording (every intermediate of every thread_block),
// and the scalar reference's stages for the same inputs. No UI here: the tests and command-line
// tools build Sessions without a window.
//
// Where a run comes from:
//   - a scenario: the inputs are generated from its seed (core/inputs.h), then the kernel runs;
//   - a dump file (safetensors, as pal-run --output writes, tools/run_dump.h): when it holds the
//     recording (kernel.recording_buffer), that recording is shown as it is (a GPU run can be
//     studied on a machine without a GPU); when it holds only inputs (or an output without a
//     recording), the kernel is run again here with the recording probe, and a stored output is
//     checked against the re-run.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/inputs.h"
#include "core/scenario.h"
#include "core/tensor.h"
#include "kernels/geometry.h"
#include "kernels/launch.h"
#include "kernels/recording.h"
#include "reference/paged_reference.h"
#include "core/kv_cache_layout.h"

namespace pal::viz {

// Who holds a physical kv_block of the pool (the block table read backwards).
struct BlockOwner {
  int seq_idx = -1;            // -1: no sequence's block table points here (an unused pool block)
  int logical_block_idx = -1;  // position in that sequence's block table
  int num_valid_tokens = 0;    // tokens of the sequence stored in it (< block_size for a partial last block)
};

struct Session {
  Scenario scenario;      // what was asked for (version may be "auto")
  Inputs inputs;
  KernelRun run;          // run.version is what ran; run.recording is always present
  ReferenceRun reference; // same inputs, same version as the run
  std::string origin;     // "scenario (inputs generated from seed 0)" or "dump file <path>"
  std::string dump_path;  // empty unless loaded from a dump
  bool rerun_from_dump = false;  // true when the dump held no recording and the kernel ran here
  std::string dump_check;  // what was shown from the dump, and what comparing outputs found
  std::vector<BlockOwner> block_owners;  // [num_blocks]
  KvCacheLayout kv_layout;  // where each K and V element lives (core/kv_cache_layout.h)
  double run_ms = 0.0;        // wall time of run_kernel (emulator or GPU), with recording
  double reference_ms = 0.0;  // wall time of reference_attention

  const Recording& recording() const { return *run.recording; }
  const RecordDims& dims() const { return run.recording->dims(); }
  KernelGeometry geometry() const;
  int seq_len(int seq_idx) const;
  int kv_head_of(int head_idx) const;
  bool is_v2() const { return run.version == KernelVersion::v2; }
  int num_partitions(int seq_idx) const;  // partitions with work: 1 in v1
  TokenRange range(int seq_idx, int partition_idx) const;
  std::int64_t tb_index(int seq_idx, int head_idx, int partition_idx) const;
  int physical_block(int seq_idx, int logical_block_idx) const;
  int element_size() const { return dtype_size_bytes(scenario.dtype); }
};

// Validates, generates the inputs, runs the kernel with the recording on `backend` (auto: the GPU
// when one answers, else the emulator) and the reference. Throws ScenarioError with the reason.
Session make_session(const Scenario& scenario, Backend backend);
// Same from an input set (used by the dump loader and by tests that craft inputs).
Session make_session(const Scenario& scenario, Inputs inputs, Backend backend, std::string origin);
// From a run that already happened (it must hold a recording): only the reference is computed.
Session make_session(const Scenario& scenario, Inputs inputs, KernelRun run, std::string origin);
// Reads a dump written by pal-run --output (or any safetensors file holding the kernel inputs): its
// recording when it has one, else a re-run of its inputs. Throws ScenarioError naming the file.
Session session_from_dump(const std::string& path, Backend backend);

}  // namespace pal::viz
