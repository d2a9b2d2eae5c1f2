// What compare/'s comparisons share (internal to compare/): the element-by-element checker that
// collects one row of a report, and the error scales of the tolerance rules.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "compare/stage_compare.h"

namespace pal {

// Collects one stage's comparison, element by element.
class StageChecker {
 public:
  StageChecker(StageOrCheck subject, std::string what, StageTolerance tolerance) {
    result_.subject = subject;
    result_.stage = std::string(subject.name());
    result_.what = std::move(what);
    result_.tolerance = std::move(tolerance);
  }

  // `where` is called only when this element becomes the worst so far. `extra_rel` and
  // `extra_abs` widen the stage's tolerance for this element (see logit_uncertainty).
  template <typename Where>
  void check(double actual, double expected, Where&& where, double extra_rel = 0.0, double extra_abs = 0.0) {
    ++result_.num_compared;
    double excess;
    if (!std::isfinite(actual) || !std::isfinite(expected)) {
      // NaN or inf on either side never matches, not even NaN against NaN or inf against inf: such a
      // comparison cannot tell a right kernel from a wrong one (issue 14). Slots that must not be
      // compared (masked tokens, records no lane writes) are left out by the callers.
      excess = std::numeric_limits<double>::infinity();
    } else {
      const double error = std::fabs(actual - expected);
      result_.max_abs_error = std::max(result_.max_abs_error, error);
      if (expected != 0.0) result_.max_rel_error = std::max(result_.max_rel_error, error / std::fabs(expected));
      const double allowed =
          result_.tolerance.atol + extra_abs + (result_.tolerance.rtol + extra_rel) * std::fabs(expected);
      excess = allowed > 0.0 ? error / allowed : (error > 0.0 ? std::numeric_limits<double>::infinity() : 0.0);
    }
    if (excess > 1.0) ++result_.num_failed;
    if (excess > worst_excess_ || result_.worst_where.empty()) {
      worst_excess_ = excess;
      result_.worst_where = where();
      result_.worst_actual = actual;
      result_.worst_expected = expected;
    }
  }

  // Integer records must match exactly.
  template <typename Where>
  void check_exact(std::int64_t actual, std::int64_t expected, Where&& where) {
    check(double(actual), double(expected), where);
  }

  StageOrCheck subject() const { return result_.subject; }
  StageComparison take() { return std::move(result_); }

 private:
  StageComparison result_;
  double worst_excess_ = -1.0;
};

// Half of one unit in the last place of the dtype, relative: the error of one rounding.
inline double half_ulp(DType dtype) {
  switch (dtype) {
    case DType::fp16: return std::ldexp(1.0, -11);
    case DType::bf16: return std::ldexp(1.0, -8);
    case DType::fp32: break;
  }
  return std::ldexp(1.0, -24);
}

// How well fp32 knows exp(logit - max) relative to its value. A logit of magnitude L is stored
// with an absolute error of up to one ulp, L * 2^-23, on each side of a comparison, and an error dx
// in the exponent is a relative error dx in the exponential. Small without ALiBi (logits ~ 1), this
// dominates with it: the bias reaches -slope * seq_len, so logits of -1000 carry ~1e-4 absolute
// error and their probabilities ~1e-4 relative. Every stage downstream of exp inherits it.
inline double logit_uncertainty(double max_abs_logit, double max_logit) {
  // A thread_block that skipped every kv_block keeps the max -FLT_MAX: it has no logit to be unsure of.
  if (max_logit == -FLT_MAX) max_logit = 0.0;
  return std::ldexp(max_abs_logit + std::fabs(max_logit), -22);
}

// Two grouped runs (compare/grouped_compare.cpp); compare_runs hands them over.
ComparisonReport compare_grouped_runs(const KernelRun& actual, const KernelRun& expected, const Inputs& inputs);

}  // namespace pal
