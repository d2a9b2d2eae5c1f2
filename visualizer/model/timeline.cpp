#include "visualizer/model/timeline.h"

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <functional>
#include <cmath>
#include <sstream>

#include "visualizer/model/derived.h"
#include "visualizer/model/format.h"
#include "visualizer/model/grouped.h"
#include "visualizer/model/logits_buffer.h"
#include "kernels/record_view.h"
#include "kernels/thread_mapping.h"

namespace pal::viz {

bool Step::is_active(int thread) const {
  return thread >= 0 && thread < static_cast<int>(active_threads.size()) && active_threads[static_cast<std::size_t>(thread)];
}

int Step::num_active() const { return static_cast<int>(std::count(active_threads.begin(), active_threads.end(), 1)); }

int Timeline::find(StepKind kind, int partition_idx, int index) const {
  for (int i = 0; i < size(); ++i) {
    const Step& step = steps[static_cast<std::size_t>(i)];
    if (step.kind == kind && step.partition_idx == partition_idx && step.index == index) return i;
  }
  return -1;
}

int Timeline::first_of(Stage stage) const {
  for (int i = 0; i < size(); ++i)
    if (steps[static_cast<std::size_t>(i)].stage() == stage) return i;
  return -1;
}

int Timeline::first_of(StepKind kind) const {
  for (int i = 0; i < size(); ++i)
    if (steps[static_cast<std::size_t>(i)].kind == kind) return i;
  return -1;
}

int Timeline::last_of(StepKind kind, int partition_idx) const {
  for (int i = size() - 1; i >= 0; --i) {
    const Step& step = steps[static_cast<std::size_t>(i)];
    if (step.kind == kind && step.partition_idx == partition_idx) return i;
  }
  return -1;
}

int Timeline::parse_step(const std::string& text) const {
  if (text == "last") return size() - 1;
  if (text == "first") return 0;
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc{} && end == text.data() + text.size()) return value >= 0 && value < size() ? value : -1;
  Stage stage{};
  if (parse_stage(text, stage)) return first_of(stage);
  return -1;
}

namespace {

// Builds the steps of one thread_block (one partition) and of the reduce kernel.
class TimelineBuilder {
 public:
  TimelineBuilder(const Session& session, int seq_idx, int head_idx, Timeline& timeline)
      : s_(session), g_(session.geometry()), seq_(seq_idx), head_(head_idx), out_(timeline),
        num_threads_(session.dims().num_threads), num_warps_(g_.num_warps()) {}

  void thread_block(int partition_idx) {
    p_ = partition_idx;
    tb_ = s_.tb_index(seq_, head_, p_);
    range_ = s_.range(seq_, p_);
    ref_ = &s_.reference().thread_block(seq_, head_, p_);
    const ThreadBlockRecord record(s_.recording(), tb_);
    query_load(record);
    qk_iterations(record);
    qk_max(record);
    exp_sum(record);
    normalize(record);
    value_iterations(record);
    lv_reduction(record);
    cross_warp_tree(record);
    output(record);
  }

  void reduce();

 private:
  Step& add(StepKind kind, int index, int xor_mask = 0) {
    Step step;
    step.kind = kind;
    step.partition_idx = p_;
    step.index = index;
    step.xor_mask = xor_mask;
    step.active_threads.assign(static_cast<std::size_t>(num_threads_), 0);
    out_.steps.push_back(std::move(step));
    return out_.steps.back();
  }
  std::string where() const {
    std::string text = "seq " + std::to_string(seq_) + ", head " + std::to_string(head_);
    if (s_.is_v2()) text += ", partition " + std::to_string(p_);
    return text;
  }
  int num_iterations() const { return divide_round_up(range_.num_blocks(), num_warps_); }
  static void activate_all(Step& step) { std::fill(step.active_threads.begin(), step.active_threads.end(), 1); }
  void activate_lane_of_each_warp(Step& step, int lane) const {
    for (int warp = 0; warp < num_warps_; ++warp) step.active_threads[static_cast<std::size_t>(warp * kWarpSize + lane)] = 1;
  }
  // Lanes that keep a row's sum after the LV reduction: one per row of each warp.
  void activate_row_owners(Step& step, int warp_begin, int warp_end) const {
    for (int warp = warp_begin; warp < warp_end; ++warp)
      for (int lane = 0; lane < kWarpSize; ++lane)
        if (ThreadMapping{g_}.is_row_writer(lane)) step.active_threads[static_cast<std::size_t>(warp * kWarpSize + lane)] = 1;
  }
  // "qk_max: warp butterfly, xor 16": the step's stage, then what it does.
  static std::string titled(const Step& step, const std::string& detail) {
    return std::string(stage_name(step.stage())) + ": " + detail;
  }
  // "warp 1" or "warps 2-3": the warps [begin, end).
  static std::string warp_list(int begin, int end) {
    if (end - begin == 1) return "warp " + std::to_string(begin);
    return "warps " + std::to_string(begin) + "-" + std::to_string(end - 1);
  }
  std::string lane0_values(const std::function<float(int)>& value_of_thread) const {
    std::string text;
    for (int warp = 0; warp < num_warps_; ++warp) {
      if (warp) text += ", ";
      text += "w" + std::to_string(warp) + " " + format_value(value_of_thread(warp * kWarpSize));
    }
    return text;
  }

