// How the grouped decode kernel divides its work: its derived constants, defined once as constexpr
// functions of (element size, head size, block size, math path), so that the kernel (as template
// constants), the split planner (shared memory, occupancy), the reference (which warp computes which
// tokens) and the tests all use the same numbers.
//
// Vocabulary (see also kernels/geometry.h):
//   query group   the num_heads / num_kv_heads query heads that share one KV head
//   head chunk    the part of a query group one thread_block computes (the whole group up to
//                 rows_per_warp * kGroupedNumWarps heads; larger groups are split across blocks)
//   row tile      rows_per_warp query heads computed together by one warp (an mma's 16 rows on
//                 tensor cores); a thread_block has 1, 2 or 4 row tiles
//   token slice   the warps of one row tile share the tile's tokens: warp = row_tile + slice * row_tiles
//   split         a contiguous range of kv_blocks of one sequence given to one thread_block; the
//                 split_merge kernel combines a sequence's splits
//   kv tile       tile_tokens consecutive tokens (whole kv_blocks) of a split, copied to shared memory
//                 in one pipeline stage; K and V of each kv_block of one KV head are each one
//                 contiguous head_size * block_size run in global memory
//   step          kGroupedWarpTokens consecutive tokens of a tile that one warp computes at once;
//                 step s of a split goes to token slice s % num_token_slices
//   unit          16 bytes: one cp.async, one ldmatrix row, one x-chunk of a key
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/host_device.h"
#include "kernels/geometry.h"

namespace pal {

enum class GroupedMath : std::uint8_t {
  cuda_cores,    // fp32 FMAs: the readable baseline, and the path for fp32 queries
  tensor_cores,  // mma.sync m16n8k16 (fp16/bf16 in, fp32 accumulate): the fast path for 16-bit types
};

inline constexpr int kGroupedNumThreads = 128;  // 4 warps, as upstream's kernel
inline constexpr int kGroupedNumWarps = kGroupedNumThreads / kWarpSize;
// One warp step: 16 tokens, the k of one P.V mma (and two n-tiles of the QK mma).
inline constexpr int kGroupedWarpTokens = 16;
inline constexpr int kUnitBytes = 16;
// Shared memory the K/V pipeline may take: on an H200 (228 KB per SM) two thread_blocks of a
// head-128 fp16 kernel fit, each keeping two 32 KB tiles in flight while it computes a third.
// docs/performance/NOTES.md derives it from the ~32 KB per SM in flight the H200 needs.
inline constexpr int kGroupedPipelineBudgetBytes = 96 * 1024;

// The swizzle of a kv tile in shared memory: unit u of a K or V region is stored at unit
// u ^ ((u >> 3) & 7). It only permutes units inside aligned groups of 8 (128 bytes), so a warp's
// cp.async writes stay conflict-free, and it spreads the 8 rows an ldmatrix (or a lane-per-dim
// read) takes from a V region (rows block_size * element bytes apart: 16 to 128 bytes; fp8: 8 to
// 32) over the 8 distinct 16-byte bank groups. K rows (8 consecutive tokens of one x-chunk) are
// consecutive units and stay conflict-free. Every region is a multiple of 8 units (head_size *
// block_size * element bytes >= 512 bytes; fp8: head_size is a multiple of 16, so >= 256 bytes =
// 16 units), so the swizzle never leaves it.
PAL_HOST_DEVICE constexpr int swizzled_unit(int unit) { return unit ^ ((unit >> 3) & 7); }

struct GroupedGeometry {
  int query_element_size;  // bytes of one q (and out) element, scalar_t: 4 fp32, 2 fp16 / bf16
  int head_size;
  int block_size;          // tokens per kv_block
  GroupedMath math;
  // Bytes of one cached K/V element, cache_t: the query's for an auto cache, 1 for fp8. Everything
  // the tile copy moves (units, tiles, the pipeline) follows it; the query rows follow scalar_t.
  int cache_element_size;

