// Coalescing figures against hand-worked cases: first pure lane-address patterns, then the kernel's
// own loads for geometries where the answer follows from the layout on paper.
#include <catch2/catch.hpp>

#include <algorithm>

#include "tests/visualizer/viz_test_support.h"
#include "core/inputs.h"
#include "visualizer/model/coalescing.h"

namespace pal::viz {
namespace {

using test::cached_session;

std::vector<LaneAccess> lanes_at(int num_lanes, std::int64_t first_byte, std::int64_t stride, int bytes) {
  std::vector<LaneAccess> lanes;
  for (int lane = 0; lane < num_lanes; ++lane) lanes.push_back({lane, first_byte + lane * stride, bytes});
  return lanes;
}

TEST_CASE("32 lanes reading consecutive 8-byte pieces fetch 8 sectors in 2 lines with nothing wasted") {
  const Footprint f = footprint_of(lanes_at(32, 0, 8, 8));
  CHECK(f.bytes_used == 256);
  CHECK(f.sectors.size() == 8);
  CHECK(f.lines.size() == 2);
  CHECK(f.efficiency() == 1.0);
}

TEST_CASE("lanes 128 bytes apart each fetch their own sector and line") {
  const Footprint f = footprint_of(lanes_at(32, 0, 128, 4));
  CHECK(f.bytes_used == 128);
  CHECK(f.sectors.size() == 32);
  CHECK(f.lines.size() == 32);
  CHECK(f.bytes_fetched() == 1024);
  CHECK(f.efficiency() == Approx(0.125));
}

TEST_CASE("a contiguous load that starts mid-sector touches one extra sector and line") {
  // Bytes [16, 528): sectors 0..16, lines 0..4.
  const Footprint f = footprint_of(lanes_at(32, 16, 16, 16));
  CHECK(f.bytes_used == 512);
  CHECK(f.sectors.size() == 17);
  CHECK(f.lines.size() == 5);
  CHECK(f.efficiency() == Approx(512.0 / 544.0));
}

TEST_CASE("lanes reading the same bytes count them once") {
  const Footprint f = footprint_of(lanes_at(32, 64, 0, 4));
  CHECK(f.bytes_used == 4);
  CHECK(f.sectors == std::vector<std::int64_t>{2});
  CHECK(f.efficiency() == Approx(4.0 / 32.0));
}

TEST_CASE("the kernel's key, value and query loads are fully coalesced for fp16 block_size 16") {
  // Key: lane L of warp reads k_cache elements base + j*128 + 4L (4 fp16 each): 256 contiguous bytes.
  // Value: lane L reads base + 256i + 8L (8 fp16 each): 512 contiguous bytes.
  // Query: lanes 0-15 read 4 fp16 each, 128 contiguous bytes of one head (head rows are 128 B).
  const Session& session = cached_session(Scenario{});
  const LoadIndex index(session, 1, 1);
  const std::vector<WarpLoad> loads = warp_loads(session, index);
  REQUIRE_FALSE(loads.empty());
  int keys = 0, values = 0, queries = 0;
  for (const WarpLoad& load : loads) {
    INFO("kind " << int(load.kind) << " warp " << load.warp << " iteration " << load.iteration << " trip " << load.trip);
    CHECK(load.footprint.efficiency() == 1.0);
    if (load.kind == LoadKind::key) {
      ++keys;
      CHECK(load.lanes.size() == 32);
      CHECK(load.footprint.bytes_used == 256);
      CHECK(load.footprint.sectors.size() == 8);
      CHECK(load.footprint.lines.size() == 2);
    } else if (load.kind == LoadKind::value) {
      ++values;
      CHECK(load.footprint.bytes_used == 512);
      CHECK(load.footprint.lines.size() == 4);
    } else {
      ++queries;
      CHECK(load.lanes.size() == 16);
      CHECK(load.footprint.bytes_used == 128);
      CHECK(load.footprint.lines.size() == 1);
    }
  }
  // 7 blocks * 8 k_vecs per thread; 7 blocks * 4 V rows per lane (64 rows / 16 per iteration); one q copy.
  CHECK(keys == 7 * 8);
  CHECK(values == 7 * 4);
  CHECK(queries == 1);
  const CoalescingTotals totals = totals_of(loads, LoadKind::none);
  CHECK(totals.num_loads == keys + values + queries);
  CHECK(totals.efficiency() == 1.0);
}

TEST_CASE("fp32 block_size 32 key loads are 32 lanes of 16 bytes, one token each") {
  // THREAD_GROUP_SIZE 1, VEC_SIZE 4 floats = x: lane L reads token L's chunk j at base + 128j + 4L.
  Scenario scenario;
  scenario.dtype = DType::fp32;
  scenario.block_size = 32;
  scenario.num_seqs = 1;
  scenario.seq_lens = {40};
  const Session& session = cached_session(scenario);
  const LoadIndex index(session, 0, 0);
  for (const WarpLoad& load : warp_loads(session, index)) {
    if (load.kind != LoadKind::key) continue;
    CHECK(load.lanes.size() == 32);
    CHECK(load.footprint.bytes_used == 512);
    CHECK(load.footprint.sectors.size() == 16);
    CHECK(load.footprint.efficiency() == 1.0);
  }
}

TEST_CASE("every what-if layout places each element of a kv_block slice exactly once inside the slice") {
  const KvCacheLayout cache{3, 64, 16, 8};
  for (WhatIfLayout layout : kWhatIfLayouts) {
    INFO(what_if_info(layout).name);
    std::vector<int> hits(static_cast<std::size_t>(cache.kv_head_stride()), 0);
    const std::int64_t slice_base = (5 * cache.num_kv_heads + 2) * cache.kv_head_stride();  // block 5, kv head 2
    for (int dim = 0; dim < cache.head_size; ++dim)
      for (int slot = 0; slot < cache.block_size; ++slot) {
        const std::int64_t offset = what_if_offset(layout, cache, KvCacheCoordinates{5, 2, dim, slot}) - slice_base;
        REQUIRE(offset >= 0);
        REQUIRE(offset < cache.kv_head_stride());
        ++hits[static_cast<std::size_t>(offset)];
      }
    CHECK(std::all_of(hits.begin(), hits.end(), [](int n) { return n == 1; }));
  }
}

TEST_CASE("what-if layouts read the same bytes as upstream's, in more sectors or more instructions") {
  // fp16, block_size 16, head_size 64: a lane's key vec is 4 elements (8 bytes), a v_vec 8 tokens.
  //  K token-major: a thread group's 16 bytes of a token sit 128 bytes from the next token's, so each
  //    token costs its own 32-byte sector for 16 bytes used: 50 %, with the same instructions.
  //  K without the x split: a lane's 4 dims are rows 32 bytes apart, so each load falls apart into 4
  //    (2 bytes a lane, 16 tokens of a row side by side: every sector fully used).
  //  V token-major: a lane's 8 tokens are 128 bytes apart: 8 loads of 2 bytes a lane.
  const Session& session = cached_session(Scenario{});
  const LoadIndex index(session, 1, 1);
  const std::vector<WarpLoad> loads = warp_loads(session, index);
  const KvCacheLayout cache = kv_cache_layout(session.scenario());
  const int element_size = session.scenario().kv_cache_element_size();
  const CoalescingTotals keys = totals_of(loads, LoadKind::key), values = totals_of(loads, LoadKind::value);
  for (WhatIfLayout layout : kWhatIfLayouts) {
    INFO(what_if_info(layout).name);
    const CoalescingTotals actual = what_if_info(layout).kind == LoadKind::key ? keys : values;
    const CoalescingTotals what_if = what_if_totals(loads, layout, cache, element_size);
    CHECK(what_if.bytes_used == actual.bytes_used);
    CHECK((what_if.bytes_fetched > actual.bytes_fetched || what_if.num_loads > actual.num_loads));
  }
  const CoalescingTotals token_major = what_if_totals(loads, WhatIfLayout::key_token_major, cache, element_size);
  CHECK(token_major.num_loads == keys.num_loads);
  CHECK(token_major.efficiency() == Approx(0.5));
  const CoalescingTotals no_x = what_if_totals(loads, WhatIfLayout::key_without_x_split, cache, element_size);
  CHECK(no_x.num_loads == 4 * keys.num_loads);
  CHECK(no_x.efficiency() == 1.0);
  const CoalescingTotals naive_v = what_if_totals(loads, WhatIfLayout::value_token_major, cache, element_size);
  CHECK(naive_v.num_loads == 8 * values.num_loads);
}

}  // namespace
}  // namespace pal::viz
