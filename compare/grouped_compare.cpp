// The grouped kernel's comparisons: against its own reference (reference/grouped_reference.h) and
// the dense oracle, and one grouped run against another (GPU against emulator). The recorded arrays
// are read through the record schema's accessors (kernels/record_schema.h), the reference's values
// through GroupedReferenceRun; each row's tolerance is its registry entry's.
#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "compare/stage_checker.h"
#include "compare/stage_compare.h"

namespace pal {

namespace {

std::string grouped_coords(int seq, int head, int split, const char* inner_name, long inner) {
  std::ostringstream out;
  out << "(seq " << seq << ", head " << head;
  if (split >= 0) out << ", split " << split;
  if (inner_name) out << ", " << inner_name << " " << inner;
  out << ")";
  return out.str();
}

// A state's max: an empty part (a warp whose token slice has no step in a short split) keeps the
// state {-inf, 0} on both sides, which is agreement, not a value to measure; anything else is
// checked (and a non-finite value on one side only fails).
template <typename Where>
void check_max(StageChecker& checker, float actual, float expected, Where&& where) {
  if (std::isinf(expected) && expected < 0 && actual == expected) return;
  checker.check(actual, expected, where);
}

// Per (seq, head): how well fp32 knows the exponentials of that head's logits (logit_uncertainty
// over its largest |logit|, which with ALiBi reaches slope * seq_len).
std::vector<double> grouped_uncertainty(const GroupedReferenceRun& ref) {
  std::vector<double> delta(std::size_t(ref.num_seqs) * std::size_t(ref.num_heads), 0.0);
  for (const GroupedBlockStages& block : ref.blocks)
    for (const GroupedWarpStages& warp : block.warps)
      for (const GroupedStepStages& step : warp.steps)
        for (int r = 0; r < warp.num_rows; ++r) {
          double max_abs = 0.0;
          for (int t = 0; t < kGroupedWarpTokens; ++t) {
            const float logit = step.logits[std::size_t(r * kGroupedWarpTokens + t)];
            if (std::isfinite(logit)) max_abs = std::max(max_abs, double(std::fabs(logit)));
          }
          const int head = block.first_head_idx + warp.first_row + r;
          double& d = delta[std::size_t(block.seq_idx) * std::size_t(ref.num_heads) + std::size_t(head)];
          d = std::max(d, logit_uncertainty(max_abs, max_abs));
        }
  return delta;
}

// The output and the splits' results (what the kernel hands split_merge), recorded or not.
void compare_outputs_and_splits(const KernelRun& run, const GroupedReferenceRun& ref, const std::vector<double>& delta,
                                double value_scale, ComparisonReport& report) {
  const Scenario& s = run.scenario;
  auto tol = [&](StageOrCheck subject) { return stage_tolerance(subject, s.dtype, value_scale); };
  StageChecker output(Check::final_output, std::string(check_info(Check::final_output).title),
                      tol(Check::final_output));
  StageChecker state(Check::split_state, std::string(check_info(Check::split_state).title), tol(Check::split_state));
  StageChecker partial(Check::split_partial_out, std::string(check_info(Check::split_partial_out).title),
                       tol(Check::split_partial_out));
  const int num_splits = ref.plan.num_splits;
  for (int seq = 0; seq < s.num_seqs; ++seq)
    for (int head = 0; head < s.num_heads; ++head) {
      const std::int64_t sh = std::int64_t(seq) * s.num_heads + head;
      const double d = delta[std::size_t(sh)];
      for (int dim = 0; dim < s.head_size; ++dim)
        output.check(run.output.get_float(sh * s.head_size + dim), ref.output_at(seq, head, dim),
                     [&] { return grouped_coords(seq, head, -1, "dim", dim); }, 0.0, d * value_scale);
      // A sequence with one split is finished by the main kernel: no state or partial output is kept.
      const int active = ref.active_splits[std::size_t(seq)];
      if (active <= 1) continue;
      for (int split = 0; split < active; ++split) {
        const std::int64_t slot = sh * num_splits + split;
        const SoftmaxState& expected = ref.split_state(seq, head, split);
        state.check(run.split_max_logits.get_float(slot), expected.max_logit,
                    [&] { return grouped_coords(seq, head, split, "max_logit", 0); });
        state.check(run.split_exp_sums.get_float(slot), expected.exp_sum,
                    [&] { return grouped_coords(seq, head, split, "exp_sum", 0); }, d);
        for (int dim = 0; dim < s.head_size; ++dim)
          partial.check(run.split_partial_out.get_float(slot * s.head_size + dim), ref.partial_at(seq, head, split, dim),
                        [&] { return grouped_coords(seq, head, split, "dim", dim); }, 0.0, d * value_scale);
      }
    }
  for (StageChecker* c : {&output, &state, &partial}) report.stages.push_back(c->take());
}

// Every recorded stage against the reference's value of the same (block, warp, step, row, token).
void compare_recording(const KernelRun& run, const GroupedReferenceRun& ref, const std::vector<double>& delta,
                       double value_scale, ComparisonReport& report) {
  const Scenario& s = run.scenario;
  auto tol = [&](StageOrCheck subject) { return stage_tolerance(subject, s.dtype, value_scale); };
  const RecordPointers& rec = run.recording->ptr();
  const RecordDims& dims = rec.dims;
  StageChecker logits(Stage::qk_logits, "each step's logits of every head and token", tol(Stage::qk_logits));
  StageChecker softmax(Stage::online_softmax, "each step's max, running max, rescale and rounded probabilities",
                       tol(Stage::online_softmax));
  StageChecker merge(Stage::block_merge, "each warp's state and accumulators, the block's merged state per head",
                     tol(Stage::block_merge));
  StageChecker out(Stage::output, "what each block wrote (output, or a split's partial output)", tol(Stage::output));
  StageChecker split_merge(Stage::split_merge, "split_merge's merged state and output", tol(Stage::split_merge));

  for (const GroupedBlockStages& block : ref.blocks) {
    const std::int64_t gb = dims.gb_index(block.seq_idx, block.kv_head_idx, block.head_chunk_idx, block.split_idx);
    for (const GroupedWarpStages& warp : block.warps) {
      for (int r = 0; r < warp.num_rows; ++r) {
        const int block_row = warp.first_row + r;
        const int head = block.first_head_idx + block_row;
        const double d = delta[std::size_t(block.seq_idx) * std::size_t(s.num_heads) + std::size_t(head)];
        auto at = [&](const char* name, long i) {
          return [=] { return grouped_coords(block.seq_idx, head, block.split_idx, name, i); };
        };
        for (const GroupedStepStages& step : warp.steps) {
          const std::size_t row = std::size_t(r);
          for (int t = 0; t < kGroupedWarpTokens; ++t) {
            if (step.first_token_idx + t >= block.range.end_token_idx) break;  // -inf on both sides: not compared
            const std::size_t slot = row * kGroupedWarpTokens + std::size_t(t);
            const long token = step.first_token_idx + t;
            logits.check(rec.grouped_logits_at(gb, step.step_idx, block_row, t), step.logits[slot], at("token", token));
            softmax.check(rec.grouped_probs_at(gb, step.step_idx, block_row, t), step.probs[slot],
                          at("probability of token", token), d);
          }
          softmax.check(rec.grouped_step_max_at(gb, step.step_idx, block_row), step.step_max[row],
                        at("step max, step", step.step_idx));
          softmax.check(rec.grouped_running_max_at(gb, step.step_idx, block_row), step.running_max[row],
                        at("running max, step", step.step_idx));
          softmax.check(rec.grouped_rescale_at(gb, step.step_idx, block_row), step.rescale[row],
                        at("rescale, step", step.step_idx), d);
        }
        const SoftmaxState& warp_state = warp.states[std::size_t(r)];
        check_max(merge, rec.grouped_warp_max_logit_at(gb, warp.warp_idx, r), warp_state.max_logit,
                  at("max_logit of warp", warp.warp_idx));
        merge.check(rec.grouped_warp_exp_sum_at(gb, warp.warp_idx, r), warp_state.exp_sum,
                    at("exp_sum of warp", warp.warp_idx), d);
        for (int dim = 0; dim < s.head_size; ++dim)
          merge.check(rec.grouped_warp_acc_at(gb, warp.warp_idx, r, dim),
                      warp.acc[std::size_t(r) * std::size_t(s.head_size) + std::size_t(dim)],
                      at("accumulator dim", dim), d, d * value_scale);
      }
    }
    for (int block_row = 0; block_row < block.num_heads; ++block_row) {
      const int head = block.first_head_idx + block_row;
      const double d = delta[std::size_t(block.seq_idx) * std::size_t(s.num_heads) + std::size_t(head)];
      auto at = [&](const char* name, long i) {
        return [=] { return grouped_coords(block.seq_idx, head, block.split_idx, name, i); };
      };
      const SoftmaxState& merged = block.merged[std::size_t(block_row)];
      merge.check(rec.split_max_logit_at(gb, block_row), merged.max_logit, at("merged max_logit", 0));
      merge.check(rec.split_exp_sum_at(gb, block_row), merged.exp_sum, at("merged exp_sum", 0), d);
      for (int dim = 0; dim < s.head_size; ++dim)
        out.check(rec.grouped_out_at(gb, block_row, dim),
                  block.out[std::size_t(block_row) * std::size_t(s.head_size) + std::size_t(dim)], at("dim", dim), 0.0,
                  d * value_scale);
    }
  }
  for (int seq = 0; seq < s.num_seqs; ++seq) {
    if (ref.active_splits[std::size_t(seq)] <= 1) continue;  // split_merge leaves these sequences alone
    for (int head = 0; head < s.num_heads; ++head) {
      const std::int64_t sh = dims.sh_index(seq, head);
      const GroupedSplitMerge& m = ref.merges[std::size_t(sh)];
      const double d = delta[std::size_t(sh)];
      auto at = [&](const char* name, long i) { return [=] { return grouped_coords(seq, head, -1, name, i); }; };
      split_merge.check(rec.merge_max_logit_at(sh), m.merged.max_logit, at("merged max_logit", 0));
      split_merge.check(rec.merge_exp_sum_at(sh), m.merged.exp_sum, at("merged exp_sum", 0), d);
      for (int dim = 0; dim < s.head_size; ++dim)
        split_merge.check(rec.merge_out_at(sh, dim), m.output[std::size_t(dim)], at("dim", dim), 0.0, d * value_scale);
    }
  }
  for (StageChecker* c : {&logits, &softmax, &merge, &out, &split_merge}) report.stages.push_back(c->take());
}

}  // namespace

ComparisonReport compare_grouped_with_reference(const KernelRun& run, const GroupedReferenceRun& ref,
                                                const DenseOutput& oracle, const Inputs& inputs) {
  const Scenario& s = run.scenario;
  if (run.version != KernelVersion::grouped)
    throw ScenarioError("compare_grouped_with_reference: the kernel ran " + std::string(version_name(run.version)));
  if (ref.plan.num_splits != run.grouped_plan.num_splits ||
      ref.plan.kv_blocks_per_split != run.grouped_plan.kv_blocks_per_split ||
      ref.plan.row_tiles != run.grouped_plan.row_tiles || ref.plan.geometry.math != run.grouped_plan.geometry.math)
    throw ScenarioError("compare_grouped_with_reference: the reference was computed for another plan");
  const double value_scale = value_scale_of(s, inputs);
  const std::vector<double> delta = grouped_uncertainty(ref);
  ComparisonReport report;
  report.title = std::string(backend_name(run.backend)) + " grouped (" +
                 (run.grouped_plan.geometry.math == GroupedMath::tensor_cores ? "tensor cores" : "CUDA cores") + ", " +
                 std::to_string(run.grouped_plan.num_splits) + " split(s)) vs its reference and the oracle (" +
                 scenario_summary(s) + ")";
  if (run.recording) compare_recording(run, ref, delta, value_scale, report);
  compare_outputs_and_splits(run, ref, delta, value_scale, report);

  StageTolerance oracle_tolerance = stage_tolerance(Check::oracle_output, s.dtype, value_scale);
  if (is_fp8(s.kv_cache_dtype)) {
    // The oracle takes the exact values the codes stand for (code * scale in double); the kernel and
    // its reference round each dequantised key and value to the query dtype first (fp32 queries:
    // through fp16 where v1/v2's loads convert several codes at once, core/fp8.h), half an ulp u_d
    // each: the output moves by at most u_d * max|v| through V, and through K each logit by about
    // u_d * max|v| (|q|, |k| and the softmax scale as generated), which moves the output by about
    // twice that times max|v| (tests/reference/reference_test_support.h states the same rule).
    const double u_d = half_ulp(s.dtype == DType::bf16 ? DType::bf16 : DType::fp16);
    oracle_tolerance.atol += u_d * value_scale * (1.0 + 2.0 * value_scale);
    oracle_tolerance.reason += "; fp8 cache: plus the dequantised K/V's rounding to the query dtype, u_d * max|v| * "
                               "(1 + 2 max|v|)";
  }
  StageChecker against_oracle(Check::oracle_output, std::string(check_info(Check::oracle_output).title),
                              oracle_tolerance);
  for (int seq = 0; seq < s.num_seqs; ++seq)
    for (int head = 0; head < s.num_heads; ++head)
      for (int dim = 0; dim < s.head_size; ++dim)
        against_oracle.check(run.output.get_float((std::int64_t(seq) * s.num_heads + head) * s.head_size + dim),
                             oracle.at(seq, head, dim), [&] { return grouped_coords(seq, head, -1, "dim", dim); }, 0.0,
                             delta[std::size_t(seq) * std::size_t(s.num_heads) + std::size_t(head)] * value_scale);
  report.stages.push_back(against_oracle.take());
  return report;
}

ComparisonReport compare_grouped_runs(const KernelRun& actual, const KernelRun& expected, const Inputs& inputs) {
  const Scenario& s = expected.scenario;
  if (actual.grouped_plan.num_splits != expected.grouped_plan.num_splits ||
      actual.grouped_plan.kv_blocks_per_split != expected.grouped_plan.kv_blocks_per_split)
    throw ScenarioError("compare_runs: the two grouped runs planned different splits (" +
                        std::to_string(actual.grouped_plan.num_splits) + " vs " +
                        std::to_string(expected.grouped_plan.num_splits) +
                        "): their per-split results cannot be compared one to one");
  // The expected run's own reference would be needed for the logit uncertainty; a flat allowance
  // from the largest |logit| the ALiBi bias can reach covers both runs alike.
  const double value_scale = value_scale_of(s, inputs);
  auto tol = [&](StageOrCheck subject) { return stage_tolerance(subject, s.dtype, value_scale); };
  ComparisonReport report;
  report.title = std::string(backend_name(actual.backend)) + " vs " + std::string(backend_name(expected.backend)) +
                 ", grouped (" + scenario_summary(s) + ")";
  StageChecker output(Check::final_output, "out[seq][head][dim]", tol(Check::final_output));
  StageChecker state(Check::split_state, std::string(check_info(Check::split_state).title), tol(Check::split_state));
  StageChecker partial(Check::split_partial_out, std::string(check_info(Check::split_partial_out).title),
                       tol(Check::split_partial_out));
  const int num_splits = expected.grouped_plan.num_splits;
  const int kv_blocks_per_split = expected.grouped_plan.kv_blocks_per_split;
  for (int seq = 0; seq < s.num_seqs; ++seq) {
    const int seq_len = inputs.seq_lens.data<int>()[seq];
    const int active = divide_round_up(divide_round_up(seq_len, s.block_size), kv_blocks_per_split);
    // ALiBi logits reach slope * seq_len (slopes <= 1): the exponentials' uncertainty on that scale.
    const double d = s.alibi ? logit_uncertainty(double(seq_len), double(seq_len)) : 0.0;
    for (int head = 0; head < s.num_heads; ++head) {
      const std::int64_t sh = std::int64_t(seq) * s.num_heads + head;
      for (int dim = 0; dim < s.head_size; ++dim)
        output.check(actual.output.get_float(sh * s.head_size + dim), expected.output.get_float(sh * s.head_size + dim),
                     [&] { return grouped_coords(seq, head, -1, "dim", dim); }, 0.0, d * value_scale);
      if (active <= 1) continue;
      for (int split = 0; split < active && split < num_splits; ++split) {
        const std::int64_t slot = sh * num_splits + split;
        state.check(actual.split_max_logits.get_float(slot), expected.split_max_logits.get_float(slot),
                    [&] { return grouped_coords(seq, head, split, "max_logit", 0); });
        state.check(actual.split_exp_sums.get_float(slot), expected.split_exp_sums.get_float(slot),
                    [&] { return grouped_coords(seq, head, split, "exp_sum", 0); }, d);
        for (int dim = 0; dim < s.head_size; ++dim)
          partial.check(actual.split_partial_out.get_float(slot * s.head_size + dim),
                        expected.split_partial_out.get_float(slot * s.head_size + dim),
                        [&] { return grouped_coords(seq, head, split, "dim", dim); }, 0.0, d * value_scale);
      }
    }
  }
  for (StageChecker* c : {&output, &state, &partial}) report.stages.push_back(c->take());

  // Both recorded (two emulator runs): every grouped array element by element, one row per stage
  // that owns arrays. A slot neither run wrote (NaN on both sides: a padding row, a split past a
  // sequence's end) or an empty part's -inf on both sides is agreement, not a value.
  if (actual.recording && expected.recording) {
    if (actual.recording->size_bytes() != expected.recording->size_bytes())
      throw ScenarioError("compare_runs: the two grouped recordings have different layouts");
    const RecordDims& dims = expected.recording->dims();
    std::vector<StageChecker> rows;
    for (int i = 0; i < kNumRecordArrays; ++i) {
      const RecordArrayInfo& info = record_array_info(static_cast<RecordArray>(i));
      if (!records_array(dims, info.array) || info.element != RecordElement::f32 || !info.owner.tolerance().compared)
        continue;
      auto row = std::find_if(rows.begin(), rows.end(), [&](StageChecker& c) { return c.subject() == info.owner; });
      if (row == rows.end())
        row = rows.insert(rows.end(), StageChecker(info.owner, "the recorded arrays of this stage", tol(info.owner)));
      const std::size_t offset = expected.recording->layout().of(info.array).offset;
      const auto* a = reinterpret_cast<const float*>(actual.recording->data() + offset);
      const auto* b = reinterpret_cast<const float*>(expected.recording->data() + offset);
      const std::int64_t count = record_array_shape(info.array, dims).numel();
      for (std::int64_t k = 0; k < count; ++k) {
        if ((std::isnan(a[k]) && std::isnan(b[k])) || (std::isinf(b[k]) && a[k] == b[k])) continue;
        row->check(a[k], b[k], [&] { return std::string(info.name) + " element " + std::to_string(k); });
      }
    }
    for (StageChecker& row : rows) report.stages.push_back(row.take());
  }
  return report;
}

}  // namespace pal
