// Running the grouped decode kernel (kernels/grouped_attention_kernel.h) on either backend, from
// plain C++: the entry point of phase 1, beside run_kernel() (kernels/launch.h) until the run layer
// of issue 9 takes both. The production GPU launcher for benchmarks, taking device buffers, is
// gpu_launch_grouped (kernels/grouped_gpu_backend.h).
#pragma once

#include <optional>
#include <string>

#include "core/inputs.h"
#include "core/scenario.h"
#include "core/tensor.h"
#include "kernels/grouped_attention_kernel.h"
#include "kernels/launch.h"
#include "kernels/launch_plan.h"
#include "kernels/split_planner.h"

namespace pal {

struct GroupedOptions {
  int forced_num_splits = 0;         // 0: the split planner decides (kernels/split_planner.h)
  int min_split_tokens = kMinSplitTokens;  // the planner's shortest split
  std::optional<GroupedMath> math;   // unset: tensor cores for fp16/bf16, CUDA cores for fp32
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
  double elapsed_ms = 0.0;  // wall time of the launches, for information only: not a benchmark
};

// Validates the scenario and inputs, plans (on the GPU with its SM count and the kernel's occupancy,
// in the emulator with modeled_h200), runs the main kernel and, when some sequence has more than
// one split, the split_merge kernel. Throws ScenarioError for anything the kernel cannot run.
GroupedRun run_grouped(const Scenario& scenario, const Inputs& inputs, Backend backend,
                       const GroupedOptions& options = {});

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

template <typename scalar_t>
GroupedArgs<scalar_t, scalar_t> grouped_args(const LaunchShape& shape, const LaunchBuffers& buffers,
                                             const GroupedWorkspace& workspace, const GroupedPlan& plan) {
  return GroupedArgs<scalar_t, scalar_t>{static_cast<scalar_t*>(buffers.out),
                                         workspace.partial_out,
                                         workspace.max_logits,
                                         workspace.exp_sums,
                                         static_cast<const scalar_t*>(buffers.q),
                                         static_cast<const scalar_t*>(buffers.k_cache),
                                         static_cast<const scalar_t*>(buffers.v_cache),
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

// The emulator backend, one instantiation per (scalar_t, HEAD_SIZE, BLOCK_SIZE, MATH); explicitly
// instantiated in kernels/grouped_emulator_instances_*.cpp.
template <typename scalar_t, int HEAD_SIZE, int BLOCK_SIZE, GroupedMath MATH>
void emulate_grouped(const LaunchShape& shape, const LaunchBuffers& buffers, const GroupedWorkspace& workspace,
                     const GroupedPlan& plan);

}  // namespace pal
