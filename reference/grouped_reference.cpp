// The grouped kernel's scalar reference, stage by stage. See grouped_reference.h for what it shares
// with the kernel (the decomposition, the merge formulas) and what it does not (every read and logit
// goes through the paged reference's gathers).
#include "reference/grouped_reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/softmax_merge.h"
#include "reference/paged_reference.h"

namespace pal {

namespace {

constexpr float kNegativeInfinity = -std::numeric_limits<float>::infinity();

int seq_len_of(const Inputs& inputs, int seq_idx) { return inputs.seq_lens.data<std::int32_t>()[seq_idx]; }

std::vector<float> query_row(const Inputs& inputs, int seq_idx, int head_idx) {
  const std::int64_t num_heads = inputs.query.shape.at(1);
  const std::int64_t head_size = inputs.query.shape.at(2);
  std::vector<float> q(static_cast<std::size_t>(head_size));
  for (std::int64_t d = 0; d < head_size; ++d)
    q[static_cast<std::size_t>(d)] = inputs.query.get_float((seq_idx * num_heads + head_idx) * head_size + d);
  return q;
}

}  // namespace

// ---- split ranges and warp steps ---------------------------------------------------------------------

TokenRange grouped_split_range(int seq_len, int block_size, const GroupedPlan& plan, int split_idx) {
  const int num_seq_blocks = divide_round_up(seq_len, block_size);
  const int start_block = split_idx * plan.kv_blocks_per_split;
  if (start_block >= num_seq_blocks) return {start_block, start_block, start_block * block_size, start_block * block_size};
  const int end_block = std::min(start_block + plan.kv_blocks_per_split, num_seq_blocks);
  return {start_block, end_block, start_block * block_size, std::min(end_block * block_size, seq_len)};
}

std::vector<int> grouped_warp_steps(const TokenRange& split_range, const GroupedPlan& plan, int token_slice) {
  std::vector<int> steps;
  for (int step = token_slice; split_range.start_token_idx + step * kGroupedWarpTokens < split_range.end_token_idx;
       step += plan.num_token_slices)
    steps.push_back(step);
  return steps;
}

// ---- qk_logits, online_softmax, value_accumulation of one warp ----------------------------------------

GroupedWarpStages grouped_warp_online_softmax(const Inputs& inputs, const GroupedPlan& plan, DType dtype, int seq_idx,
                                              int kv_head_idx, int first_head_idx, int num_block_heads,
                                              const TokenRange& split_range, int warp_idx) {
  const int rows_per_warp = plan.geometry.rows_per_warp();
  const int head_size = plan.geometry.head_size;
  GroupedWarpStages warp;
  warp.warp_idx = warp_idx;
  warp.row_tile = warp_idx % plan.row_tiles;
  warp.token_slice = warp_idx / plan.row_tiles;
  warp.first_row = warp.row_tile * rows_per_warp;
  warp.num_rows = std::max(0, std::min(rows_per_warp, num_block_heads - warp.first_row));
  const std::size_t rows = static_cast<std::size_t>(warp.num_rows);
  warp.states.assign(rows, SoftmaxState{kNegativeInfinity, 0.0f});
  warp.acc.assign(rows * static_cast<std::size_t>(head_size), 0.0f);
  if (warp.num_rows == 0) return warp;

  std::vector<std::vector<float>> queries;
  for (int r = 0; r < warp.num_rows; ++r) queries.push_back(query_row(inputs, seq_idx, first_head_idx + warp.first_row + r));

  for (const int step_idx : grouped_warp_steps(split_range, plan, warp.token_slice)) {
    GroupedStepStages step;
    step.step_idx = step_idx;
    step.first_token_idx = split_range.start_token_idx + step_idx * kGroupedWarpTokens;
    const int valid_end = std::min(step.first_token_idx + kGroupedWarpTokens, split_range.end_token_idx);
    const int num_valid = valid_end - step.first_token_idx;
    const TokenRange step_range{0, 0, step.first_token_idx, valid_end};
    std::vector<std::vector<float>> values;
    for (int t = step.first_token_idx; t < valid_end; ++t) values.push_back(value_gather(inputs, seq_idx, kv_head_idx, t));

    step.logits.assign(rows * kGroupedWarpTokens, kNegativeInfinity);
    step.probs.assign(rows * kGroupedWarpTokens, 0.0f);
    step.step_max.resize(rows);
    step.running_max.resize(rows);
    step.rescale.resize(rows);
    step.running_sum.resize(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      // qk_logits: the paged reference's definition of a logit.
      const std::vector<float> logits =
          qk_logits(inputs, queries[r], seq_idx, first_head_idx + warp.first_row + int(r), step_range);
      std::copy(logits.begin(), logits.end(), step.logits.begin() + std::ptrdiff_t(r * kGroupedWarpTokens));
      // online_softmax: the step's maximum, the running maximum, the rescale of the old state.
      float step_max = kNegativeInfinity;
      for (float logit : logits) step_max = std::fmax(step_max, logit);
      SoftmaxState& state = warp.states[r];
      const float running_max = std::fmax(state.max_logit, step_max);
      const float rescale = std::exp(state.max_logit - running_max);  // 0 for the first step (-inf)
      step.step_max[r] = step_max;
      step.running_max[r] = running_max;
      step.rescale[r] = rescale;
      state.max_logit = running_max;
      state.exp_sum *= rescale;
      float* acc = &warp.acc[r * static_cast<std::size_t>(head_size)];
      for (int d = 0; d < head_size; ++d) acc[d] *= rescale;
      // value_accumulation: the fp32 probability joins the sum; rounded to the dtype, it meets V.
      for (int t = 0; t < num_valid; ++t) {
        const float p = std::exp(logits[std::size_t(t)] - running_max);
        state.exp_sum += p;
        const float p_rounded = round_to_dtype(p, dtype);
        step.probs[r * kGroupedWarpTokens + std::size_t(t)] = p_rounded;
        for (int d = 0; d < head_size; ++d) acc[d] += p_rounded * values[std::size_t(t)][std::size_t(d)];
      }
      step.running_sum[r] = state.exp_sum;
    }
    warp.steps.push_back(std::move(step));
  }
  return warp;
}

// ---- block_merge, output -------------------------------------------------------------------------------

void grouped_block_merge(GroupedBlockStages& block, const GroupedPlan& plan, int head_size) {
  const int rows_per_warp = plan.geometry.rows_per_warp();
  block.merged.assign(static_cast<std::size_t>(block.num_heads), SoftmaxState{0.0f, 0.0f});
  block.out.assign(static_cast<std::size_t>(block.num_heads) * std::size_t(head_size), 0.0f);
  for (int row_in_block = 0; row_in_block < block.num_heads; ++row_in_block) {
    const int tile_of_row = row_in_block / rows_per_warp;
    const std::size_t row = static_cast<std::size_t>(row_in_block % rows_per_warp);
    auto warp_of = [&](int slice) -> const GroupedWarpStages& {
      return block.warps.at(static_cast<std::size_t>(tile_of_row + slice * plan.row_tiles));
    };
    auto slice_state = [&](int slice) { return warp_of(slice).states.at(row); };
    const SoftmaxState merged = merge_softmax_states(plan.num_token_slices, slice_state);
    block.merged[std::size_t(row_in_block)] = merged;
    for (int d = 0; d < head_size; ++d) {
      float acc = 0.0f;
      for (int slice = 0; slice < plan.num_token_slices; ++slice)
        acc += warp_of(slice).acc[row * std::size_t(head_size) + std::size_t(d)] *
               part_rescale(slice_state(slice), merged.max_logit);
      block.out[std::size_t(row_in_block) * std::size_t(head_size) + std::size_t(d)] = acc / merged.exp_sum;
    }
  }
}

// ---- split_merge ---------------------------------------------------------------------------------------

GroupedSplitMerge grouped_split_merge(const std::vector<SoftmaxState>& split_states,
                                      const std::vector<std::vector<float>>& split_outputs, DType dtype) {
  if (split_states.empty() || split_states.size() != split_outputs.size())
    throw ScenarioError("reference: grouped_split_merge needs one output per split state and at least one split; got " +
                        std::to_string(split_states.size()) + " states and " + std::to_string(split_outputs.size()) +
                        " outputs");
  GroupedSplitMerge merge;
  merge.num_splits = static_cast<int>(split_states.size());
  merge.merged = merge_softmax_states(merge.num_splits, [&](int s) { return split_states[std::size_t(s)]; });
  const std::size_t head_size = split_outputs.front().size();
  merge.output.assign(head_size, 0.0f);
  if (merge.num_splits == 1) {  // the block's output is the output
    merge.weights = {1.0f};
    for (std::size_t d = 0; d < head_size; ++d) merge.output[d] = round_to_dtype(split_outputs.front()[d], dtype);
    return merge;
  }
  const float inv_merged_exp_sum = 1.0f / merge.merged.exp_sum;
  for (const SoftmaxState& state : split_states)
    merge.weights.push_back(state.rescaled_exp_sum(merge.merged.max_logit) * inv_merged_exp_sum);
  for (std::size_t d = 0; d < head_size; ++d) {
    float value = 0.0f;
    for (std::size_t s = 0; s < split_states.size(); ++s)
      value += split_weighted_output(split_outputs[s][d], split_states[s], merge.merged, inv_merged_exp_sum);
    merge.output[d] = round_to_dtype(value, dtype);
  }
  return merge;
}

// ---- the whole kernel ----------------------------------------------------------------------------------

float GroupedReferenceRun::output_at(int seq_idx, int head_idx, int dim) const {
  return output.get_float((std::int64_t(seq_idx) * num_heads + head_idx) * head_size + dim);
}

const SoftmaxState& GroupedReferenceRun::split_state(int seq_idx, int head_idx, int split_idx) const {
  return split_states.at(static_cast<std::size_t>((std::int64_t(seq_idx) * num_heads + head_idx) * plan.num_splits + split_idx));
}

float GroupedReferenceRun::partial_at(int seq_idx, int head_idx, int split_idx, int dim) const {
  return partial_out.at(static_cast<std::size_t>(
      ((std::int64_t(seq_idx) * num_heads + head_idx) * plan.num_splits + split_idx) * head_size + dim));
}

GroupedReferenceRun grouped_reference(const Scenario& scenario, const Inputs& inputs, const GroupedPlan& plan) {
  validate_scenario(scenario);
  validate_inputs(scenario, inputs);
  if (plan.geometry.head_size != scenario.head_size || plan.geometry.block_size != scenario.block_size ||
      plan.group_size != scenario.num_heads / scenario.num_kv_heads)
    throw ScenarioError("reference: the grouped plan was made for another shape (head_size " +
                        std::to_string(plan.geometry.head_size) + ", block_size " +
                        std::to_string(plan.geometry.block_size) + ", group " + std::to_string(plan.group_size) + ")");
  GroupedReferenceRun run;
  run.plan = plan;
  run.dtype = scenario.dtype;
  run.num_seqs = scenario.num_seqs;
  run.num_heads = scenario.num_heads;
  run.head_size = scenario.head_size;
  const std::size_t num_states = std::size_t(run.num_seqs) * std::size_t(run.num_heads) * std::size_t(plan.num_splits);
  run.split_states.assign(num_states, SoftmaxState{kNegativeInfinity, 0.0f});
  run.partial_out.assign(num_states * std::size_t(run.head_size), std::numeric_limits<float>::quiet_NaN());
  run.output = Tensor(element_type_of(scenario.dtype), {run.num_seqs, run.num_heads, run.head_size});

  for (int seq = 0; seq < run.num_seqs; ++seq) {
    const int seq_len = seq_len_of(inputs, seq);
    int active = 0;
    for (int split = 0; split < plan.num_splits; ++split) {
      const TokenRange range = grouped_split_range(seq_len, scenario.block_size, plan, split);
      if (range.num_tokens() == 0) continue;
      ++active;
      for (int kv_head = 0; kv_head < scenario.num_kv_heads; ++kv_head)
        for (int chunk = 0; chunk < plan.num_head_chunks; ++chunk) {
          GroupedBlockStages block;
          block.seq_idx = seq;
          block.kv_head_idx = kv_head;
          block.head_chunk_idx = chunk;
          block.split_idx = split;
          block.first_head_idx = kv_head * plan.group_size + chunk * plan.heads_per_chunk;
          block.num_heads = std::min(plan.heads_per_chunk, plan.group_size - chunk * plan.heads_per_chunk);
          block.range = range;
          for (int w = 0; w < kGroupedNumWarps; ++w)
            block.warps.push_back(grouped_warp_online_softmax(inputs, plan, scenario.dtype, seq, kv_head,
                                                              block.first_head_idx, block.num_heads, range, w));
          grouped_block_merge(block, plan, run.head_size);
          for (int h = 0; h < block.num_heads; ++h) {
            const std::size_t slot =
                (std::size_t(seq) * std::size_t(run.num_heads) + std::size_t(block.first_head_idx + h)) *
                    std::size_t(plan.num_splits) + std::size_t(split);
            run.split_states[slot] = block.merged[std::size_t(h)];
            std::copy_n(block.out.begin() + std::ptrdiff_t(h * run.head_size), run.head_size,
                        run.partial_out.begin() + std::ptrdiff_t(slot * std::size_t(run.head_size)));
          }
          run.blocks.push_back(std::move(block));
        }
    }
    run.active_splits.push_back(active);
    for (int head = 0; head < run.num_heads; ++head) {
      std::vector<SoftmaxState> states;
      std::vector<std::vector<float>> outputs;
      for (int split = 0; split < active; ++split) {
        states.push_back(run.split_state(seq, head, split));
        std::vector<float> partial(static_cast<std::size_t>(run.head_size));
        for (int d = 0; d < run.head_size; ++d) partial[std::size_t(d)] = run.partial_at(seq, head, split, d);
        outputs.push_back(std::move(partial));
      }
      GroupedSplitMerge merge = grouped_split_merge(states, outputs, scenario.dtype);
      for (int d = 0; d < run.head_size; ++d)
        run.output.set_float((std::int64_t(seq) * run.num_heads + head) * run.head_size + d, merge.output[std::size_t(d)]);
      run.merges.push_back(std::move(merge));
    }
  }
  return run;
}

}  // namespace pal
