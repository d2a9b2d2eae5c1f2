// The grouped kernel's views (visualizer/model/grouped.h) on small GQA runs of the emulator: each view
// covers what the kernel did exactly once, agrees with the recording's other readers (the version
// comparison's byte counts, the registry's stages) and with the reference.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/softmax_state.h"
#include "run/version_compare.h"
#include "tests/visualizer/viz_test_support.h"
#include "visualizer/model/grouped.h"
#include "visualizer/model/view_model.h"

namespace pal::viz {
namespace {

// 8 query heads over 2 KV heads (groups of 4); 300 tokens take five 64-token splits (the modeled
// H200 has far more SMs than this batch has thread_blocks: one tile per split), 37 tokens one.
constexpr int kSplitsOfLongerSequence = 5;
Scenario grouped_scenario(DType dtype) {
  Scenario s;
  s.num_heads = 8;
  s.num_kv_heads = 2;
  s.seq_lens = {300, 37};
  s.dtype = dtype;
  s.version = KernelVersion::grouped;
  return s;
}

const Session& grouped_session(DType dtype = DType::fp16) { return test::cached_session(grouped_scenario(dtype)); }

TEST_CASE("pal-viz opens a grouped run: the session keeps its recording and its own reference") {
  const Session& s = grouped_session();
  CHECK(s.is_grouped());
  CHECK_FALSE(s.is_v2());
  CHECK(s.report().passed());
  CHECK(grouped_active_splits(s, 0) == kSplitsOfLongerSequence);
  CHECK(grouped_active_splits(s, 1) == 1);
}

TEST_CASE("a grouped timeline has only the grouped kernel's stages, and each warp step lights one warp") {
  for (DType dtype : {DType::fp16, DType::fp32}) {  // tensor cores and CUDA cores
    const Session& s = grouped_session(dtype);
    for (int seq = 0; seq < 2; ++seq) {
      const Timeline t = build_timeline(s, seq, 5);
      REQUIRE(t.size() > 0);
      for (const Step& step : t.steps) {
        CHECK(stage_in_variant(step.stage(), KernelVersion::grouped));
        CHECK_FALSE(step.description.empty());
        if (step.kind == StepKind::grouped_qk_step || step.kind == StepKind::grouped_pv_step) {
          REQUIRE(step.num_active() == kWarpSize);
          const auto first = std::find(step.active_threads.begin(), step.active_threads.end(), 1) - step.active_threads.begin();
          CHECK(first % kWarpSize == 0);
        }
      }
      // The head's steps are the reference's steps of the warps that hold its row, in every split.
      std::size_t reference_steps = 0;
      for (int split = 0; split < grouped_active_splits(s, seq); ++split) {
        const GroupedHeadBlock hb = grouped_head_block(s, seq, 5, split);
        REQUIRE(hb.block != nullptr);
        for (const GroupedWarpStages& warp : hb.block->warps)
          if (warp.num_rows > 0 && hb.block_row >= warp.first_row && hb.block_row < warp.first_row + warp.num_rows)
            reference_steps += warp.steps.size();
      }
      CHECK(std::count_if(t.steps.begin(), t.steps.end(), [](const Step& st) { return st.kind == StepKind::grouped_qk_step; }) ==
            static_cast<long>(reference_steps));
      // split_merge exactly when the sequence has several splits.
      CHECK((t.first_of(StepKind::grouped_split_merge) >= 0) == (grouped_active_splits(s, seq) > 1));
      CHECK(t.parse_step("online_softmax") == t.first_of(Stage::online_softmax));
    }
  }
}

TEST_CASE("grouped_head_tokens lists every token of the sequence once, with the kernel's values beside the reference's") {
  const Session& s = grouped_session();
  for (int seq = 0; seq < 2; ++seq)
    for (int head : {0, 3, 4, 7}) {
      const std::vector<GroupedToken> tokens = grouped_head_tokens(s, seq, head);
      REQUIRE(static_cast<int>(tokens.size()) == s.seq_len(seq));
      for (int i = 0; i < s.seq_len(seq); ++i) {
        const GroupedToken& t = tokens[static_cast<std::size_t>(i)];
        CHECK(t.token_idx == i);
        CHECK(t.logit == Approx(t.reference_logit).margin(2e-2));
        CHECK(t.prob >= 0.0f);
        CHECK(t.prob <= 1.0f);
        CHECK(t.prob == Approx(t.reference_prob).margin(2e-3));
        // Online softmax: the running max bounds every logit of its step.
        CHECK(t.logit <= t.running_max);
      }
    }
}

TEST_CASE("merging the recorded warp states reproduces each split's state, and the split shares add up to 1") {
  const Session& s = grouped_session();
  const GroupedMergeView view = grouped_merge_view(s, 0, 6);
  REQUIRE(view.splits.size() == std::size_t(kSplitsOfLongerSequence));
  CHECK(view.has_split_merge);
  for (const GroupedSplitStates& split : view.splits) {
    SoftmaxState merged = SoftmaxState::empty();
    for (const GroupedWarpStateRow& warp : split.warps) merged = merged.merged_with(SoftmaxState{warp.max_logit, warp.exp_sum});
    CHECK(merged.max_logit == Approx(split.max_logit));
    CHECK(merged.exp_sum == Approx(split.exp_sum).epsilon(1e-4));
    CHECK(split.max_logit == Approx(split.reference_max_logit).margin(1e-2));
  }
  double shares = 0.0;
  for (float w : view.reference_weights) shares += w;
  CHECK(shares == Approx(1.0).epsilon(1e-5));
  CHECK(view.merged_max_logit == Approx(view.reference_merged_max_logit).margin(1e-2));
  CHECK_FALSE(grouped_merge_view(s, 1, 6).has_split_merge);
}

TEST_CASE("the grouped copies read each byte of the KV head once, in full-sector instructions, as the comparison counts") {
  const Session& s = grouped_session();
  const VersionProfile profile = profile_version(s);
  // Heads 0-3 share KV head 0: the copies of their blocks are the same ones.
  for (int kv_head = 0; kv_head < 2; ++kv_head) {
    std::int64_t bytes = 0, unique = 0;
    for (int seq = 0; seq < 2; ++seq) {
      const std::vector<WarpLoad> loads = grouped_warp_copies(s, seq, kv_head * 4 + 1);
      REQUIRE_FALSE(loads.empty());
      std::set<std::pair<int, std::int64_t>> seen;  // (kind, byte)
      for (const WarpLoad& load : loads) {
        CHECK((load.kind == LoadKind::key || load.kind == LoadKind::value));
        for (const LaneAccess& lane : load.lanes) {
          bytes += lane.num_bytes;
          for (std::int64_t b = lane.byte_begin; b < lane.byte_begin + lane.num_bytes; ++b)
            unique += seen.insert({int(load.kind), b}).second;
        }
        // Consecutive lanes copy consecutive 16-byte units: a warp's full copies fetch no sector for
        // nothing (at a sequence's end a V unit may copy fewer bytes, and K units past it none).
        const bool full = load.lanes.size() == kWarpSize &&
                          std::all_of(load.lanes.begin(), load.lanes.end(), [](const LaneAccess& l) { return l.num_bytes == 16; });
        if (full) CHECK(load.footprint.efficiency() == 1.0);
        if (full) CHECK(load.footprint.bytes_used == 512);
      }
    }
    const KvHeadTraffic& traffic = profile.kv_heads[static_cast<std::size_t>(kv_head)];
    CHECK(bytes == traffic.loaded_bytes);
    CHECK(unique == traffic.unique_bytes);
    CHECK(bytes == unique);  // read once
  }
}

TEST_CASE("the grouped pipeline puts tile t in stage t % num_stages and covers each split's kv_blocks once") {
  const Session& s = grouped_session();
  const GroupedPipeline pipeline = grouped_pipeline(s, 0, 2);
  REQUIRE(pipeline.num_stages >= 2);
  CHECK(pipeline.tile_bytes * pipeline.num_stages <= pipeline.shared_bytes);
  for (int split = 0; split < grouped_active_splits(s, 0); ++split) {
    const GroupedHeadBlock hb = grouped_head_block(s, 0, 2, split);
    std::vector<int> covered;
    for (const GroupedTile& tile : pipeline.tiles) {
      if (tile.split_idx != split) continue;
      CHECK(tile.stage_idx == tile.tile_idx % pipeline.num_stages);
      CHECK(tile.key_bytes > 0);
      for (std::size_t i = 0; i < tile.logical_blocks.size(); ++i) {
        covered.push_back(tile.logical_blocks[i]);
        CHECK(tile.physical_blocks[i] == s.physical_block(0, tile.logical_blocks[i]));
      }
    }
    std::vector<int> expected;
    for (int b = hb.block->range.start_block_idx; b < hb.block->range.end_block_idx; ++b) expected.push_back(b);
    CHECK(covered == expected);
  }
}

TEST_CASE("the view model focuses a grouped run: its loads are the copies, and out-of-range heads are refused") {
  ViewModel model;
  model.open_scenario(grouped_scenario(DType::fp16), Backend::emulator);
  model.set_focus(0, 7);
  CHECK(model.timeline().size() > 0);
  CHECK_FALSE(model.warp_loads().empty());
  // split_merge's steps carry the last split's index
  CHECK(model.partition_of_step(model.timeline().size() - 1) == kSplitsOfLongerSequence - 1);
  CHECK_THROWS_WITH(model.set_focus(0, 8), Catch::Contains("head 8 is out of range"));
  CHECK_THROWS_WITH(grouped_head_tokens(test::cached_session(test::default_scenario()), 0, 0),
                    Catch::Contains("need a grouped run"));
}

}  // namespace
}  // namespace pal::viz
