// How the decode kernel divides its work: the derived constants of upstream's kernel, defined once.
//
// Every constant is a constexpr function of (query and cache element sizes, head size, block size, threads), so the
// kernel (as template constants), the reference (to say what each thread group holds), the recorder
// (to size the debug buffer) and the visualizer (to draw assignments) all use the same numbers.
//
// Vocabulary used across the project:
//   kv_block      BLOCK_SIZE consecutive tokens of one sequence's K/V, stored in one pool slot
//   thread_block  a CUDA thread block (CTA) of NUM_THREADS threads: one (head, seq[, partition])
//   thread_group  THREAD_GROUP_SIZE consecutive lanes that together compute one token's q.k
//   vec           the elements one thread loads at once (16 bytes per thread group per step)
#pragma once

#include "core/host_device.h"
#include "core/kv_cache_layout.h"

namespace pal {

inline constexpr int kWarpSize = 32;

PAL_HOST_DEVICE constexpr int divide_round_up(int a, int b) { return (a + b - 1) / b; }
PAL_HOST_DEVICE constexpr int max_of(int a, int b) { return a > b ? a : b; }
PAL_HOST_DEVICE constexpr int min_of(int a, int b) { return a < b ? a : b; }
PAL_HOST_DEVICE constexpr int log2_exact(int n) { return n <= 1 ? 0 : 1 + log2_exact(n / 2); }

struct KernelGeometry {
  // Bytes of one query element (4 for fp32, 2 for fp16/bf16): the registers' type, scalar_t. The
  // vec widths follow it, whatever the cache stores, because the loaded K/V elements end up in it.
  int query_element_size;
  int head_size;
  int block_size;    // tokens per kv_block
  int num_threads;   // threads per thread_block
  // Bytes of one cached key/value element, cache_t: the query's for an auto cache, 1 for fp8. Only
  // the cache layout's x follows it (and the bytes a K/V load moves).
  int cache_element_size;

