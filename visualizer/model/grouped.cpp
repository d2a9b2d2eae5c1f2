#include "visualizer/model/grouped.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "kernels/grouped_geometry.h"
#include "visualizer/model/format.h"

namespace pal::viz {

namespace {

void check_focus(const Session& session, int seq_idx, int head_idx) {
  if (!session.is_grouped())
    throw ScenarioError("the grouped views need a grouped run; this one is " +
                        std::string(version_name(session.version())));
  if (seq_idx < 0 || seq_idx >= session.scenario().num_seqs)
    throw ScenarioError("seq " + std::to_string(seq_idx) + " is out of range; this run has sequences 0-" +
                        std::to_string(session.scenario().num_seqs - 1));
  if (head_idx < 0 || head_idx >= session.scenario().num_heads)
    throw ScenarioError("head " + std::to_string(head_idx) + " is out of range; this run has heads 0-" +
                        std::to_string(session.scenario().num_heads - 1));
}

// The number of recorded copies of a thread, bounded by the array (a damaged dump may claim more);
// -1 (the buffer's 0xFF fill) for a block that exited before copying.
int recorded_copy_count(const Recording& recording, std::int64_t gb, int thread) {
  const RecordPointers& p = recording.ptr();
  const int count = p.grouped_copy_counts_at(gb, thread);
  return std::clamp(count, 0, recording.dims().max_loads_per_thread);
}

// The warps that hold the head's row: the token slices of its row tile, in token-slice order.
std::vector<const GroupedWarpStages*> warps_of_row(const GroupedBlockStages& block, int block_row) {
  std::vector<const GroupedWarpStages*> warps;
  for (const GroupedWarpStages& warp : block.warps)
    if (warp.num_rows > 0 && block_row >= warp.first_row && block_row < warp.first_row + warp.num_rows)
      warps.push_back(&warp);
  std::sort(warps.begin(), warps.end(),
            [](const GroupedWarpStages* a, const GroupedWarpStages* b) { return a->token_slice < b->token_slice; });
  return warps;
}

std::string head_range(int first, int count) {
  return count == 1 ? "head " + std::to_string(first)
                    : "heads " + std::to_string(first) + "-" + std::to_string(first + count - 1);
}

}  // namespace

int grouped_active_splits(const Session& session, int seq_idx) {
  check_focus(session, seq_idx, 0);
  return std::max(1, session.grouped_reference().active_splits.at(static_cast<std::size_t>(seq_idx)));
}

GroupedHeadBlock grouped_head_block(const Session& session, int seq_idx, int head_idx, int split_idx) {
  check_focus(session, seq_idx, head_idx);
  GroupedHeadBlock found;
  for (const GroupedBlockStages& block : session.grouped_reference().blocks) {
    if (block.seq_idx != seq_idx || block.split_idx != split_idx) continue;
    if (head_idx < block.first_head_idx || head_idx >= block.first_head_idx + block.num_heads) continue;
    found.block = &block;
    found.block_row = head_idx - block.first_head_idx;
    found.gb = session.dims().gb_index(seq_idx, block.kv_head_idx, block.head_chunk_idx, split_idx);
    return found;
  }
  return found;
}

std::vector<GroupedToken> grouped_head_tokens(const Session& session, int seq_idx, int head_idx) {
  const RecordPointers& p = session.recording().ptr();
  std::vector<GroupedToken> tokens;
  for (int split = 0; split < grouped_active_splits(session, seq_idx); ++split) {
    const GroupedHeadBlock hb = grouped_head_block(session, seq_idx, head_idx, split);
    if (hb.block == nullptr) continue;
    for (const GroupedWarpStages* warp : warps_of_row(*hb.block, hb.block_row)) {
      const std::size_t row = static_cast<std::size_t>(hb.block_row - warp->first_row);
      for (const GroupedStepStages& step : warp->steps)
        for (int t = 0; t < kGroupedWarpTokens; ++t) {
          const int token = step.first_token_idx + t;
          if (token >= hb.block->range.end_token_idx) break;
          const std::size_t slot = row * kGroupedWarpTokens + static_cast<std::size_t>(t);
          GroupedToken g;
          g.token_idx = token;
          g.split_idx = split;
          g.step_idx = step.step_idx;
          g.warp_idx = warp->warp_idx;
          g.logit = p.grouped_logits_at(hb.gb, step.step_idx, hb.block_row, t);
          g.prob = p.grouped_probs_at(hb.gb, step.step_idx, hb.block_row, t);
          g.running_max = p.grouped_running_max_at(hb.gb, step.step_idx, hb.block_row);
          g.reference_logit = step.logits.at(slot);
          g.reference_prob = step.probs.at(slot);
          g.reference_running_max = step.running_max.at(row);
          tokens.push_back(g);
        }
    }
  }
  std::sort(tokens.begin(), tokens.end(), [](const GroupedToken& a, const GroupedToken& b) { return a.token_idx < b.token_idx; });
  return tokens;
}

GroupedMergeView grouped_merge_view(const Session& session, int seq_idx, int head_idx) {
  const RecordPointers& p = session.recording().ptr();
  const GroupedReferenceRun& ref = session.grouped_reference();
  GroupedMergeView view;
  for (int split = 0; split < grouped_active_splits(session, seq_idx); ++split) {
    const GroupedHeadBlock hb = grouped_head_block(session, seq_idx, head_idx, split);
    if (hb.block == nullptr) continue;
    GroupedSplitStates states;
    states.split_idx = split;
    states.range = hb.block->range;
    for (const GroupedWarpStages* warp : warps_of_row(*hb.block, hb.block_row)) {
      const int warp_row = hb.block_row - warp->first_row;
      GroupedWarpStateRow row;
      row.warp_idx = warp->warp_idx;
      row.token_slice = warp->token_slice;
      row.num_steps = static_cast<int>(warp->steps.size());
      row.max_logit = p.grouped_warp_max_logit_at(hb.gb, warp->warp_idx, warp_row);
      row.exp_sum = p.grouped_warp_exp_sum_at(hb.gb, warp->warp_idx, warp_row);
      row.reference_max_logit = warp->states.at(static_cast<std::size_t>(warp_row)).max_logit;
      row.reference_exp_sum = warp->states.at(static_cast<std::size_t>(warp_row)).exp_sum;
      states.warps.push_back(row);
    }
    states.max_logit = p.split_max_logit_at(hb.gb, hb.block_row);
    states.exp_sum = p.split_exp_sum_at(hb.gb, hb.block_row);
    states.reference_max_logit = hb.block->merged.at(static_cast<std::size_t>(hb.block_row)).max_logit;
    states.reference_exp_sum = hb.block->merged.at(static_cast<std::size_t>(hb.block_row)).exp_sum;
    view.splits.push_back(std::move(states));
  }
  view.has_split_merge = ref.active_splits.at(static_cast<std::size_t>(seq_idx)) > 1;
  if (view.has_split_merge) {
    const std::int64_t sh = session.dims().sh_index(seq_idx, head_idx);
    const GroupedSplitMerge& merge = ref.merges.at(static_cast<std::size_t>(sh));
    view.merged_max_logit = p.merge_max_logit_at(sh);
    view.merged_exp_sum = p.merge_exp_sum_at(sh);
    view.reference_merged_max_logit = merge.merged.max_logit;
    view.reference_merged_exp_sum = merge.merged.exp_sum;
    view.reference_weights = merge.weights;
  }
  return view;
}

std::vector<WarpLoad> grouped_warp_copies(const Session& session, int seq_idx, int head_idx) {
  const Recording& recording = session.recording();
  const RecordPointers& p = recording.ptr();
  const int element_size = session.cache_element_size();
  // split, tile, kind, copy of that kind in the tile, warp. A thread copies either every unit it owns
  // of a kv_block's K (or V) region or none of them (its units of a region hold the same tokens), so
  // the n-th recorded copy of a kind is the n-th one the thread issued of that kind, and lanes that
  // share n issued it in the same instruction.
  using Key = std::tuple<int, int, int, int, int>;
  std::map<Key, WarpLoad> instructions;
  for (int split = 0; split < grouped_active_splits(session, seq_idx); ++split) {
    const GroupedHeadBlock hb = grouped_head_block(session, seq_idx, head_idx, split);
    if (hb.block == nullptr) continue;
    for (int thread = 0; thread < session.dims().num_threads; ++thread) {
      std::map<std::pair<int, int>, int> issued;  // (tile, kind) -> copies so far
      for (int i = 0; i < recorded_copy_count(recording, hb.gb, thread); ++i) {
        const LoadRecord& copy = p.grouped_copies_at(hb.gb, thread, i);
        if (copy.kind != LoadKind::key && copy.kind != LoadKind::value) continue;
        const int trip = issued[{copy.iteration, int(copy.kind)}]++;
        const Key key{split, copy.iteration, int(copy.kind), trip, thread / kWarpSize};
        WarpLoad& load = instructions[key];
        load.kind = copy.kind;
        load.partition_idx = split;
        load.warp = thread / kWarpSize;
        load.iteration = copy.iteration;
        load.trip = trip;
        load.lanes.push_back(LaneAccess{thread % kWarpSize, copy.element_offset * element_size, copy.vec_idx});
      }
    }
  }
  std::vector<WarpLoad> result;
  result.reserve(instructions.size());
  for (auto& [key, load] : instructions) {
    load.footprint = footprint_of(load.lanes);
    result.push_back(std::move(load));
  }
  return result;
}

GroupedPipeline grouped_pipeline(const Session& session, int seq_idx, int head_idx) {
  check_focus(session, seq_idx, head_idx);
  const GroupedPlan& plan = session.kernel().grouped_plan;
  const Recording& recording = session.recording();
  const RecordPointers& p = recording.ptr();
  GroupedPipeline pipeline;
  pipeline.num_stages = plan.geometry.num_stages();
  pipeline.tile_tokens = plan.geometry.tile_tokens();
  pipeline.tile_bytes = plan.geometry.tile_bytes();
  pipeline.shared_bytes = plan.shared_bytes;
  const KvCacheLayout& layout = session.kv_layout();
  for (int split = 0; split < grouped_active_splits(session, seq_idx); ++split) {
    const GroupedHeadBlock hb = grouped_head_block(session, seq_idx, head_idx, split);
    if (hb.block == nullptr) continue;
    std::map<int, GroupedTile> tiles;
    std::map<int, std::set<std::int64_t>> physical_of_tile;
    for (int thread = 0; thread < session.dims().num_threads; ++thread)
      for (int i = 0; i < recorded_copy_count(recording, hb.gb, thread); ++i) {
        const LoadRecord& copy = p.grouped_copies_at(hb.gb, thread, i);
        if (copy.kind != LoadKind::key && copy.kind != LoadKind::value) continue;
        GroupedTile& tile = tiles[copy.iteration];
        tile.split_idx = split;
        tile.tile_idx = copy.iteration;
        tile.stage_idx = copy.iteration % pipeline.num_stages;
        ++tile.num_copies;
        (copy.kind == LoadKind::key ? tile.key_bytes : tile.value_bytes) += copy.vec_idx;
        const KvCacheCoordinates at = copy.kind == LoadKind::key ? layout.key_coordinates(copy.element_offset)
                                                                 : layout.value_coordinates(copy.element_offset);
        physical_of_tile[copy.iteration].insert(at.physical_block);
      }
    // Each physical kv_block back to its position in this sequence's table (within the split).
    for (auto& [tile_idx, tile] : tiles) {
      for (int logical = hb.block->range.start_block_idx; logical < hb.block->range.end_block_idx; ++logical)
        if (physical_of_tile[tile_idx].count(session.physical_block(seq_idx, logical))) {
          tile.logical_blocks.push_back(logical);
          tile.physical_blocks.push_back(session.physical_block(seq_idx, logical));
        }
      pipeline.tiles.push_back(tile);
    }
  }
  return pipeline;
}

// ---- the timeline -----------------------------------------------------------------------------------

namespace {

class GroupedTimelineBuilder {
 public:
  GroupedTimelineBuilder(const Session& session, int seq_idx, int head_idx, Timeline& out)
      : s_(session), p_(session.recording().ptr()), seq_(seq_idx), head_(head_idx), out_(out),
        num_threads_(session.dims().num_threads), plan_(session.kernel().grouped_plan) {}

