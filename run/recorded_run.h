// A recorded run: the one object every front end holds (pal-run, pal-viz's session, the walkthrough
// harness, the kernel test grid) instead of assembling a run of its own.
//
// Making one validates the scenario and inputs once (core/inputs.h's CheckedInputs), gets the
// inputs (generated from the seed, given by the caller, or read from a dump), runs the kernel on a
// backend (with the recording probe unless asked not to), runs the scalar reference for the version
// that ran, and compares the two stage by stage. Then it answers the look-ups a front end needs.
//
// Look-ups that hold for every kernel variant (the scenario, the inputs, the block table read
// backwards, the KV layout) are methods here. Look-ups that depend on how a variant divides its
// work (thread_blocks, partitions, lanes) are in a per-variant view: paged() for the v1/v2 kernel
// (run/paged_lookups.h). A front end for another variant asks that variant's view.
//
// A grouped run (--version grouped) is compared with the grouped reference for the plan it ran
// with, and its output with the dense oracle (compare_grouped_with_reference); its recording holds
// the grouped_* arrays of the record schema.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compare/stage_compare.h"
#include "core/inputs.h"
#include "core/kv_cache_layout.h"
#include "core/scenario.h"
#include "kernels/geometry.h"
#include "kernels/launch.h"
#include "kernels/recording.h"
#include "reference/dense_oracle.h"
#include "reference/grouped_reference.h"
#include "reference/paged_reference.h"

namespace pal {

class PagedLookups;  // run/paged_lookups.h

struct RecordedRunOptions {
  Backend backend = Backend::automatic;
  bool record = true;  // run with the recording probe (every intermediate) or the production kernel
  // Bounds all the memory a recording takes: the debug buffer, and with writes_dump the dump's
  // copies of it (run_dump_recording_bytes). Checked before the inputs are generated or the kernel
  // runs.
  std::size_t max_recording_bytes = kDefaultMaxRecordingBytes;
  bool writes_dump = false;  // the run will be written with write_run_dump (pal-run --output)
  ProbabilityPrecision precision = ProbabilityPrecision::rounded_to_dtype;  // of the reference
};

// What a run will allocate, checked before it allocates: the scenario valid (its tensors within
// core's host-memory limit), the kernel's plan (kernels/launch.h plan_run: backend, version, the
// recording within options.max_recording_bytes) and, with options.writes_dump, the recording and
// the dump's copies of it together within that limit. Throws ScenarioError saying what to shrink.
// The RecordedRun factories call it first; a front end may call it earlier still.
void check_run_fits(const Scenario& scenario, const RecordedRunOptions& options);

// Who holds a physical kv_block of the pool (the block table read backwards).
struct BlockOwner {
  int seq_idx = -1;            // -1: no sequence's block table points here (an unused pool block)
  int logical_block_idx = -1;  // position in that sequence's block table
  int num_valid_tokens = 0;    // tokens of the sequence stored in it (< block_size for a partial last block)
};

class RecordedRun {
 public:
  // Inputs generated from the scenario's seed.
  static RecordedRun from_scenario(const Scenario& scenario, const RecordedRunOptions& options = {});
  // Inputs the caller crafted (validated here); `origin` says where they came from.
  static RecordedRun from_inputs(const Scenario& scenario, Inputs inputs, const RecordedRunOptions& options,
                                 std::string origin);
  // Inputs validated already (a file, a version chosen on top of it).
  static RecordedRun from_checked(CheckedInputs checked, const RecordedRunOptions& options, std::string origin);
  // A dump written by pal-run --output (or any safetensors file with the kernel inputs): its recording
  // when it holds one (a GPU run is then shown on any machine, nothing re-run), else a re-run of its
  // inputs with options.backend, with a stored output compared against the re-run.
  static RecordedRun from_dump(const std::string& path, const RecordedRunOptions& options = {});

  // ---- what was asked, what ran, and what it gave -------------------------------------------------
  const Scenario& requested_scenario() const { return requested_; }  // version may be "auto"
  const Scenario& scenario() const { return kernel_.scenario; }      // as run: the version resolved
  KernelVersion version() const { return kernel_.version; }
  const Inputs& inputs() const { return checked_.inputs(); }
  const CheckedInputs& checked_inputs() const { return checked_; }
  const KernelRun& kernel() const { return kernel_; }
  const ReferenceRun& reference() const { return reference_; }  // v1/v2 (empty for grouped)
  // grouped: its reference, for the plan the kernel ran with. Throws ScenarioError for v1/v2.
  const GroupedReferenceRun& grouped_reference() const;
  const ComparisonReport& report() const { return report_; }
  bool recorded() const { return kernel_.recording.has_value(); }
  const Recording& recording() const;  // throws ScenarioError when the run was not recorded
  const RecordDims& dims() const { return recording().dims(); }

  // ---- where it came from -----------------------------------------------------------------------
  const std::string& origin() const { return origin_; }     // "scenario (inputs generated from seed 0)", ...
  const std::string& dump_path() const { return dump_path_; }  // empty unless read from a dump
  bool rerun_from_dump() const { return rerun_from_dump_; }    // the dump held no recording: run here
  const std::string& dump_check() const { return dump_check_; }  // what was shown from the dump, and why
  double kernel_ms() const { return kernel_ms_; }        // wall time of the kernel run (0 for a stored one)
  double reference_ms() const { return reference_ms_; }  // wall time of the reference

  // ---- look-ups every variant shares ------------------------------------------------------------
  KernelGeometry geometry() const;
  const KvCacheLayout& kv_layout() const { return kv_layout_; }
  std::int64_t q_stride() const { return std::int64_t(scenario().num_heads) * scenario().head_size; }
  int element_size() const { return dtype_size_bytes(scenario().dtype); }  // of the query (and output)
  int cache_element_size() const { return scenario().kv_cache_element_size(); }  // of k_cache / v_cache: 1 for fp8
  int seq_len(int seq_idx) const;
  int kv_head_of(int head_idx) const;
  int physical_block(int seq_idx, int logical_block_idx) const;  // block_tables[seq][logical]
  const std::vector<BlockOwner>& block_owners() const { return block_owners_; }  // [num_blocks]

  // ---- per variant ------------------------------------------------------------------------------
  // The v1/v2 kernel's thread_block look-ups (a view over this run; keep the run alive while using
  // it). Throws ScenarioError for a run of another variant.
  PagedLookups paged() const;

 private:
  RecordedRun(CheckedInputs checked, Scenario requested, KernelRun kernel, std::string origin,
              ProbabilityPrecision precision, double kernel_ms);
  static RecordedRun run_checked(CheckedInputs checked, const RecordedRunOptions& options, std::string origin);

  CheckedInputs checked_;
  Scenario requested_;
  KernelRun kernel_;
  ReferenceRun reference_;
  std::optional<GroupedReferenceRun> grouped_reference_;
  ComparisonReport report_;
  KvCacheLayout kv_layout_;
  std::vector<BlockOwner> block_owners_;
  std::string origin_;
  std::string dump_path_;
  bool rerun_from_dump_ = false;
  std::string dump_check_;
  double kernel_ms_ = 0.0;
  double reference_ms_ = 0.0;
};

}  // namespace pal
