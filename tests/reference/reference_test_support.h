// Helpers shared by the reference tests: small scenarios, the one tolerance rule, and comparisons
// that report the first failing coordinates as (seq, head, dim).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "core/inputs.h"
#include "core/scenario.h"
#include "reference/dense_oracle.h"
#include "reference/paged_reference.h"

namespace pal::test {

// A scenario with the given shape; everything else at the generator's defaults (seed 0).
inline Scenario make_scenario(DType dtype, int head_size, int block_size, int num_heads, int num_kv_heads,
                              bool alibi, std::vector<int> seq_lens, std::uint64_t seed = 0) {
  Scenario scenario;
  scenario.dtype = dtype;
  scenario.head_size = head_size;
  scenario.block_size = block_size;
  scenario.num_heads = num_heads;
  scenario.num_kv_heads = num_kv_heads;
  scenario.alibi = alibi;
  scenario.num_seqs = static_cast<int>(seq_lens.size());
  scenario.seq_lens = std::move(seq_lens);
  scenario.seed = seed;
  return scenario;
}

// ---- The tolerance rule (llm.c style): |got - want| <= atol + rtol * |want| ----------------------
//
// Per dtype, with u = the dtype's unit roundoff (half an ulp at 1: fp16 2^-11, bf16 2^-8):
//   rtol = u (+ a little fp32 slack): the reference stores its fp32 accumulators rounded to the
//          dtype, which moves each output by at most half an ulp, i.e. u * |out|.
//   atol = u * max|v|: before the P.V product every probability p_t is rounded to the dtype (as the
//          kernel does), which moves p_t by at most u * p_t and the output by at most
//          u * sum_t p_t |v_t| <= u * max|v|. The generator draws v in [-1/sqrt(head_size), ..],
//          so max|v| <= 1/sqrt(32) over the supported head sizes; a fp16 subnormal probability
//          (p < 2^-14) errs by at most 2^-25 absolute, far below this.
// fp32 rounds nothing: only fp32 arithmetic differs from the double oracle (sums of up to ~1300
// exp values and products), a few units of 2^-24 relative; atol/rtol leave a 10x margin over the
// largest error measured on the full grid (about 1e-7).
struct Tolerance {
  double atol;
  double rtol;
  bool allows(double got, double want) const {
    return std::fabs(got - want) <= atol + rtol * std::fabs(want);  // NaN fails
  }
};

inline double unit_roundoff(DType dtype) {
  switch (dtype) {
    case DType::fp16: return std::ldexp(1.0, -11);
    case DType::bf16: return std::ldexp(1.0, -8);
    case DType::fp32: break;
  }
  return std::ldexp(1.0, -24);
}

inline constexpr double kMaxAbsValue = 0.17677669529663687;  // 1/sqrt(32): the generator's widest range
inline constexpr double kFp32Slack = 1e-6;                   // fp32 arithmetic, see above

inline Tolerance reference_vs_oracle_tolerance(DType dtype) {
  if (dtype == DType::fp32) return {kFp32Slack, 10 * kFp32Slack};
  const double u = unit_roundoff(dtype);
  return {u * kMaxAbsValue + kFp32Slack, u + 10 * kFp32Slack};
}

// With an fp8 cache the oracle uses the exact values the codes stand for (code * scale, in double),
// while the reference, like the kernel, rounds each dequantised key and value to the query dtype
// (fp32 queries: to fp16 for values and multi-code key loads, see core/fp8.h), unit roundoff u_d:
//   values: each v moves by at most u_d * |v|, the output by at most u_d * max|v|;
//   keys:   each logit moves by at most scale * sum_d |q_d| u_d |k_d| <= u_d * max|v| with the
//           generator's ranges (|q|, |k| <= ~1/sqrt(head_size), scale 1/sqrt(head_size)), and a logit
//           shift d moves the output by at most about 2 d max|v|.
// max|v| grows with quantisation by E5M2's half step at most (2^-3): kMaxAbsFp8Value.
inline constexpr double kMaxAbsFp8Value = kMaxAbsValue * 1.125;

inline Tolerance reference_vs_oracle_tolerance(DType dtype, KvCacheDtype cache) {
  if (!is_fp8(cache)) return reference_vs_oracle_tolerance(dtype);
  const double u_p = dtype == DType::fp32 ? 0.0 : unit_roundoff(dtype);  // probabilities and the output
  const double u_d = dtype == DType::bf16 ? unit_roundoff(DType::bf16) : unit_roundoff(DType::fp16);
  return {kMaxAbsFp8Value * (u_p + u_d * (1 + 2 * kMaxAbsFp8Value)) + kFp32Slack, u_p + 10 * kFp32Slack};
}

// The first element of [num_seqs, num_heads, head_size] outside the tolerance, described with its
// coordinates; empty when all pass. `got` and `want` give the element at (seq, head, dim).
inline std::string first_mismatch(int num_seqs, int num_heads, int head_size, const Tolerance& tolerance,
                                  const std::function<double(int, int, int)>& got,
                                  const std::function<double(int, int, int)>& want, int* num_mismatches = nullptr) {
  std::string first;
  int count = 0;
  for (int seq = 0; seq < num_seqs; ++seq)
    for (int head = 0; head < num_heads; ++head)
      for (int dim = 0; dim < head_size; ++dim) {
        const double a = got(seq, head, dim);
        const double b = want(seq, head, dim);
        if (tolerance.allows(a, b)) continue;
        if (count++ == 0) {
          std::ostringstream text;
          text.precision(9);
          text << "first mismatch at (seq, head, dim) = (" << seq << ", " << head << ", " << dim << "): got " << a
               << ", want " << b << ", |diff| = " << std::fabs(a - b)
               << ", allowed = " << tolerance.atol + tolerance.rtol * std::fabs(b);
          first = text.str();
        }
      }
  if (num_mismatches) *num_mismatches = count;
  if (count > 1) first += " (and " + std::to_string(count - 1) + " more)";
  return first;
}

// Largest |reference - oracle| over all outputs.
inline double max_abs_error(const ReferenceRun& run, const DenseOutput& oracle) {
  double worst = 0.0;
  for (int seq = 0; seq < run.num_seqs; ++seq)
    for (int head = 0; head < run.num_heads; ++head)
      for (int dim = 0; dim < run.head_size; ++dim)
        worst = std::fmax(worst, std::fabs(double(run.output_at(seq, head, dim)) - oracle.at(seq, head, dim)));
  return worst;
}

// Whether the full sweep was asked for: PAL_REFERENCE_GRID=quick runs a subset (the sanitizer
// build sets it), anything else or unset runs everything.
inline bool quick_grid() {
  const char* value = std::getenv("PAL_REFERENCE_GRID");
  return value != nullptr && std::string(value) == "quick";
}

}  // namespace pal::test