  void split(int split_idx) {
    hb_ = grouped_head_block(s_, seq_, head_, split_idx);
    if (hb_.block == nullptr) return;
    split_ = split_idx;
    const GroupedBlockStages& block = *hb_.block;
    const int num_tiles = divide_round_up(block.range.num_blocks(), plan_.geometry.tile_blocks());
    const int num_stages = plan_.geometry.num_stages();
    // As the kernel: the pipeline's fill (tiles 0 .. num_stages-2 in flight), then the query rows.
    for (int tile = 0; tile < std::min(num_stages - 1, num_tiles); ++tile) tile_copies(tile, -1);
    query_load();
    const std::vector<const GroupedWarpStages*> warps = warps_of_row(block, hb_.block_row);
    for (int tile = 0; tile < num_tiles; ++tile) {
      tile_wait(tile, num_tiles);
      if (tile + num_stages - 1 < num_tiles) tile_copies(tile + num_stages - 1, tile);
      // The tile's steps in step order, each shown by the warp whose token slice computes it.
      for (int step_in_tile = 0; step_in_tile < plan_.geometry.steps_per_tile(); ++step_in_tile) {
        const int step_idx = tile * plan_.geometry.steps_per_tile() + step_in_tile;
        for (const GroupedWarpStages* warp : warps)
          for (const GroupedStepStages& step : warp->steps)
            if (step.step_idx == step_idx) warp_step(*warp, step);
      }
    }
    block_merge();
    output();
  }

