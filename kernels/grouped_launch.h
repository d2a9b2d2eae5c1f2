// Running the grouped decode kernel (kernels/grouped_attention_kernel.h) on either backend, from
// plain C++. run_kernel() (kernels/launch.h) calls run_grouped for `--version grouped`, so every front
// end reaches it through the run layer; the grouped tests call it directly for the options that
// only it takes (forced splits, the math path). The production GPU launcher for benchmarks, taking
// device buffers, is gpu_launch_grouped (kernels/grouped_gpu_backend.h).
#pragma once

#include <optional>
#include <string>

#include "core/inputs.h"
#include "core/scenario.h"
#include "core/tensor.h"
#include "kernels/grouped_attention_kernel.h"
#include "kernels/launch.h"
#include "kernels/launch_plan.h"
#include "kernels/recording.h"
#include "kernels/split_planner.h"

namespace pal {

struct GroupedOptions {
  int forced_num_splits = 0;         // 0: the split planner decides (kernels/split_planner.h)
  int min_split_tokens = kMinSplitTokens;  // the planner's shortest split
  std::optional<GroupedMath> math;   // unset: tensor cores for fp16/bf16, CUDA cores for fp32
  // Record every stage (the record schema's grouped_* arrays). The emulator records; the GPU build
  // has the production probe only, so a GPU run with record set is refused (ScenarioError).
  bool record = false;
  std::size_t max_recording_bytes = kDefaultMaxRecordingBytes;
};

struct GroupedRun {
  Backend backend = Backend::emulator;  // what ran
  std::string device_name;
  GroupedPlan plan;
  GroupedMath math = GroupedMath::cuda_cores;
  Tensor output;       // [num_seqs, num_heads, head_size]                dtype
  // Per split, for checking: each active split's state, and (for sequences with more than one
  // split) its normalised partial output. Slots of splits past a sequence's end stay NaN.
  Tensor partial_out;  // [num_seqs, num_heads, num_splits, head_size]    f32
  Tensor max_logits;   // [num_seqs, num_heads, num_splits]               f32
  Tensor exp_sums;     // [num_seqs, num_heads, num_splits]               f32
  std::optional<Recording> recording;  // with GroupedOptions::record
  double elapsed_ms = 0.0;  // wall time of the launches, for information only: not a benchmark
};

// Validates the scenario and inputs, plans (on the GPU with its SM count and the kernel's occupancy,
// in the emulator with modeled_h200), runs the main kernel and, when some sequence has more than
// one split, the split_merge kernel. Throws ScenarioError for anything the kernel cannot run.
GroupedRun run_grouped(const Scenario& scenario, const Inputs& inputs, Backend backend,
                       const GroupedOptions& options = {});

// The recording's dimensions for a plan (kernels/record_schema.h's grouped fields; the v1/v2 fields
// that no grouped array uses stay 0).
RecordDims grouped_record_dims(const Scenario& scenario, const GroupedPlan& plan);
// The plan a recording was made with, rebuilt from its dimensions (a dump's, untrusted): the fields
// that follow from the scenario and the math path are planned again and must match, and the split
// size must be whole tiles that cover the longest sequence in num_splits splits. Throws
// ScenarioError naming the first field that does not fit.
GroupedPlan grouped_plan_from_dims(const Scenario& scenario, const RecordDims& dims);

// Device (or host) pointers of the per-split results a launch with splits writes.
struct GroupedWorkspace {
  float* partial_out = nullptr;  // [num_seqs, num_heads, num_splits, head_size]
  float* max_logits = nullptr;   // [num_seqs, num_heads, num_splits]
  float* exp_sums = nullptr;     // [num_seqs, num_heads, num_splits]
};
// Bytes of each workspace buffer for a plan (0 for every buffer when the plan has one split).
struct GroupedWorkspaceBytes {
  std::size_t partial_out = 0, max_logits = 0, exp_sums = 0;
};
GroupedWorkspaceBytes grouped_workspace_bytes(const LaunchShape& shape, const GroupedPlan& plan);

// The plan request for a launch shape (everything but the device).
GroupedPlanRequest grouped_plan_request(const LaunchShape& shape, GroupedMath math, int forced_num_splits,
                                        int min_split_tokens = kMinSplitTokens);

template <typename scalar_t, typename cache_t>
GroupedArgs<scalar_t, cache_t> grouped_args(const LaunchShape& shape, const LaunchBuffers& buffers,
                                            const GroupedWorkspace& workspace, const GroupedPlan& plan) {
  return GroupedArgs<scalar_t, cache_t>{static_cast<scalar_t*>(buffers.out),
                                         workspace.partial_out,
                                         workspace.max_logits,
                                         workspace.exp_sums,
                                         static_cast<const scalar_t*>(buffers.q),
                                         static_cast<const cache_t*>(buffers.k_cache),
                                         static_cast<const cache_t*>(buffers.v_cache),
                                         buffers.block_tables,
                                         buffers.seq_lens,
                                         buffers.alibi_slopes,
                                         shape.num_heads,
                                         shape.num_kv_heads,
                                         shape.max_num_blocks_per_seq,
                                         shape.scale,
                                         shape.q_stride,
                                         shape.kv_block_stride,
                                         shape.kv_head_stride,
                                         shape.k_scale,
                                         shape.v_scale,
                                         plan.num_head_chunks,
                                         plan.heads_per_chunk,
                                         plan.row_tiles,
                                         plan.kv_blocks_per_split,
                                         plan.num_splits};
}

template <typename scalar_t>
SplitMergeArgs<scalar_t> split_merge_args(const LaunchShape& shape, const LaunchBuffers& buffers,
                                          const GroupedWorkspace& workspace, const GroupedPlan& plan) {
  return SplitMergeArgs<scalar_t>{static_cast<scalar_t*>(buffers.out), workspace.partial_out, workspace.max_logits,
                                  workspace.exp_sums, buffers.seq_lens, shape.block_size, plan.kv_blocks_per_split,
                                  plan.num_splits};
}

// The emulator backend, one instantiation per (scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, MATH);
// explicitly instantiated in kernels/grouped_emulator_instances_*.cpp (auto caches: every
// configuration) and in the files kernels/grouped.cmake generates for fp8 caches
// (PAL_EMULATOR_INSTANTIATIONS chooses which).
template <typename scalar_t, typename cache_t, KvCacheDtype KV_DTYPE, int HEAD_SIZE, int BLOCK_SIZE, GroupedMath MATH>
void emulate_grouped(const LaunchShape& shape, const LaunchBuffers& buffers, const GroupedWorkspace& workspace,
                     const GroupedPlan& plan, const RecordPointers* record);  // record: null = none

// Whether this build compiled the grouped kernel's emulator for a configuration (every auto-cache
// one; fp8 ones per PAL_EMULATOR_INSTANTIATIONS).
bool grouped_emulator_config_compiled(DType dtype, KvCacheDtype kv_cache_dtype, int head_size, int block_size,
                                      GroupedMath math);

}  // namespace pal
