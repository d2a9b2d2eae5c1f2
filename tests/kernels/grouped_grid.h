// The scenario grid the grouped kernel is checked over (emulator in CI, GPU on the device), and the
// comparisons every grid case makes. Shared by test_grouped_emulator.cpp and test_grouped_gpu.cpp.
//
// Grid: dtypes {fp32, fp16, bf16} x head sizes {32 .. 256} x block sizes {8, 16, 32} x group sizes
// {1, 2, 4, 8, 32 (MQA)} x ALiBi {off, on}, every scenario holding the sequences
// {1, B-1, B, B+1, 3B+5, 100 (more than a 64-token tile), 700 (several splits)}.
//   full:   every (dtype, head, block, group, ALiBi): 810 scenarios (the emulator test and the GPU
//           test; the emulator runs it in ~70 s of CPU time, measured on the development machine)
//   ci:     every (dtype, head, block) with the group and ALiBi rotating through their values: 81
//   quick:  every 9th configuration of ci (the sanitizer build, where the emulator is ~10x slower)
#pragma once

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "core/inputs.h"
#include "core/scenario.h"
#include "kernels/grouped_launch.h"
#include "tests/kernels/kernel_grid.h"  // shard_of, grid_choice
#include "reference/dense_oracle.h"
#include "reference/grouped_reference.h"
#include "reference/paged_reference.h"
#include "tests/reference/reference_test_support.h"