  void split_merge() {
    const GroupedMergeView view = grouped_merge_view(s_, seq_, head_);
    if (!view.has_split_merge) return;
    split_ = -1;
    Step& step = add(StepKind::grouped_split_merge, 0);
    std::fill(step.active_threads.begin(), step.active_threads.end(), 1);
    step.title = titled(step, "seq " + std::to_string(seq_) + ", head " + std::to_string(head_) + ": " +
                                  std::to_string(view.splits.size()) + " splits");
    std::ostringstream text;
    text << "The second kernel merges the " << view.splits.size() << " splits of seq " << seq_ << " for head " << head_
         << ": the global max is the largest split max, each split's exp_sum moves onto it (exp_sum * exp(max_s - max)), "
            "and each split's normalised partial output is weighted by its share. Splits' (max, exp_sum): ";
    for (std::size_t i = 0; i < view.splits.size(); ++i)
      text << (i ? ", " : "") << "(" << format_value(view.splits[i].max_logit) << ", " << format_value(view.splits[i].exp_sum)
           << ")";
    text << ". Merged: max " << format_value(view.merged_max_logit) << ", exp_sum " << format_value(view.merged_exp_sum)
         << " (reference " << format_value(view.reference_merged_max_logit) << ", "
         << format_value(view.reference_merged_exp_sum) << "). Shares:";
    for (float weight : view.reference_weights) text << " " << format_value(weight, 3);
    step.description = text.str();
  }