  // One thread_group per token of a kv_block, so one warp covers one kv_block (for BLOCK_SIZE<=32).
  PAL_HOST_DEVICE constexpr int thread_group_size() const { return max_of(kWarpSize / block_size, 1); }
  PAL_HOST_DEVICE constexpr int num_thread_groups() const { return num_threads / thread_group_size(); }
  PAL_HOST_DEVICE constexpr int num_tokens_per_thread_group() const { return divide_round_up(block_size, kWarpSize); }
  PAL_HOST_DEVICE constexpr int num_warps() const { return num_threads / kWarpSize; }
  // A thread_group fetches 16 bytes' worth of query elements of a key per step, split evenly over
  // its lanes (for an fp8 cache that is 8 bytes of codes: half of one x-chunk).
  PAL_HOST_DEVICE constexpr int vec_size() const { return max_of(16 / (thread_group_size() * query_element_size), 1); }
  PAL_HOST_DEVICE constexpr int num_elems_per_thread() const { return head_size / thread_group_size(); }
  PAL_HOST_DEVICE constexpr int num_vecs_per_thread() const { return num_elems_per_thread() / vec_size(); }
  // Shared q_vecs has one row per lane offset of a thread_group; at a given step every lane of
  // offset r reads row r at the same column. Rows whose starts fall on the same banks collide: with
  // rows 128 bytes long (head 128 in fp16/bf16) both rows start in bank 0 and every q_vecs read
  // takes 2 wavefronts instead of 1, predicted by the emulator's access profile and measured by ncu
  // (docs/performance/NOTES.md, run 11). Each row is therefore padded by the fewest bytes that put
  // the rows' starts at least one access apart modulo 128 bytes (the 32 banks): 16 bytes when the
  // rows stay 16-byte aligned (ptxas then merges two reads into one 16-byte load), else whole vecs.
  // Upstream declares the rows unpadded; the padding is this project's deviation.
  PAL_HOST_DEVICE constexpr int q_vec_bytes() const { return vec_size() * query_element_size; }
  PAL_HOST_DEVICE constexpr int q_row_bytes() const { return num_vecs_per_thread() * q_vec_bytes(); }
  PAL_HOST_DEVICE constexpr bool q_rows_apart_in_banks(int row_stride_bytes) const {
    const int access_bytes = row_stride_bytes % 16 == 0 ? 16 : q_vec_bytes();
    for (int k = 1; k < thread_group_size(); ++k) {
      const int offset = (k * row_stride_bytes) % 128;
      if (min_of(offset, 128 - offset) < access_bytes) return false;
    }
    return true;
  }
  PAL_HOST_DEVICE constexpr int q_row_padding_vecs() const {
    const int step = q_row_bytes() % 16 == 0 ? 16 : q_vec_bytes();
    for (int padding = 0; padding < 128; padding += step)
      if (q_rows_apart_in_banks(q_row_bytes() + padding)) return padding / q_vec_bytes();
    return 0;
  }
  PAL_HOST_DEVICE constexpr int q_row_vecs() const { return num_vecs_per_thread() + q_row_padding_vecs(); }
  PAL_HOST_DEVICE constexpr int q_vecs_shared_bytes() const { return thread_group_size() * q_row_vecs() * q_vec_bytes(); }
  // Elements per 16-byte chunk of the key layout's innermost dimension (core/kv_cache_layout.h):
  // the cache's element size decides it, 16 for fp8.
  PAL_HOST_DEVICE constexpr int x() const { return key_x_for(cache_element_size); }
  // Value side: each lane reads 16 bytes' worth of query elements = V_VEC_SIZE consecutive tokens of
  // one head-dim row (8 bytes of codes from an fp8 cache).
  PAL_HOST_DEVICE constexpr int v_vec_size() const { return min_of(16 / query_element_size, block_size); }
  // Bytes one K or V load moves: VEC_SIZE or V_VEC_SIZE cache elements.
  PAL_HOST_DEVICE constexpr int key_load_bytes() const { return vec_size() * cache_element_size; }
  PAL_HOST_DEVICE constexpr int value_load_bytes() const { return v_vec_size() * cache_element_size; }
  PAL_HOST_DEVICE constexpr int num_v_vecs_per_row() const { return block_size / v_vec_size(); }
  PAL_HOST_DEVICE constexpr int num_rows_per_iter() const { return kWarpSize / num_v_vecs_per_row(); }
  PAL_HOST_DEVICE constexpr int num_rows_per_thread() const { return divide_round_up(head_size, num_rows_per_iter()); }
  // Reductions: butterfly steps inside a warp for qk_max (down to one thread group), across the
  // warps' partial values, and the levels of the cross-warp accumulator tree in shared memory.
  PAL_HOST_DEVICE constexpr int num_qk_max_warp_steps() const { return log2_exact(kWarpSize / thread_group_size()); }
  PAL_HOST_DEVICE constexpr int num_cross_warp_steps() const { return log2_exact(num_warps()); }
  PAL_HOST_DEVICE constexpr int num_lv_warp_steps() const { return log2_exact(num_v_vecs_per_row()); }
  PAL_HOST_DEVICE constexpr int num_tree_levels() const { return log2_exact(num_warps()); }
};

// Thread block bookkeeping that depends on the sequence (runtime values).
struct TokenRange {
  int start_block_idx;  // first logical kv_block of this thread_block, [start, end)
  int end_block_idx;
  int start_token_idx;  // first token, [start, end)
  int end_token_idx;
  PAL_HOST_DEVICE constexpr int num_blocks() const { return end_block_idx - start_block_idx; }
  PAL_HOST_DEVICE constexpr int num_tokens() const { return end_token_idx - start_token_idx; }
};

// partition_size == 0 means v1: one thread_block covers the whole sequence.
PAL_HOST_DEVICE constexpr TokenRange token_range(int seq_len, int block_size, int partition_size,
                                                 int partition_idx) {
  const int num_seq_blocks = divide_round_up(seq_len, block_size);
  const int blocks_per_partition = partition_size > 0 ? partition_size / block_size : num_seq_blocks;
  const int start_block = partition_size > 0 ? partition_idx * blocks_per_partition : 0;
  const int end_block = min_of(start_block + blocks_per_partition, num_seq_blocks);
  const int start_token = start_block * block_size;
  const int end_token = min_of(start_token + (end_block - start_block) * block_size, seq_len);
  return {start_block, end_block, start_token, end_token};
}

}  // namespace pal
