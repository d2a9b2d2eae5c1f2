// The grouped kernel's launch plan (host code): how a query group is cut into thread_blocks, and
// how many KV splits each sequence gets so that small batches and long single contexts still fill
// the GPU, in the spirit of FlashInfer's split-KV planner (../shared/gqa-decode-facts.md §3.1, §3.4):
//
//   - head chunks: a group of up to rows_per_warp * 4 query heads is one thread_block (1, 2 or 4 row
//     tiles of warps); a larger group (MQA with many heads) is cut into equal chunks across blocks;
//   - splits: the batch gives num_seqs * num_kv_heads * num_head_chunks thread_blocks. When that is
//     already a full GPU (>= SMs * thread_blocks per SM), there is one split and no merge kernel.
//     Otherwise each sequence is cut into as many splits as keep the grid within one full GPU, but
//     never into splits shorter than min_split_tokens, and always into whole kv tiles; where that
//     would give splits under kMinTilesPerSharedSmSplit tiles on a small grid, the grid aims at one
//     block per SM.
// What differs from FlashInfer: one split length for the whole batch (from the longest sequence),
// with the grid's split index running past a shorter sequence's end (those blocks exit at once),
// where FlashInfer packs each request's chunks densely; and the count targets the resident capacity
// (SMs x occupancy) because each of our blocks keeps whole tiles in flight on its own, or the SM
// count for short splits (measured: kMinTilesPerSharedSmSplit).
#pragma once

#include <string>

#include "kernels/grouped_geometry.h"

namespace pal {

// Shortest split the planner makes: one 64-token tile (FlashInfer's decode planner keeps chunks at
// 128+ tokens at page size 16 and above; on the H200 this kernel's 32/8-head batch-1 x 512 call took
// 8.27 us in 8 splits of 64 tokens against 8.97 in 4 of 128, run 32).
inline constexpr int kMinSplitTokens = 64;
// Two resident thread blocks per SM pay only when each split keeps a block busy for this many tiles;
// a plan whose splits would be shorter aims at one block per SM (fewer, longer splits). Run 32 on
// the H200, 32/8 heads at batch 1: 8k tokens in 32 splits of 4 tiles 23.1 us, in 16 of 8 tiles 17.2;
// 32k in 32 splits of 16 tiles 44.9 us, in 16 of 32 tiles 50.3; batch 8 x 2k in 4 splits of 8 tiles
// 26.6 us, in 2 of 16 tiles 29.3.
inline constexpr int kMinTilesPerSharedSmSplit = 8;
// ... and only for small batches, whose one-split grid covers at most 1 / kSmallGridFraction of the
// SMs: at batch 8 (64 blocks of 32/8 heads) the shorter splits on both slots were the faster plan
// (run 33: fp8 batch 8 x 512 and x 2048 1.10-1.13x slower one block per SM). Both constants are
// fitted to the H200's primary grid (fp16 and fp8, 32/8 and 32/32 heads), not derived.
inline constexpr int kSmallGridFraction = 4;

// The GPU as the planner sees it.
struct GroupedDevice {
  int sm_count = 132;
  int blocks_per_sm = 1;  // resident grouped thread_blocks per SM (the occupancy API on a GPU)
};

// The emulator's stand-in for a GPU: an H200's 132 SMs, with the thread_blocks per SM that its
// 228 KB of shared memory per SM allows (1 KB of it reserved per block) and its 2048 threads;
// registers are not modelled. Emulated runs thereby split like GPU runs of the same shape.
GroupedDevice modeled_h200(int shared_bytes_per_block);

struct GroupedPlanRequest {
  int num_seqs = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int max_seq_len = 0;
  GroupedGeometry geometry{};
  GroupedDevice device{};
  int forced_num_splits = 0;  // > 0: this many splits (fewer if the longest sequence has fewer tiles)
  int min_split_tokens = kMinSplitTokens;
};

struct GroupedPlan {
  GroupedGeometry geometry{};
  int group_size = 0;          // num_heads / num_kv_heads
  int num_head_chunks = 0;
  int heads_per_chunk = 0;
  int row_tiles = 0;           // warps' row tiles per block: 1, 2 or 4
  int num_token_slices = 0;    // kGroupedNumWarps / row_tiles
  int kv_blocks_per_split = 0; // whole tiles
  int num_splits = 0;          // gridDim.z
  int base_thread_blocks = 0;  // num_seqs * num_kv_heads * num_head_chunks (one split each)
  int shared_bytes = 0;        // dynamic shared memory per block
  std::string reason;          // one line: why this many splits

  bool uses_split_merge() const { return num_splits > 1; }
  int grid_x(int num_kv_heads) const { return num_kv_heads * num_head_chunks; }
  int split_tokens(int block_size) const { return kv_blocks_per_split * block_size; }
};

// Throws ScenarioError for a request the kernel cannot run (heads not a multiple of the KV heads,
// non-positive sizes), naming the field.
GroupedPlan plan_grouped(const GroupedPlanRequest& request);

}  // namespace pal