  void query_load(const ThreadBlockRecord& record);
  void qk_iterations(const ThreadBlockRecord& record);
  void qk_max(const ThreadBlockRecord& record);
  void exp_sum(const ThreadBlockRecord& record);
  void normalize(const ThreadBlockRecord& record);
  void value_iterations(const ThreadBlockRecord& record);
  void lv_reduction(const ThreadBlockRecord& record);
  void cross_warp_tree(const ThreadBlockRecord& record);
  void output(const ThreadBlockRecord& record);

  const Session& s_;
  const KernelGeometry g_;
  const int seq_;
  const int head_;
  Timeline& out_;
  const int num_threads_;
  const int num_warps_;
  int p_ = 0;
  std::int64_t tb_ = 0;
  TokenRange range_{0, 0, 0, 0};
  const ThreadBlockStages* ref_ = nullptr;
};

void TimelineBuilder::query_load(const ThreadBlockRecord& record) {
  const int passes = divide_round_up(g_.num_vecs_per_thread(), g_.num_thread_groups());
  for (int pass = 0; pass < passes; ++pass) {
    Step& step = add(StepKind::query_load, pass);
    int first_group = -1, last_group = -1;
    for (int thread = 0; thread < num_threads_; ++thread) {
      int query_loads = 0;
      for (const LoadRecord& load : record.loads(thread)) query_loads += load.kind == LoadKind::query;
      if (query_loads > pass) {
        step.active_threads[static_cast<std::size_t>(thread)] = 1;
        const int group = thread / g_.thread_group_size();
        if (first_group < 0) first_group = group;
        last_group = group;
      }
    }
    std::ostringstream text;
    step.title = titled(step, "pass " + std::to_string(pass + 1) + " of " + std::to_string(passes));
    text << "Thread groups " << first_group << "-" << last_group << " copy q[" << where() << "] ("
         << g_.head_size << " " << dtype_name(s_.scenario().dtype) << " values) into the shared array q_vecs["
         << g_.thread_group_size() << "][" << g_.num_vecs_per_thread() << "] of " << g_.vec_size()
         << "-element vecs. Lane r of a group takes vecs r, r+" << g_.thread_group_size() << ", r+"
         << 2 * g_.thread_group_size() << ", ...: the same dims it will meet in every key. First values: q_vecs = ";
    for (int e = 0; e < std::min(4, g_.head_size); ++e) text << (e ? ", " : "") << format_value(record.q_vec_element(e));
    text << " ... Everyone then waits at __syncthreads().";
    step.description = text.str();
  }
}

void TimelineBuilder::qk_iterations(const ThreadBlockRecord& record) {
  const int iterations = num_iterations();
  const int seq_len = s_.seq_len(seq_);
  for (int iteration = 0; iteration < iterations; ++iteration) {
    Step& step = add(StepKind::qk_iteration, iteration);
    step.title = titled(step, "iteration " + std::to_string(iteration + 1) + " of " + std::to_string(iterations));
    for (int thread = 0; thread < num_threads_; ++thread)
      for (const LoadRecord& load : record.loads(thread))
        if (load.kind == LoadKind::key && load.iteration == iteration) step.active_threads[static_cast<std::size_t>(thread)] = 1;
    std::ostringstream text;
    text << "Each warp takes its next kv_block: ";
    int best_slot = -1;
    int num_masked = 0;
    for (int warp = 0; warp < num_warps_; ++warp) {
      const int block_idx = range_.start_block_idx + warp + iteration * num_warps_;
      if (warp) text << "; ";
      if (block_idx >= range_.end_block_idx) {
        text << "warp " << warp << " has none left and idles";
        continue;
      }
      const int first_token = block_idx * g_.block_size;
      const int last_token = std::min(first_token + g_.block_size, seq_len) - 1;
      text << "warp " << warp << " logical block " << block_idx << " (physical " << s_.physical_block(seq_, block_idx)
           << ", tokens " << first_token << "-" << last_token << ")";
      for (int offset = 0; offset < g_.block_size; ++offset) {
        const int slot = first_token + offset - range_.start_token_idx;
        const TokenRecord& token = record.token(slot);
        if (token.masked) {
          ++num_masked;
          continue;
        }
        if (best_slot < 0 || token.logit > record.token(best_slot).logit) best_slot = slot;
      }
    }
    text << ". In a warp, thread group g computes token g of the block: "
         << (g_.thread_group_size() == 1 ? std::string("its one lane loads ")
                                         : "its " + std::to_string(g_.thread_group_size()) + " lanes each load ")
         << counted(g_.num_vecs_per_thread(), "vec") << " of " << counted(g_.vec_size(), "element")
         << " of the key, multiply with their q_vecs, and a butterfly over the group adds the parts; "
            "the leader writes scale * q.k to logits[token].";
    if (best_slot >= 0) {
      const TokenRecord& best = record.token(best_slot);
      text << " Largest logit this iteration: token " << best.token_idx << " = " << format_value(best.logit, 5)
           << " (reference " << format_value(ref_->logits[static_cast<std::size_t>(best_slot)], 5) << ").";
    }
    if (num_masked > 0)
      text << " " << num_masked << " slots past seq_len = " << seq_len
           << " are read too, but their logit is stored as 0 and left out of the max.";
    step.description = text.str();
  }
}

void TimelineBuilder::qk_max(const ThreadBlockRecord& record) {
  const int steps = g_.num_qk_max_warp_steps();
  for (int s = 1; s <= steps; ++s) {
    const int mask = (kWarpSize / 2) >> (s - 1);
    Step& step = add(StepKind::qk_max_warp_xor, s, mask);
    activate_all(step);
    step.title = titled(step, "warp butterfly, xor " + std::to_string(mask));
    std::ostringstream text;
    text << "Every lane takes fmaxf of its qk_max and lane (lane ^ " << mask << ")'s. Only thread-group leaders held "
         << "a logit max (the others -FLT_MAX); the butterfly stops at mask " << g_.thread_group_size()
         << " = THREAD_GROUP_SIZE because the lanes below only repeat a group. Lane 0 now holds: "
         << lane0_values([&](int thread) { return record.qk_max_warp(s, thread); }) << ".";
    step.description = text.str();
  }
  {
    Step& step = add(StepKind::qk_max_red_smem, 0);
    activate_lane_of_each_warp(step, 0);
    step.title = titled(step, "warp maxima to red_smem");
    std::ostringstream text;
    text << "Lane 0 of each warp writes its warp's max to red_smem[warp]: [";
    for (int warp = 0; warp < num_warps_; ++warp) text << (warp ? ", " : "") << format_value(record.red_smem_max(warp));
    text << "]. __syncthreads() then makes them, and every logit, visible to all threads.";
    step.description = text.str();
  }
  for (int s = 1; s <= g_.num_cross_warp_steps(); ++s) {
    const int mask = (num_warps_ / 2) >> (s - 1);
    Step& step = add(StepKind::qk_max_cross_warp_xor, s, mask);
    for (int lane = 0; lane < num_warps_; ++lane) activate_lane_of_each_warp(step, lane);
    step.title = titled(step, "across warps, xor " + std::to_string(mask));
    std::ostringstream text;
    text << "In every warp, lanes 0-" << num_warps_ - 1 << " hold red_smem[lane] (the others -FLT_MAX) and exchange "
         << "with lane ^ " << mask << ". Lane 0 of warp 0 now holds " << format_value(record.qk_max_cross_warp(s, 0), 5) << ".";
    step.description = text.str();
  }
  {
    Step& step = add(StepKind::qk_max_broadcast, 0);
    activate_all(step);
    step.title = titled(step, "broadcast the block max");
    std::ostringstream text;
    text << "__shfl_sync(qk_max, 0): every thread takes lane 0's value. Block max = "
         << format_value(record.qk_max_block(), 6) << " (reference " << format_value(ref_->qk_max, 6) << ").";
    step.description = text.str();
  }
}

void TimelineBuilder::exp_sum(const ThreadBlockRecord& record) {
  const int num_tokens = range_.num_tokens();
  const int passes = num_token_passes(num_threads_, num_tokens);
  for (int pass = 0; pass < passes; ++pass) {
    Step& step = add(StepKind::exp_pass, pass);
    const auto [begin, end] = token_pass_slots(pass, num_threads_, num_tokens);
    for (int slot = begin; slot < end; ++slot) step.active_threads[static_cast<std::size_t>(slot - begin)] = 1;
    step.title = titled(step, "exp pass " + std::to_string(pass + 1) + " of " + std::to_string(passes));
    float largest_difference = 0.0f;
    int slot_at_max = -1;  // exp(0) is exactly 1, also for __expf: the token whose logit is the max
    for (int slot = begin; slot < end; ++slot) {
      largest_difference = std::max(largest_difference,
                                    std::fabs(record.exp_value(slot) - ref_->exp_values[static_cast<std::size_t>(slot)]));
      if (slot_at_max < 0 && record.exp_value(slot) == 1.0f) slot_at_max = slot;
    }
    std::ostringstream text;
    text << "Thread i takes token slot i" << (pass ? " + " + std::to_string(pass * num_threads_) : std::string())
         << ": logits[i] = __expf(logit - " << format_value(record.qk_max_block(), 5) << ") and adds it to its own exp_sum. "
         << "Slots " << begin << "-" << end - 1 << " (tokens " << range_.start_token_idx + begin << "-"
         << range_.start_token_idx + end - 1 << ")"
         << (slot_at_max >= 0 ? "; token " + std::to_string(range_.start_token_idx + slot_at_max) +
                                    " holds the max logit, so its exp is exactly 1"
                              : std::string())
         << ". "
         << "Largest |kernel - reference| here: " << format_value(largest_difference, 3)
         << " (on a GPU, __expf is a fast approximation, so small differences are expected there).";
    step.description = text.str();
  }
  for (int s = 1; s <= s_.dims().num_sum_warp_steps; ++s) {
    const int mask = (kWarpSize / 2) >> (s - 1);
    Step& step = add(StepKind::exp_sum_warp_xor, s, mask);
    activate_all(step);
    step.title = titled(step, "warp butterfly, xor " + std::to_string(mask));
    step.description = "Every lane adds lane (lane ^ " + std::to_string(mask) + ")'s partial sum. Lane 0 now holds: " +
                       lane0_values([&](int thread) { return record.exp_sum_warp(s, thread); }) + ".";
  }
  {
    Step& step = add(StepKind::exp_sum_red_smem, 0);
    activate_lane_of_each_warp(step, 0);
    step.title = titled(step, "warp sums to red_smem");
    std::ostringstream text;
    text << "Lane 0 of each warp writes its warp's sum to red_smem[" << num_warps_ << " + warp]: [";
    for (int warp = 0; warp < num_warps_; ++warp) text << (warp ? ", " : "") << format_value(record.red_smem_sum(warp));
    text << "], then __syncthreads().";
    step.description = text.str();
  }
  for (int s = 1; s <= g_.num_cross_warp_steps(); ++s) {
    const int mask = (num_warps_ / 2) >> (s - 1);
    Step& step = add(StepKind::exp_sum_cross_warp_xor, s, mask);
    for (int lane = 0; lane < num_warps_; ++lane) activate_lane_of_each_warp(step, lane);
    step.title = titled(step, "across warps, xor " + std::to_string(mask));
    step.description = "Lanes 0-" + std::to_string(num_warps_ - 1) + " hold the warps' sums (the others 0) and add lane ^ " +
                       std::to_string(mask) + ". Lane 0 of warp 0 now holds " +
                       format_value(record.exp_sum_cross_warp(s, 0), 6) + ".";
  }
  {
    Step& step = add(StepKind::exp_sum_broadcast, 0);
    activate_all(step);
    step.title = titled(step, "broadcast the block sum");
    step.description = "__shfl_sync(sum, 0): every thread takes lane 0's sum. exp_sum = " +
                       format_value(record.exp_sum_block(), 6) + " (reference " + format_value(ref_->exp_sum, 6) + ").";
  }
}

void TimelineBuilder::normalize(const ThreadBlockRecord& record) {
  const int num_tokens = range_.num_tokens();
  const int passes = num_token_passes(num_threads_, num_tokens);
  const float exp_sum = record.exp_sum_block();
  for (int pass = 0; pass < passes; ++pass) {
    Step& step = add(StepKind::normalize_pass, pass);
    const auto [begin, end] = token_pass_slots(pass, num_threads_, num_tokens);
    for (int slot = begin; slot < end; ++slot) step.active_threads[static_cast<std::size_t>(slot - begin)] = 1;
    step.title = titled(step, "normalize pass " + std::to_string(pass + 1) + " of " + std::to_string(passes));
    int best = begin;
    for (int slot = begin; slot < end; ++slot)
      if (record.prob(slot) > record.prob(best)) best = slot;
    std::ostringstream text;
    text << "Thread i multiplies logits[i] by inv_sum = 1 / (exp_sum + 1e-6) = 1 / " << format_value(exp_sum, 6)
         << ": the exp values become probabilities. ";
    if (end > begin)
      text << "Largest here: token " << range_.start_token_idx + best << " p = " << format_value(record.prob(best), 5)
           << " (reference " << format_value(ref_->probs[static_cast<std::size_t>(best)], 5) << ").";
    if (pass == passes - 1) {
      text << " __syncthreads(): the V loop reads probabilities other warps wrote.";
      if (s_.is_v2())
        text << " Thread 0 stores this partition's softmax state: max_logits = " << format_value(record.partition_max_logit(), 5)
             << ", exp_sums = " << format_value(record.partition_exp_sum(), 5) << " (raw, without epsilon).";
    }
    step.description = text.str();
  }
}

void TimelineBuilder::value_iterations(const ThreadBlockRecord& record) {
  const int iterations = num_iterations();
  for (int iteration = 0; iteration < iterations; ++iteration) {
    Step& step = add(StepKind::v_iteration, iteration);
    step.title = titled(step, "iteration " + std::to_string(iteration + 1) + " of " + std::to_string(iterations));
    for (int thread = 0; thread < num_threads_; ++thread)
      for (const LoadRecord& load : record.loads(thread))
        if (load.kind == LoadKind::value && load.iteration == iteration) step.active_threads[static_cast<std::size_t>(thread)] = 1;
    const std::vector<float> accs = accs_after_v_iteration(s_, seq_, head_, p_, iteration);
    std::ostringstream text;
    text << "Each warp takes the same kv_block as in the QK loop, now from the V cache: ";
    for (int warp = 0; warp < num_warps_; ++warp) {
      const int block_idx = range_.start_block_idx + warp + iteration * num_warps_;
      if (warp) text << "; ";
      if (block_idx >= range_.end_block_idx) text << "warp " << warp << " idles";
      else text << "warp " << warp << " block " << block_idx << " (physical " << s_.physical_block(seq_, block_idx) << ")";
    }
    const int v_vecs_per_row = g_.num_v_vecs_per_row();
    if (v_vecs_per_row == 1)  // one v_vec covers the whole row of a kv_block
      text << ". Lane L reads all " << g_.v_vec_size() << " tokens of the block (" << g_.value_load_bytes() << " bytes) of rows L + i * "
           << g_.num_rows_per_iter();
    else
      text << ". Lane L reads " << g_.v_vec_size() << " consecutive tokens (" << g_.value_load_bytes()
           << " bytes, starting at token slot (L % "
           << v_vecs_per_row << ") * " << g_.v_vec_size() << ") of rows L / " << v_vecs_per_row << " + i * "
           << g_.num_rows_per_iter();
    text << ", multiplies them with the same tokens' probabilities"
         << (s_.scenario().dtype == DType::fp32 ? std::string()
                                                 : " (rounded to " + std::string(dtype_name(s_.scenario().dtype)) + ")")
         << " and adds to accs[i]. Lane 0's accs[0] is now "
         << format_value(accs[0], 5) << " (replayed from the recorded probabilities and the V cache).";
    step.description = text.str();
  }
}

void TimelineBuilder::lv_reduction(const ThreadBlockRecord& record) {
  const std::vector<std::vector<float>> states = lv_butterfly(s_, tb_);
  const int steps = g_.num_lv_warp_steps();
  if (steps == 0) {
    Step& step = add(StepKind::lv_warp_xor, 0);
    activate_all(step);
    step.title = titled(step, "nothing to exchange");
    step.description = "With " + std::to_string(g_.v_vec_size()) + " tokens per " + std::to_string(g_.value_load_bytes()) +
                       "-byte V vec and block_size " +
                       std::to_string(g_.block_size) +
                       ", one lane covers a whole row of the kv_block: NUM_V_VECS_PER_ROW = 1, so there is no shuffle. "
                       "Lane 0's accs[0] = " + format_value(record.acc(1, 0, 0), 5) + ".";
    return;
  }
  for (int s = 1; s <= steps; ++s) {
    const int mask = (g_.num_v_vecs_per_row() / 2) >> (s - 1);
    Step& step = add(StepKind::lv_warp_xor, s, mask);
    activate_all(step);
    step.title = titled(step, "xor " + std::to_string(mask));
    std::ostringstream text;
    text << "Lanes L and L ^ " << mask << " hold the same rows for different token slices of the kv_block; each adds the "
         << "other's accs. Lane 0's accs[0] = " << format_value(states[static_cast<std::size_t>(s)][0], 6);
    if (s == steps) text << " (recorded: " << format_value(record.acc(1, 0, 0), 6) << ")";
    text << ".";
    step.description = text.str();
  }
}

void TimelineBuilder::cross_warp_tree(const ThreadBlockRecord& record) {
  int level = 0;
  for (int active = num_warps_; active > 1; active /= 2, ++level) {
    const int mid = active / 2;
    {
      Step& step = add(StepKind::tree_write, level);
      activate_row_owners(step, mid, active);
      step.title = titled(step, "level " + std::to_string(level + 1) + ", " + warp_list(mid, active) + " write" +
                   (active - mid == 1 ? "s" : ""));
      step.description = "W" + warp_list(mid, active).substr(1) + (active - mid == 1 ? " writes its" : " write their") +
                         " row sums to out_smem[(warp - " + std::to_string(mid) +
                         ") * head_size + row] (one lane per row), reusing the logits buffer. Warp " + std::to_string(mid) +
                         " lane 0 writes row 0 = " + format_value(record.acc(1 + level, mid * kWarpSize, 0), 5) +
                         ". __syncthreads().";
    }
    {
      Step& step = add(StepKind::tree_accumulate, level);
      activate_row_owners(step, 0, mid);
      step.title = titled(step, "level " + std::to_string(level + 1) + ", " + warp_list(0, mid) + " add" +
                   (mid == 1 ? "s" : ""));
      step.description = "W" + warp_list(0, mid).substr(1) + (mid == 1 ? " adds" : " add") +
                         " out_smem[warp * head_size + row] to " + (mid == 1 ? "its" : "their") + " accs. Warp 0 "
                         "lane 0's row 0 is now " + format_value(record.acc(2 + level, 0, 0), 6) + ". __syncthreads().";
    }
  }
}

void TimelineBuilder::output(const ThreadBlockRecord& record) {
  Step& step = add(StepKind::output_write, 0);
  activate_row_owners(step, 0, 1);
  step.title = titled(step, s_.is_v2() ? "partition's partial output" : "the head's output row");
  float largest_difference = 0.0f;
  for (int dim = 0; dim < g_.head_size; ++dim)
    largest_difference = std::max(largest_difference, std::fabs(record.out(dim) - ref_->out[static_cast<std::size_t>(dim)]));
  std::ostringstream text;
  text << "Warp 0's row owners round their sums to " << dtype_name(s_.scenario().dtype) << " and write "
       << (s_.is_v2() ? "tmp_out[" : "out[") << where() << "]: ";
  for (int dim = 0; dim < std::min(4, g_.head_size); ++dim) text << (dim ? ", " : "") << format_value(record.out(dim));
  text << " ... (reference ";
  for (int dim = 0; dim < std::min(4, g_.head_size); ++dim)
    text << (dim ? ", " : "") << format_value(ref_->out[static_cast<std::size_t>(dim)]);
  text << " ...). Largest |kernel - reference| over the head: " << format_value(largest_difference, 3) << ".";
  if (s_.is_v2()) text << " This partial output is normalised by the partition's own exp_sum; the reduce rescales it.";
  step.description = text.str();
}

void TimelineBuilder::reduce() {
  p_ = -1;
  const int num_partitions = s_.num_partitions(seq_);
  const ReduceRecord record(s_.recording(), s_.dims().num_heads * std::int64_t(seq_) + head_);
  const PartitionReduce& ref = s_.reference().reduce(seq_, head_);
  const std::int64_t out_base = (std::int64_t(seq_) * s_.scenario().num_heads + head_) * g_.head_size;
  auto first_outputs = [&] {
    std::string text;
    for (int dim = 0; dim < std::min(4, g_.head_size); ++dim)
      text += (dim ? ", " : "") + format_value(s_.kernel().output.get_float(out_base + dim));
    text += " ... (reference ";
    for (int dim = 0; dim < std::min(4, g_.head_size); ++dim)
      text += (dim ? ", " : "") + format_value(ref.output[static_cast<std::size_t>(dim)]);
    return text + " ...)";
  };
  if (num_partitions == 1) {
    Step& step = add(StepKind::reduce_output, 0);
    for (int t = 0; t < std::min(num_threads_, g_.head_size); ++t) step.active_threads[static_cast<std::size_t>(t)] = 1;
    step.title = titled(step, "one partition, plain copy");
    step.description = "seq_len " + std::to_string(s_.seq_len(seq_)) +
                       " fits in one partition, so its partial output already is the answer: the reduce kernel copies "
                       "tmp_out to out: " + first_outputs() + ".";
    return;
  }
  const int loaders = std::min(num_threads_, num_partitions);
  {
    Step& step = add(StepKind::reduce_max, 0);
    for (int t = 0; t < loaders; ++t) step.active_threads[static_cast<std::size_t>(t)] = 1;
    step.title = titled(step, "global max");
    std::ostringstream text;
    text << "The reduce kernel's thread i loads partition i's max_logit into shared memory: [";
    for (int p = 0; p < num_partitions; ++p)
      text << (p ? ", " : "") << format_value(ThreadBlockRecord(s_.recording(), s_.tb_index(seq_, head_, p)).partition_max_logit(), 5);
    text << "]; a block max gives M = " << format_value(record.max_logit(), 6) << " (reference " << format_value(ref.max_logit, 6) << ").";
    step.description = text.str();
  }
  {
    Step& step = add(StepKind::reduce_rescale, 0);
    for (int t = 0; t < loaders; ++t) step.active_threads[static_cast<std::size_t>(t)] = 1;
    step.title = titled(step, "rescale the exp sums");
    std::ostringstream text;
    text << "Each partition's exp_sum counted exp(logit - its own max); moved onto M it becomes s_p * exp(m_p - M): [";
    for (int p = 0; p < num_partitions; ++p) text << (p ? ", " : "") << format_value(record.rescaled_exp_sum(p), 5);
    text << "]. Their block sum: global_exp_sum = " << format_value(record.global_exp_sum(), 6) << " (reference "
         << format_value(ref.global_exp_sum, 6) << ").";
    step.description = text.str();
  }
  {
    Step& step = add(StepKind::reduce_output, 0);
    for (int t = 0; t < std::min(num_threads_, g_.head_size); ++t) step.active_threads[static_cast<std::size_t>(t)] = 1;
    step.title = titled(step, "weighted sum of the partial outputs");
    step.description = "Thread i computes dim i: out = sum_p tmp_out[p][i] * s^_p / (global_exp_sum + 1e-6)" +
                       (s_.scenario().dtype == DType::fp32
                            ? std::string()
                            : ", rounded to " + std::string(dtype_name(s_.scenario().dtype))) +
                       ": " + first_outputs() + ".";
  }
}

}  // namespace

Timeline build_timeline(const Session& session, int seq_idx, int head_idx) {
  if (seq_idx < 0 || seq_idx >= session.scenario().num_seqs)
    throw ScenarioError("seq " + std::to_string(seq_idx) + " is out of range; this run has sequences 0-" +
                        std::to_string(session.scenario().num_seqs - 1));
  if (head_idx < 0 || head_idx >= session.scenario().num_heads)
    throw ScenarioError("head " + std::to_string(head_idx) + " is out of range; this run has heads 0-" +
                        std::to_string(session.scenario().num_heads - 1));
  if (session.is_grouped()) return build_grouped_timeline(session, seq_idx, head_idx);
  Timeline timeline;
  timeline.seq_idx = seq_idx;
  timeline.head_idx = head_idx;
  TimelineBuilder builder(session, seq_idx, head_idx, timeline);
  for (int partition = 0; partition < session.num_partitions(seq_idx); ++partition) builder.thread_block(partition);
  if (session.is_v2()) builder.reduce();
  return timeline;
}

}  // namespace pal::viz