 private:
  Step& add(StepKind kind, int index) {
    Step step;
    step.kind = kind;
    step.partition_idx = split_;
    step.index = index;
    step.active_threads.assign(static_cast<std::size_t>(num_threads_), 0);
    out_.steps.push_back(std::move(step));
    return out_.steps.back();
  }
  std::string where() const {
    const GroupedBlockStages& b = *hb_.block;
    return "the thread_block of KV head " + std::to_string(b.kv_head_idx) + " (" + head_range(b.first_head_idx, b.num_heads) +
           "), seq " + std::to_string(seq_) + ", split " + std::to_string(split_) + " (tokens " +
           std::to_string(b.range.start_token_idx) + "-" + std::to_string(b.range.end_token_idx - 1) + ")";
  }
  static std::string titled(const Step& step, const std::string& detail) {
    return std::string(stage_name(step.stage())) + ": " + detail;
  }
  std::string split_prefix() const { return plan_.num_splits > 1 ? "split " + std::to_string(split_) + ", " : ""; }

  void query_load() {
    Step& step = add(StepKind::query_load, 0);
    std::fill(step.active_threads.begin(), step.active_threads.end(), 1);
    const GroupedBlockStages& b = *hb_.block;
    step.title = titled(step, split_prefix() + head_range(b.first_head_idx, b.num_heads) + " to shared memory");
    std::ostringstream text;
    text << "In " << where() << ", the " << num_threads_ << " threads copy the query rows of "
         << head_range(b.first_head_idx, b.num_heads) << " (every query head of KV head " << b.kv_head_idx
         << "'s group in this block) into shared memory once, while the first tiles' copies are in flight. Every warp "
            "then reads its row tile of "
         << plan_.geometry.rows_per_warp() << " query heads from there"
         << (plan_.geometry.math == GroupedMath::tensor_cores ? " (as mma A fragments, ldmatrix)." : " (as fp32).")
         << " Head " << head_ << " is row " << hb_.block_row << " of the block.";
    step.description = text.str();
  }

