// The grouped kernel's split planner: head chunks, row tiles, and when (and how much) it splits.
#include <catch2/catch.hpp>

#include "core/scenario.h"
#include "kernels/split_planner.h"

using namespace pal;

namespace {

GroupedPlanRequest request_for(int num_seqs, int num_heads, int num_kv_heads, int max_seq_len, int blocks_per_sm = 2,
                               GroupedMath math = GroupedMath::tensor_cores, int head_size = 128, int block_size = 16) {
  GroupedPlanRequest request;
  request.num_seqs = num_seqs;
  request.num_heads = num_heads;
  request.num_kv_heads = num_kv_heads;
  request.max_seq_len = max_seq_len;
  const int element_size = math == GroupedMath::tensor_cores ? 2 : 4;
  request.geometry = GroupedGeometry{element_size, head_size, block_size, math, element_size};
  request.device = GroupedDevice{132, blocks_per_sm};
  return request;
}

}  // namespace

TEST_CASE("a grid that already fills the GPU gets one split and no merge kernel") {
  // GQA 32/8 at batch 128: 1024 thread blocks for 264 resident slots.
  const GroupedPlan plan = plan_grouped(request_for(128, 32, 8, 32768));
  CHECK(plan.num_splits == 1);
  CHECK_FALSE(plan.uses_split_merge());
  CHECK(plan.base_thread_blocks == 1024);
  CHECK(plan.kv_blocks_per_split * 16 >= 32768);
}

TEST_CASE("batch 1 with a long context is split until the grid fills the GPU, never beyond it") {
  const GroupedPlan plan = plan_grouped(request_for(1, 32, 8, 32768));
  // 8 thread blocks, 264 slots: up to 33 splits; whole 64-token tiles of a 32768-token context.
  CHECK(plan.num_splits > 1);
  CHECK(plan.base_thread_blocks * plan.num_splits <= 132 * 2);
  CHECK(plan.num_splits >= 132 * 2 / 8 / 2);  // at least half of what would fit
  CHECK(plan.kv_blocks_per_split % plan.geometry.tile_blocks() == 0);
  CHECK(plan.num_splits * plan.kv_blocks_per_split * 16 >= 32768);
  CHECK((plan.num_splits - 1) * plan.kv_blocks_per_split * 16 < 32768);  // no empty split for the longest sequence
}

TEST_CASE("splits are never shorter than the minimum split length, so short contexts split little") {
  const GroupedPlan plan = plan_grouped(request_for(1, 32, 8, 512));
  CHECK(plan.split_tokens(16) >= kMinSplitTokens);
  CHECK(plan.num_splits == 512 / kMinSplitTokens);
  const GroupedPlan tiny = plan_grouped(request_for(1, 32, 8, 20));
  CHECK(tiny.num_splits == 1);
}

TEST_CASE("splits shorter than the shared-SM minimum aim at one block per SM, longer ones at every slot") {
  // 32/8 heads at batch 1: 8 thread blocks. 8k tokens = 128 tiles: 33 splits for 264 slots would
  // be 4 tiles each, so the plan aims at 132 SMs: 16 splits of 8 tiles. 32k tokens = 512 tiles: 32
  // splits of 16 tiles fill both slots of every SM.
  const GroupedPlan short_splits = plan_grouped(request_for(1, 32, 8, 8192));
  CHECK(short_splits.num_splits == 16);
  CHECK(short_splits.kv_blocks_per_split / short_splits.geometry.tile_blocks() == kMinTilesPerSharedSmSplit);
  CHECK(short_splits.reason.find("one block per SM") != std::string::npos);
  const GroupedPlan long_splits = plan_grouped(request_for(1, 32, 8, 32768));
  CHECK(long_splits.num_splits == 32);
  CHECK(long_splits.reason.find("one block per SM") == std::string::npos);
  // A GPU with one resident block per SM has nothing to choose.
  const GroupedPlan single = plan_grouped(request_for(1, 32, 8, 8192, 1));
  CHECK(single.num_splits == 16);
  // Batch 8, 2k tokens: 64 blocks, 4 splits of 8 tiles already qualify for both slots; at 512
  // tokens the splits are 2 tiles, but 64 blocks are not a small grid: both slots all the same.
  CHECK(plan_grouped(request_for(8, 32, 8, 2048)).num_splits == 4);
  CHECK(plan_grouped(request_for(8, 32, 8, 512)).num_splits == 4);
}