  // Query heads one warp computes: an mma's 16 rows; on CUDA cores 8 (registers for 8 logits and 8
  // accumulator rows per lane; the real heads of the row are a runtime count, padding costs nothing).
  PAL_HOST_DEVICE constexpr int rows_per_warp() const { return math == GroupedMath::tensor_cores ? 16 : 8; }
  PAL_HOST_DEVICE constexpr int max_rows_per_block() const { return rows_per_warp() * kGroupedNumWarps; }
  // x of the K layout (core/kv_cache_layout.h: 16 / sizeof(cache_t), 16 for fp8): cached elements
  // per 16-byte unit.
  PAL_HOST_DEVICE constexpr int unit_elements() const { return kUnitBytes / cache_element_size; }
  PAL_HOST_DEVICE constexpr int num_key_units() const { return head_size / unit_elements(); }  // per token
  // K (or V) of one KV head in one kv_block, in 16-byte units.
  PAL_HOST_DEVICE constexpr int kv_block_units() const { return head_size * block_size * cache_element_size / kUnitBytes; }
  // Tokens of one head dim's V row that one unit holds: x, or the whole kv_block when a unit is
  // longer than a V row of it (fp8 at block size 8: a unit then holds 8 tokens of two dims).
  PAL_HOST_DEVICE constexpr int value_row_run() const { return min_of(unit_elements(), block_size); }
  // Tokens per pipeline stage: 64 (4 warp steps, one per warp with a single row tile) unless that
  // exceeds 64 KB of K + V (fp32 at head sizes 192 and 256), then 32.
  PAL_HOST_DEVICE constexpr int tile_tokens() const {
    return 2 * 64 * head_size * cache_element_size > 64 * 1024 ? 32 : 64;
  }
  PAL_HOST_DEVICE constexpr int tile_blocks() const { return tile_tokens() / block_size; }
  PAL_HOST_DEVICE constexpr int tile_bytes() const { return 2 * tile_tokens() * head_size * cache_element_size; }
  PAL_HOST_DEVICE constexpr int steps_per_tile() const { return tile_tokens() / kGroupedWarpTokens; }
  PAL_HOST_DEVICE constexpr int num_stages() const {
    return max_of(2, min_of(4, kGroupedPipelineBudgetBytes / tile_bytes()));
  }
  PAL_HOST_DEVICE constexpr int pipeline_bytes() const { return num_stages() * tile_bytes(); }
  // The copy of one tile: each kv_block of the tile is copied by threads_per_kv_block threads, so
  // each thread needs one block-table entry per tile; its units are consecutive across the threads.
  PAL_HOST_DEVICE constexpr int threads_per_kv_block() const { return kGroupedNumThreads / tile_blocks(); }
  PAL_HOST_DEVICE constexpr int copies_per_thread() const { return 2 * kv_block_units() / threads_per_kv_block(); }

  // Tensor cores: k-steps of the QK mma over the head (the last one half empty when head_size is
  // not a multiple of 16: 120), and 8-dim n-tiles of the P.V mma.
  PAL_HOST_DEVICE constexpr int num_k_steps() const { return divide_round_up(head_size, 16); }
  PAL_HOST_DEVICE constexpr bool has_half_k_step() const { return head_size % 16 != 0; }
  PAL_HOST_DEVICE constexpr int num_dim_tiles() const { return head_size / 8; }
  // A query row in shared memory (tensor cores): the head padded to whole k-steps with zeros, plus
  // 16 bytes so that consecutive rows start an odd number of units apart (rows of an 8-row
  // ldmatrix land in 8 different bank groups).
  PAL_HOST_DEVICE constexpr int query_row_elements() const {
    return math == GroupedMath::tensor_cores ? num_k_steps() * 16 + kUnitBytes / query_element_size : head_size;
  }
  PAL_HOST_DEVICE constexpr int query_shared_element_size() const {
    return math == GroupedMath::tensor_cores ? query_element_size : 4;  // CUDA cores keep q as fp32
  }
  // CUDA cores: head dims per lane in P.V (lane, lane + 32, ...).
  PAL_HOST_DEVICE constexpr int dims_per_lane() const { return divide_round_up(head_size, kWarpSize); }

  // ---- shared memory (bytes), in the order it is laid out ----
  // [0, kv_or_merge_bytes): the K/V pipeline, reused after the last tile for the warps' states and
  // accumulators: [warp][row] max, [warp][row] sum, [warp][row][head_size] accumulators (fp32).
  PAL_HOST_DEVICE constexpr int merge_bytes() const {
    return kGroupedNumWarps * rows_per_warp() * (head_size + 2) * 4;
  }
  PAL_HOST_DEVICE constexpr int kv_or_merge_bytes() const { return max_of(pipeline_bytes(), merge_bytes()); }
  // Then the query rows of the block's row tiles, then (CUDA cores) each warp's probabilities of a step.
  PAL_HOST_DEVICE constexpr int query_bytes(int row_tiles) const {
    return row_tiles * rows_per_warp() * query_row_elements() * query_shared_element_size();
  }
  PAL_HOST_DEVICE constexpr int probs_bytes() const {
    return math == GroupedMath::cuda_cores ? kGroupedNumWarps * rows_per_warp() * kGroupedWarpTokens * 4 : 0;
  }
  PAL_HOST_DEVICE constexpr int shared_bytes(int row_tiles) const {
    return kv_or_merge_bytes() + query_bytes(row_tiles) + probs_bytes();
  }
};

// The math path a dtype runs on by default: tensor cores for 16-bit types, CUDA cores for fp32.
PAL_HOST_DEVICE constexpr GroupedMath default_grouped_math(int element_size) {
  return element_size == 2 ? GroupedMath::tensor_cores : GroupedMath::cuda_cores;
}

}  // namespace pal