  void tile_copies(int tile, int issued_at_wait) {
    Step& step = add(StepKind::tile_copies, tile);
    const Recording& recording = s_.recording();
    std::int64_t bytes = 0;
    int copies = 0;
    for (int thread = 0; thread < num_threads_; ++thread)
      for (int i = 0; i < recorded_copy_count(recording, hb_.gb, thread); ++i) {
        const LoadRecord& copy = p_.grouped_copies_at(hb_.gb, thread, i);
        if (copy.iteration != tile) continue;
        step.active_threads[static_cast<std::size_t>(thread)] = 1;
        bytes += copy.vec_idx;
        ++copies;
      }
    const int first_block = hb_.block->range.start_block_idx + tile * plan_.geometry.tile_blocks();
    const int last_block = std::min(first_block + plan_.geometry.tile_blocks(), hb_.block->range.end_block_idx) - 1;
    step.title = titled(step, split_prefix() + "tile " + std::to_string(tile) + " (kv_blocks " +
                                  std::to_string(first_block) + "-" + std::to_string(last_block) + ") to stage " +
                                  std::to_string(tile % plan_.geometry.num_stages()));
    std::ostringstream text;
    text << (issued_at_wait < 0 ? "Filling the pipeline: " : "After the wait for tile " + std::to_string(issued_at_wait) + ": ")
         << "the threads issue cp.async copies of tile " << tile << " (logical kv_blocks " << first_block << "-"
         << last_block << " of seq " << seq_ << ", K and V of KV head " << hb_.block->kv_head_idx
         << ") into shared-memory stage " << tile % plan_.geometry.num_stages() << " of "
         << plan_.geometry.num_stages() << ": " << copies << " 16-byte copies, " << format_bytes(bytes)
         << " read from the cache. Each kv_block's K and V are contiguous in the cache, so a warp's 32 copies read "
            "512 consecutive bytes. This is the only time these bytes are read: every query head of the block uses "
            "the copy.";
    step.description = text.str();
  }