TEST_CASE("a forced split count is honoured up to one split per tile of the longest sequence") {
  GroupedPlanRequest request = request_for(128, 32, 8, 1000);
  request.forced_num_splits = 2;
  CHECK(plan_grouped(request).num_splits == 2);
  request.forced_num_splits = 1000;  // 1000 tokens = 16 tiles of 64
  CHECK(plan_grouped(request).num_splits == 16);
  request.forced_num_splits = 1;
  CHECK(plan_grouped(request).num_splits == 1);
}

TEST_CASE("query groups become 1, 2 or 4 row tiles, and groups beyond 4 row tiles are cut into equal chunks") {
  struct Case {
    int num_heads, num_kv_heads;
    int chunks, heads_per_chunk, row_tiles;
  };
  // Tensor cores: 16 heads per row tile, up to 64 per block.
  for (const Case c : {Case{32, 32, 1, 1, 1}, Case{32, 8, 1, 4, 1}, Case{64, 4, 1, 16, 1}, Case{32, 1, 1, 32, 2},
                       Case{48, 1, 1, 48, 4}, Case{72, 1, 2, 36, 4}, Case{128, 1, 2, 64, 4}}) {
    INFO(c.num_heads << "/" << c.num_kv_heads);
    const GroupedPlan plan = plan_grouped(request_for(4, c.num_heads, c.num_kv_heads, 100));
    CHECK(plan.num_head_chunks == c.chunks);
    CHECK(plan.heads_per_chunk == c.heads_per_chunk);
    CHECK(plan.row_tiles == c.row_tiles);
    CHECK(plan.num_token_slices * plan.row_tiles == kGroupedNumWarps);
    CHECK(plan.num_head_chunks * plan.heads_per_chunk >= plan.group_size);
  }
  // The kernel takes a warp's row tile and token slice with masks and shifts: every group size, on
  // both math paths, plans 1, 2 or 4 row tiles.
  for (GroupedMath math : {GroupedMath::tensor_cores, GroupedMath::cuda_cores})
    for (int group_size = 1; group_size <= 256; ++group_size) {
      const GroupedPlan plan = plan_grouped(request_for(4, group_size, 1, 100, 2, math));
      INFO("group " << group_size);
      CHECK((plan.row_tiles == 1 || plan.row_tiles == 2 || plan.row_tiles == 4));
      CHECK(plan.num_token_slices * plan.row_tiles == kGroupedNumWarps);
    }
  // CUDA cores: 8 heads per row tile, up to 32 per block.
  const GroupedPlan simt = plan_grouped(request_for(4, 40, 1, 100, 2, GroupedMath::cuda_cores));
  CHECK(simt.num_head_chunks == 2);
  CHECK(simt.heads_per_chunk == 20);
  CHECK(simt.row_tiles == 4);
}

TEST_CASE("the plan's shared memory grows with the row tiles and fits an H200 block for every configuration") {
  for (int head_size : kSupportedHeadSizes)
    for (int block_size : kSupportedBlockSizes)
      for (GroupedMath math : {GroupedMath::tensor_cores, GroupedMath::cuda_cores})
        for (int element_size : {2, 4})
          for (int cache_element_size : {element_size, 1}) {  // an auto cache, an fp8 one
            if (math == GroupedMath::tensor_cores && element_size == 4) continue;
            if (cache_element_size == 1 && !fp8_cache_takes_head_size(head_size)) continue;  // an fp8 cache
            const GroupedGeometry geometry{element_size, head_size, block_size, math, cache_element_size};
            INFO("head " << head_size << " block " << block_size << " element " << element_size << " cache element "
                         << cache_element_size);
            CHECK(geometry.shared_bytes(1) < geometry.shared_bytes(2));
            CHECK(geometry.shared_bytes(4) <= 227 * 1024);
            CHECK(geometry.copies_per_thread() * geometry.threads_per_kv_block() == 2 * geometry.kv_block_units());
            CHECK(modeled_h200(geometry.shared_bytes(1)).blocks_per_sm >= 1);
          }
}

TEST_CASE("the planner refuses heads that are not a multiple of the KV heads, naming both") {
  REQUIRE_THROWS_WITH(plan_grouped(request_for(1, 30, 8, 100)),
                      Catch::Contains("num_heads = 30") && Catch::Contains("num_kv_heads = 8"));
  REQUIRE_THROWS_AS(plan_grouped(request_for(0, 32, 8, 100)), ScenarioError);
}

TEST_CASE("the modeled H200 fits as many blocks per SM as its shared memory allows") {
  CHECK(modeled_h200(100 * 1024).blocks_per_sm == 2);
  CHECK(modeled_h200(60 * 1024).blocks_per_sm == 3);
  CHECK(modeled_h200(150 * 1024).blocks_per_sm == 1);
  CHECK(modeled_h200(1024).blocks_per_sm == 16);  // threads cap it: 2048 / 128
}
