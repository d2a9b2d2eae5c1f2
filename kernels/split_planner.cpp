#include "kernels/split_planner.h"

#include <algorithm>

#include "core/scenario.h"

namespace pal {

namespace {

int next_power_of_two(int n) {
  int power = 1;
  while (power < n) power *= 2;
  return power;
}

}  // namespace

GroupedDevice modeled_h200(int shared_bytes_per_block) {
  constexpr int kSharedBytesPerSm = 228 * 1024;
  constexpr int kReservedPerBlock = 1024;
  constexpr int kThreadsPerSm = 2048;
  GroupedDevice device;
  device.sm_count = 132;
  device.blocks_per_sm = std::max(1, std::min(kThreadsPerSm / kGroupedNumThreads,
                                              kSharedBytesPerSm / (shared_bytes_per_block + kReservedPerBlock)));
  return device;
}

GroupedPlan plan_grouped(const GroupedPlanRequest& request) {
  if (request.num_seqs <= 0 || request.num_heads <= 0 || request.num_kv_heads <= 0 || request.max_seq_len <= 0)
    throw ScenarioError("grouped plan: num_seqs, num_heads, num_kv_heads and max_seq_len must be positive (got " +
                        std::to_string(request.num_seqs) + ", " + std::to_string(request.num_heads) + ", " +
                        std::to_string(request.num_kv_heads) + ", " + std::to_string(request.max_seq_len) + ")");
  if (request.num_heads % request.num_kv_heads != 0)
    throw ScenarioError("grouped plan: num_heads = " + std::to_string(request.num_heads) +
                        " is not a multiple of num_kv_heads = " + std::to_string(request.num_kv_heads));
  if (request.device.sm_count <= 0 || request.device.blocks_per_sm <= 0)
    throw ScenarioError("grouped plan: the device needs at least one SM and one resident block per SM");
  const GroupedGeometry& geometry = request.geometry;
  GroupedPlan plan;
  plan.geometry = geometry;

  // Head chunks: at most 4 row tiles (one per warp) per block, chunks as equal as possible.
  plan.group_size = request.num_heads / request.num_kv_heads;
  plan.num_head_chunks = divide_round_up(plan.group_size, geometry.max_rows_per_block());
  plan.heads_per_chunk = divide_round_up(plan.group_size, plan.num_head_chunks);
  plan.row_tiles = next_power_of_two(divide_round_up(plan.heads_per_chunk, geometry.rows_per_warp()));
  plan.num_token_slices = kGroupedNumWarps / plan.row_tiles;
  plan.shared_bytes = geometry.shared_bytes(plan.row_tiles);
  plan.base_thread_blocks = request.num_seqs * request.num_kv_heads * plan.num_head_chunks;

  // Splits, in whole tiles of the longest sequence.
  const int max_blocks = divide_round_up(request.max_seq_len, geometry.block_size);
  const int max_tiles = divide_round_up(max_blocks, geometry.tile_blocks());
  const int capacity = request.device.sm_count * request.device.blocks_per_sm;
  int tiles_per_split = max_tiles;
  if (request.forced_num_splits > 0) {
    tiles_per_split = divide_round_up(max_tiles, std::min(request.forced_num_splits, max_tiles));
    plan.reason = "forced: " + std::to_string(request.forced_num_splits) + " splits asked";
  } else if (plan.base_thread_blocks >= capacity) {
    plan.reason = std::to_string(plan.base_thread_blocks) + " thread blocks already fill " +
                  std::to_string(request.device.sm_count) + " SMs x " + std::to_string(request.device.blocks_per_sm) +
                  " resident: one split, no merge";
  } else {
    const int min_tiles = std::max(1, divide_round_up(request.min_split_tokens, geometry.tile_tokens()));
    // Tiles per split when the grid aims at `slots` thread blocks.
    auto tiles_for = [&](int slots) {
      return std::max(min_tiles, divide_round_up(max_tiles, std::max(1, slots / plan.base_thread_blocks)));
    };
    int slots = capacity;
    tiles_per_split = tiles_for(slots);
    // Splits too short to keep two blocks of an SM busy run one block per SM instead.
    const bool one_per_sm = request.device.blocks_per_sm > 1 && tiles_per_split < kMinTilesPerSharedSmSplit &&
                            plan.base_thread_blocks * kSmallGridFraction <= request.device.sm_count;
    if (one_per_sm) {
      slots = request.device.sm_count;
      tiles_per_split = tiles_for(slots);
    }
    plan.reason = std::to_string(plan.base_thread_blocks) + " thread blocks for " + std::to_string(slots) +
                  (one_per_sm ? " SMs (splits under " + std::to_string(kMinTilesPerSharedSmSplit) +
                                    " tiles: one block per SM)"
                              : std::string(" resident slots")) +
                  ": up to " + std::to_string(std::max(1, slots / plan.base_thread_blocks)) + " splits of >= " +
                  std::to_string(min_tiles * geometry.tile_tokens()) + " tokens";
  }
  tiles_per_split = std::min(tiles_per_split, max_tiles);
  plan.kv_blocks_per_split = tiles_per_split * geometry.tile_blocks();
  plan.num_splits = divide_round_up(max_blocks, plan.kv_blocks_per_split);
  plan.reason += " -> " + std::to_string(plan.num_splits) + " split(s) of " +
                 std::to_string(plan.kv_blocks_per_split * geometry.block_size) + " tokens";
  return plan;
}

}  // namespace pal