  void tile_wait(int tile, int num_tiles) {
    Step& step = add(StepKind::tile_wait, tile);
    std::fill(step.active_threads.begin(), step.active_threads.end(), 1);
    step.title = titled(step, split_prefix() + "tile " + std::to_string(tile) + " of " + std::to_string(num_tiles) +
                                  " has landed");
    std::ostringstream text;
    text << "Each thread waits until its copies of tile " << tile << " have landed (cp.async.wait_group "
         << plan_.geometry.num_stages() - 2 << ": the newer groups may stay in flight), then a barrier makes every "
            "thread's copies visible and says every warp is done with the stage the next copies overwrite.";
    step.description = text.str();
  }

  void warp_step(const GroupedWarpStages& warp, const GroupedStepStages& step_stages) {
    const int row = hb_.block_row;
    const int step_idx = step_stages.step_idx;
    const int first = step_stages.first_token_idx;
    const int last = std::min(first + kGroupedWarpTokens, hb_.block->range.end_token_idx) - 1;
    const std::string tokens = "tokens " + std::to_string(first) + "-" + std::to_string(last);
    auto activate_warp = [&](Step& step) {
      for (int lane = 0; lane < kWarpSize; ++lane)
        step.active_threads[static_cast<std::size_t>(warp.warp_idx * kWarpSize + lane)] = 1;
    };
    const std::string rows = head_range(hb_.block->first_head_idx + warp.first_row, warp.num_rows);
    {
      Step& step = add(StepKind::grouped_qk_step, step_idx);
      activate_warp(step);
      step.title = titled(step, split_prefix() + "step " + std::to_string(step_idx) + ", warp " +
                                    std::to_string(warp.warp_idx) + ", " + tokens);
      float largest = -INFINITY;
      int at = first;
      for (int t = 0; first + t <= last; ++t) {
        const float logit = p_.grouped_logits_at(hb_.gb, step_idx, row, t);
        if (logit > largest) largest = logit, at = first + t;
      }
      std::ostringstream text;
      text << "Warp " << warp.warp_idx << " (token slice " << warp.token_slice << " of row tile " << warp.row_tile
           << ") computes scale * q.k for " << tokens << " and its " << rows << " at once, reading the keys from the "
           << "tile in shared memory"
           << (plan_.geometry.math == GroupedMath::tensor_cores ? " (mma.sync: the heads are the rows of A)" : "")
           << ". Head " << head_ << ": largest logit " << format_value(largest) << " at token " << at << " (reference "
           << format_value(step_stages.logits.at(static_cast<std::size_t>(row - warp.first_row) * kGroupedWarpTokens +
                                                  static_cast<std::size_t>(at - first)))
           << ").";
      step.description = text.str();
    }
    const std::size_t r = static_cast<std::size_t>(row - warp.first_row);
    {
      Step& step = add(StepKind::grouped_softmax_step, step_idx);
      activate_warp(step);
      step.title = titled(step, split_prefix() + "step " + std::to_string(step_idx) + ", warp " + std::to_string(warp.warp_idx));
      std::ostringstream text;
      text << "Warp " << warp.warp_idx << " updates its online softmax state for each of its heads. Head " << head_
           << ": step max " << format_value(p_.grouped_step_max_at(hb_.gb, step_idx, row)) << ", running max now "
           << format_value(p_.grouped_running_max_at(hb_.gb, step_idx, row)) << "; the old sum and accumulators are "
           << "multiplied by exp(old max - new max) = " << format_value(p_.grouped_rescale_at(hb_.gb, step_idx, row))
           << " (reference: " << format_value(step_stages.step_max.at(r)) << ", " << format_value(step_stages.running_max.at(r))
           << ", " << format_value(step_stages.rescale.at(r)) << "). Probabilities exp(logit - running max), rounded to "
           << dtype_name(s_.scenario().dtype) << "; running sum " << format_value(step_stages.running_sum.at(r)) << ".";
      step.description = text.str();
    }
    {
      Step& step = add(StepKind::grouped_pv_step, step_idx);
      activate_warp(step);
      step.title = titled(step, split_prefix() + "step " + std::to_string(step_idx) + ", warp " + std::to_string(warp.warp_idx));
      float sum = 0.0f;
      for (int t = 0; first + t <= last; ++t) sum += p_.grouped_probs_at(hb_.gb, step_idx, row, t);
      std::ostringstream text;
      text << "Warp " << warp.warp_idx << " adds the step's probabilities times the V rows of " << tokens
           << " (from the same tile) to the accumulators of its " << rows
           << (plan_.geometry.math == GroupedMath::tensor_cores ? " (mma.sync: the probabilities are A, reused from "
                                                                  "the QK result's C fragment)"
                                                                : "")
           << ". Head " << head_ << ": this step's probabilities add up to " << format_value(sum) << ".";
      step.description = text.str();
    }
  }

