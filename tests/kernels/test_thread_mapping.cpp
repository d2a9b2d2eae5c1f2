// Tests of kernels/thread_mapping.h: for every supported geometry, the v1/v2 kernel's thread ->
// data mappings cover their data exactly once, and the inverse look-ups invert them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "core/scenario.h"
#include "kernels/thread_mapping.h"

using namespace pal;

namespace {

std::vector<ThreadMapping> every_mapping() {
  std::vector<ThreadMapping> result;
  for (int element_size : {4, 2})
    for (int head_size : kSupportedHeadSizes)
      for (int block_size : kSupportedBlockSizes)
        result.push_back({KernelGeometry{element_size, head_size, block_size, kNumThreads, element_size}});
  return result;
}

}  // namespace

TEST_CASE("the lanes of a thread_group own every vec of a head exactly once", "[thread_mapping]") {
  for (const ThreadMapping& map : every_mapping()) {
    const KernelGeometry& g = map.geometry;
    INFO("element " << g.query_element_size << " head " << g.head_size << " block " << g.block_size);
    std::vector<int> owners(std::size_t(g.head_size / g.vec_size()), 0);
    for (int offset = 0; offset < g.thread_group_size(); ++offset)
      for (int i = 0; i < g.num_vecs_per_thread(); ++i) ++owners.at(std::size_t(map.vec_idx(offset, i)));
    CHECK(std::count(owners.begin(), owners.end(), 1) == int(owners.size()));
    // Thread t is lane offset_in_thread_group(t) of thread_group thread_group_of(t).
    for (int t = 0; t < g.num_threads; ++t)
      CHECK(map.thread_group_of(t) * g.thread_group_size() + map.offset_in_thread_group(t) == t);
  }
}

TEST_CASE("the thread_groups of a warp take every token slot of its kv_block once", "[thread_mapping]") {
  for (const ThreadMapping& map : every_mapping()) {
    const KernelGeometry& g = map.geometry;
    std::vector<int> slots(std::size_t(g.block_size), 0);
    for (int group = 0; group < kWarpSize / g.thread_group_size(); ++group)
      for (int i = 0; i < g.num_tokens_per_thread_group(); ++i) ++slots.at(std::size_t(map.key_block_offset(group, i)));
    INFO("head " << g.head_size << " block " << g.block_size);
    CHECK(std::count(slots.begin(), slots.end(), 1) == g.block_size);
  }
}

TEST_CASE("the lanes of a warp read every (row, token slot) of a kv_block's V once", "[thread_mapping]") {
  for (const ThreadMapping& map : every_mapping()) {
    const KernelGeometry& g = map.geometry;
    std::vector<int> reads(std::size_t(g.head_size * g.block_size), 0);
    for (int lane = 0; lane < kWarpSize; ++lane)
      for (int i = 0; i < g.num_rows_per_thread(); ++i) {
        const int row = map.value_row_idx(lane, i);
        if (row >= g.head_size) continue;
        for (int e = 0; e < g.v_vec_size(); ++e) ++reads.at(std::size_t(row * g.block_size + map.value_block_offset(lane) + e));
      }
    INFO("element " << g.query_element_size << " head " << g.head_size << " block " << g.block_size);
    CHECK(std::count(reads.begin(), reads.end(), 1) == g.head_size * g.block_size);
  }
}

TEST_CASE("each row has one writer lane, and row_writer_lane / row_slot find it", "[thread_mapping]") {
  for (const ThreadMapping& map : every_mapping()) {
    const KernelGeometry& g = map.geometry;
    std::vector<int> writers(std::size_t(g.head_size), 0);
    for (int lane = 0; lane < kWarpSize; ++lane)
      for (int i = 0; i < g.num_rows_per_thread() && map.is_row_writer(lane); ++i) {
        const int row = map.value_row_idx(lane, i);
        if (row >= g.head_size) continue;
        ++writers[std::size_t(row)];
        CHECK(map.row_writer_lane(row) == lane);
        CHECK(map.row_slot(row) == i);
      }
    INFO("element " << g.query_element_size << " head " << g.head_size << " block " << g.block_size);
    CHECK(std::count(writers.begin(), writers.end(), 1) == g.head_size);
  }
}

TEST_CASE("kv_blocks are dealt round-robin over the warps", "[thread_mapping]") {
  const ThreadMapping map{KernelGeometry{2, 64, 16, kNumThreads, 2}};
  for (int block = 0; block < 40; ++block) {
    CHECK(map.warp_of_block(block) == block % 4);
    CHECK(map.iteration_of_block(block) * 4 + map.warp_of_block(block) == block);
  }
  CHECK(map.thread_of_token_slot(130) == 2);
}