namespace pal::test {

struct GroupLayout {
  int num_heads;
  int num_kv_heads;
};
// Group sizes 1 (MHA), 2, 4, 8 and 32 (MQA: two tensor-core row tiles, four CUDA-core row tiles).
inline constexpr GroupLayout kGroupLayouts[] = {{4, 4}, {4, 2}, {8, 2}, {8, 1}, {32, 1}};

inline std::vector<Scenario> grouped_grid(const std::string& which) {
  std::vector<Scenario> grid;
  int config = 0;
  for (DType dtype : {DType::fp32, DType::fp16, DType::bf16})
    for (int head_size : kSupportedHeadSizes)
      for (int block_size : kSupportedBlockSizes) {
        const int b = block_size;
        auto make = [&](GroupLayout heads, bool alibi) {
          Scenario s;
          s.dtype = dtype;
          s.head_size = head_size;
          s.block_size = block_size;
          s.num_heads = heads.num_heads;
          s.num_kv_heads = heads.num_kv_heads;
          s.alibi = alibi;
          s.seq_lens = {1, b - 1, b, b + 1, 3 * b + 5, 100, 700};
          s.num_seqs = int(s.seq_lens.size());
          s.seed = std::uint64_t(5000 + config);
          grid.push_back(s);
        };
        if (which == "full") {
          for (GroupLayout heads : kGroupLayouts)
            for (bool alibi : {false, true}) make(heads, alibi);
        } else if (which != "quick" || config % 9 == 0) {
          make(kGroupLayouts[config % 5], (config / 5) % 2 == 1);
        }
        ++config;
      }
  return grid;
}

// The tolerance of the grouped kernel's output against its own reference, the dense oracle and the
// v1 reference: the paged reference's rule against the oracle (tests/reference/reference_test_support.h),
// doubled. Both references round each probability to the dtype once (the grouped one against the
// running max, v1 against the final max), so each is within that rule of the oracle and of each
// other within twice it; the kernel differs from its reference only by fp32 summation order and
// the rounding flips that causes (measured: a few 1e-6, tests print the largest).
// With an fp8 cache the rule is the paged reference's fp8 one (the oracle takes the exact code
// values, the kernel and the references the dequantised ones rounded to the query dtype), doubled.
inline Tolerance grouped_output_tolerance(DType dtype, KvCacheDtype cache = KvCacheDtype::automatic) {
  const Tolerance single = reference_vs_oracle_tolerance(dtype, cache);
  return {2 * single.atol, 2 * single.rtol};
}

// A split's state against the reference: the same logits summed in another fp32 order.
inline constexpr Tolerance kSplitMaxTolerance{1e-5, 1e-5};
inline constexpr Tolerance kSplitSumTolerance{1e-5, 1e-4};
// The exp sum's tolerance for a split whose logits reach |max_logit|. A logit is a sum of fp32
// terms (the dot product, ALiBi's slope times the distance), so the two sides may round it apart by
// about one ulp of |logit|, |max_logit| * 2^-23; exp turns that absolute difference into the same
// relative one in every term of the sum. With ALiBi over 9,000 tokens the logits reach ~6,000 and
// that is 7e-4, above the plain 1e-4 (seen on the H200, 2026-11-29: relative differences up to
// 1.0 |max_logit| * 2^-23). Four such ulps are allowed.
inline Tolerance split_sum_tolerance(float max_logit) {
  const double logit_rounding = 4.0 * std::fabs(double(max_logit)) * std::ldexp(1.0, -23);
  return {kSplitSumTolerance.atol, kSplitSumTolerance.rtol + logit_rounding};
}

// A partial output against the reference: a weighted mean of values whose weights are
// exp(logit - max_logit) / exp_sum. The logit rounding of split_sum_tolerance moves every weight by
// the same relative amount, so the mean moves by up to that amount times the largest |v|; a mean
// with cancellation can be far smaller than its values, hence an absolute term. Seen on the H200
// (run 19, fp32 queries on CUDA cores, ALiBi, 32 query heads on 1 KV head): 3.6e-6 on a partial of
// 0.037 in a split whose logits lie near -300, above the plain fp32 output tolerance (2.7e-6 there).
inline Tolerance partial_output_tolerance(const Tolerance& output, float max_logit) {
  const double logit_rounding = 4.0 * std::fabs(double(max_logit)) * std::ldexp(1.0, -23);
  return {output.atol + logit_rounding * kMaxAbsFp8Value, output.rtol};
}

struct GroupedCheck {
  std::string failures;  // empty when every comparison passed
  double max_vs_reference = 0, max_vs_oracle = 0, max_vs_v1_reference = 0;
  int compared_split_states = 0;
  int compared_partials = 0;
};

// Compares one grouped run with its reference (output, every active split's state, every partial
// output of a multi-split sequence), the dense oracle and v1's scalar reference, and checks that the
// output is finite everywhere.
inline GroupedCheck check_grouped_run(const Scenario& scenario, const Inputs& inputs, const GroupedRun& run) {
  GroupedCheck check;
  std::ostringstream failures;
  const GroupedReferenceRun reference = grouped_reference(scenario, inputs, run.plan);
  const DenseOutput oracle = dense_attention_oracle(inputs);
  const ReferenceRun v1 = reference_attention(scenario, inputs, KernelVersion::v1);
  const Tolerance tolerance = grouped_output_tolerance(scenario.dtype, scenario.kv_cache_dtype);
  auto got = [&](int s, int h, int d) {
    return double(run.output.get_float((std::int64_t(s) * scenario.num_heads + h) * scenario.head_size + d));
  };
  struct Against {
    const char* name;
    std::function<double(int, int, int)> want;
    double* worst;
  };
  const Against againsts[] = {
      {"grouped reference", [&](int s, int h, int d) { return double(reference.output_at(s, h, d)); }, &check.max_vs_reference},
      {"dense oracle", [&](int s, int h, int d) { return oracle.at(s, h, d); }, &check.max_vs_oracle},
      {"v1 reference", [&](int s, int h, int d) { return double(v1.output_at(s, h, d)); }, &check.max_vs_v1_reference}};
  for (const Against& against : againsts) {
    int mismatches = 0;
    const std::string first = first_mismatch(scenario.num_seqs, scenario.num_heads, scenario.head_size, tolerance, got,
                                             against.want, &mismatches);
    if (mismatches > 0) failures << "output vs " << against.name << ": " << first << "\n";
    for (int s = 0; s < scenario.num_seqs; ++s)
      for (int h = 0; h < scenario.num_heads; ++h)
        for (int d = 0; d < scenario.head_size; ++d)
          *against.worst = std::fmax(*against.worst, std::fabs(got(s, h, d) - against.want(s, h, d)));
  }
  for (int s = 0; s < scenario.num_seqs; ++s) {
    const int active = reference.active_splits[std::size_t(s)];
    for (int h = 0; h < scenario.num_heads; ++h)
      for (int split = 0; split < run.plan.num_splits; ++split) {
        const std::int64_t slot = (std::int64_t(s) * scenario.num_heads + h) * run.plan.num_splits + split;
        const float max_logit = run.max_logits.get_float(slot), exp_sum = run.exp_sums.get_float(slot);
        if (split >= active) {
          // An inactive split writes nothing: its slots keep their NaN poison.
          if (!std::isnan(max_logit) || !std::isnan(exp_sum))
            failures << "inactive split (" << s << ", " << h << ", " << split << ") wrote a state\n";
          continue;
        }
        const SoftmaxState& want = reference.split_state(s, h, split);
        ++check.compared_split_states;
        if (!kSplitMaxTolerance.allows(max_logit, want.max_logit) || !split_sum_tolerance(want.max_logit).allows(exp_sum, want.exp_sum))
          failures << "split state (seq " << s << ", head " << h << ", split " << split << "): got {" << max_logit << ", "
                   << exp_sum << "}, want {" << want.max_logit << ", " << want.exp_sum << "}\n";
        if (active == 1) continue;  // a one-split sequence writes its output directly, no partial
        const Tolerance partial_tolerance = partial_output_tolerance(tolerance, want.max_logit);
        for (int d = 0; d < scenario.head_size; ++d) {
          ++check.compared_partials;
          const double partial = run.partial_out.get_float(slot * scenario.head_size + d);
          if (!partial_tolerance.allows(partial, reference.partial_at(s, h, split, d))) {
            failures << "partial output (seq " << s << ", head " << h << ", split " << split << ", dim " << d
                     << "): got " << partial << ", want " << reference.partial_at(s, h, split, d) << "\n";
            break;
          }
        }
      }
  }
  for (std::int64_t i = 0; i < run.output.numel(); ++i)
    if (!std::isfinite(run.output.get_float(i))) {
      failures << "output element " << i << " is not finite (NaN poison reached the output, or a slot was never written)\n";
      break;
    }
  check.failures = failures.str();
  return check;
}

inline std::string describe(const Scenario& scenario, const GroupedRun& run) {
  return scenario_summary(scenario) + " | plan: " + run.plan.reason + ", row tiles " + std::to_string(run.plan.row_tiles) +
         ", head chunks " + std::to_string(run.plan.num_head_chunks);
}

}  // namespace pal::test