  void block_merge() {
    Step& step = add(StepKind::grouped_block_merge, 0);
    std::fill(step.active_threads.begin(), step.active_threads.end(), 1);
    const GroupedMergeView view = grouped_merge_view(s_, seq_, head_);
    const auto found = std::find_if(view.splits.begin(), view.splits.end(),
                                    [&](const GroupedSplitStates& st) { return st.split_idx == split_; });
    step.title = titled(step, split_prefix() + "the warps of head " + std::to_string(head_));
    std::ostringstream text;
    text << "The warps write their states and accumulators to shared memory (over the K/V pipeline, no longer needed) "
            "and each query head's token slices are merged: the largest max, and each sum and accumulator rescaled "
            "onto it.";
    if (found != view.splits.end()) {
      text << " Head " << head_ << ": warps' (max, exp_sum)";
      for (const GroupedWarpStateRow& w : found->warps)
        text << " w" << w.warp_idx << " (" << format_value(w.max_logit) << ", " << format_value(w.exp_sum) << ")";
      text << " -> merged (" << format_value(found->max_logit) << ", " << format_value(found->exp_sum) << "), reference ("
           << format_value(found->reference_max_logit) << ", " << format_value(found->reference_exp_sum) << ").";
    }
    step.description = text.str();
  }

  void output() {
    Step& step = add(StepKind::grouped_output, 0);
    std::fill(step.active_threads.begin(), step.active_threads.end(), 1);
    const bool partial = plan_.uses_split_merge() && s_.grouped_reference().active_splits.at(std::size_t(seq_)) > 1;
    step.title = titled(step, split_prefix() + (partial ? "partial output and state" : "the output"));
    std::ostringstream text;
    text << "The block divides each head's accumulators by its exp_sum and writes "
         << (partial ? "the split's normalised partial output (fp32) and its (max, exp_sum) for split_merge."
                     : "the output, rounded to " + std::string(dtype_name(s_.scenario().dtype)) + ".")
         << " Head " << head_ << ", first dims:";
    for (int dim = 0; dim < std::min(4, s_.scenario().head_size); ++dim)
      text << " " << format_value(p_.grouped_out_at(hb_.gb, hb_.block_row, dim));
    text << " ...";
    step.description = text.str();
  }

  const Session& s_;
  const RecordPointers& p_;
  const int seq_;
  const int head_;
  Timeline& out_;
  const int num_threads_;
  const GroupedPlan& plan_;
  GroupedHeadBlock hb_;
  int split_ = 0;
};

}  // namespace

Timeline build_grouped_timeline(const Session& session, int seq_idx, int head_idx) {
  check_focus(session, seq_idx, head_idx);
  Timeline timeline;
  timeline.seq_idx = seq_idx;
  timeline.head_idx = head_idx;
  GroupedTimelineBuilder builder(session, seq_idx, head_idx, timeline);
  for (int split = 0; split < grouped_active_splits(session, seq_idx); ++split) builder.split(split);
  builder.split_merge();
  return timeline;
}

}  // namespace pal::viz
