// Which data each thread of the v1/v2 kernel owns: the thread -> (vec, token, row) mappings, defined
// once as host/device functions of the geometry (CuTe's "thread layout defined once").
//
// The kernel (kernels/paged_attention_kernel.h) computes its indices with these, and every view of
// a run that needs to know "which lane holds row 17" (compare/, the visualizer, the walkthroughs)
// asks the same functions instead of re-deriving the formula. The inverse look-ups (row -> lane)
// sit next to the forward ones so that a test can check they invert each other.
//
// Vocabulary as in kernels/geometry.h: a thread_group is THREAD_GROUP_SIZE consecutive lanes that
// compute one token's q.k; lane is threadIdx.x % 32; a "row" is one head dim of V.
#pragma once

#include "core/host_device.h"
#include "kernels/geometry.h"

namespace pal {

struct ThreadMapping {
  KernelGeometry geometry;

  // ---- query_load and qk_logits: thread_groups and vecs -------------------------------------------
  PAL_HOST_DEVICE constexpr int thread_group_of(int thread_idx) const { return thread_idx / geometry.thread_group_size(); }
  PAL_HOST_DEVICE constexpr int offset_in_thread_group(int thread_idx) const {
    return thread_idx % geometry.thread_group_size();
  }
  // Lane r of a thread_group owns the vecs r, r + THREAD_GROUP_SIZE, r + 2 * THREAD_GROUP_SIZE, ...
  // of a head: the i-th of them (q_vecs[r][i] and k_vecs[i]) is vec number
  PAL_HOST_DEVICE constexpr int vec_idx(int thread_group_offset, int i) const {
    return thread_group_offset + i * geometry.thread_group_size();
  }
  // The token slot, inside its kv_block, that thread_group `thread_group_idx` computes on its i-th
  // token of an iteration (i < NUM_TOKENS_PER_THREAD_GROUP; one token per group for BLOCK_SIZE <= 32).
  PAL_HOST_DEVICE constexpr int key_block_offset(int thread_group_idx, int i) const {
    return (thread_group_idx + i * kWarpSize) % geometry.block_size;
  }

  // ---- the kv_block loops: kv_blocks dealt round-robin over the warps ----------------------------
  // For the n-th kv_block of a thread_block's range: the warp that takes it and in which iteration.
  PAL_HOST_DEVICE constexpr int warp_of_block(int block_in_range) const { return block_in_range % geometry.num_warps(); }
  PAL_HOST_DEVICE constexpr int iteration_of_block(int block_in_range) const {
    return block_in_range / geometry.num_warps();
  }

  // ---- exp_sum and softmax: token slots strided over the threads ---------------------------------
  PAL_HOST_DEVICE constexpr int thread_of_token_slot(int slot) const { return slot % geometry.num_threads; }

  // ---- value_accumulation, lv_warp_reduction, cross_warp_tree, output: V rows --------------------
  // A lane reads V_VEC_SIZE consecutive tokens of a row, starting at this slot of the kv_block ...
  PAL_HOST_DEVICE constexpr int value_block_offset(int lane) const {
    return (lane % geometry.num_v_vecs_per_row()) * geometry.v_vec_size();
  }
  // ... and accumulates the rows lane / NUM_V_VECS_PER_ROW + i * NUM_ROWS_PER_ITER in accs[i]
  // (a row index >= head_size means the lane has no row i).
  PAL_HOST_DEVICE constexpr int value_row_idx(int lane, int i) const {
    return lane / geometry.num_v_vecs_per_row() + i * geometry.num_rows_per_iter();
  }
  // After the LV warp reduction every lane of a row's group holds the row's sum; the first of them
  // is the one that writes it (to out_smem in the cross-warp tree, to out at the end).
  PAL_HOST_DEVICE constexpr bool is_row_writer(int lane) const { return lane % geometry.num_v_vecs_per_row() == 0; }
  // The inverse: the writing lane of row row_idx, and the accs[] slot it keeps it in.
  PAL_HOST_DEVICE constexpr int row_writer_lane(int row_idx) const {
    return (row_idx % geometry.num_rows_per_iter()) * geometry.num_v_vecs_per_row();
  }
  PAL_HOST_DEVICE constexpr int row_slot(int row_idx) const { return row_idx / geometry.num_rows_per_iter(); }
};

}  // namespace pal
