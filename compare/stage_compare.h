// Stage-by-stage comparison of a kernel run against the scalar reference (or of two kernel runs,
// e.g. the GPU's recording against the emulator's).
//
// One tolerance rule for everything, llm.c style: an element passes when
//     |kernel - reference| <= atol + rtol * |reference|
// with (atol, rtol) set per stage and per dtype, each with the reason it has that size (the rule is
// the stage's entry in kernels/stage_registry.h; stage_tolerance() evaluates it). NaN or inf on
// either side never passes, not even NaN against NaN. Failures are reported by coordinates,
// (seq, head[, partition], token or dim), never by flat index.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/inputs.h"
#include "kernels/launch.h"
#include "kernels/stage_registry.h"
#include "reference/dense_oracle.h"
#include "reference/grouped_reference.h"
#include "reference/paged_reference.h"

namespace pal {

struct StageTolerance {
  double atol = 0.0;
  double rtol = 0.0;
  std::string reason;
};

struct StageComparison {
  StageOrCheck subject = Stage::prologue;  // the stage or check compared (kernels/stage_registry.h)
  std::string stage;          // its name, as in the kernel's //! [markers] and the registry
  std::string what;           // what was compared, in words
  std::int64_t num_compared = 0;
  std::int64_t num_failed = 0;
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;  // |a - b| / |b| over elements with |b| > 0
  std::string worst_where;     // coordinates of the worst element (largest error over allowance)
  double worst_actual = 0.0;
  double worst_expected = 0.0;
  StageTolerance tolerance;
  bool passed() const { return num_failed == 0; }
};

struct ComparisonReport {
  std::string title;  // e.g. "emulator v2 vs reference"
  std::vector<StageComparison> stages;
  bool passed() const;
  const StageComparison* find(StageOrCheck subject) const;  // null when the report has no such row
  // A fixed-width table (fits 100 columns), one row per stage, and a closing verdict line.
  std::string table() const;
};

// A registry rule evaluated for a dtype. `value_scale` is the largest |v| among the values the
// sequences use: output-side absolute tolerances are relative to it.
StageTolerance tolerance_for(const ToleranceRule& rule, DType dtype, double value_scale);
// The tolerance of a stage (or check) for a dtype: its registry rule, evaluated.
StageTolerance stage_tolerance(StageOrCheck subject, DType dtype, double value_scale);

// The largest finite |v| of the value cache over the tokens the sequences use.
double value_scale_of(const Scenario& scenario, const Inputs& inputs);

// Compares every stage that `run` carries against `reference` (which must be for the same
// scenario and version): the outputs always (and v2's tmp_out / exp_sums / max_logits), and
// every recorded intermediate when the run was recorded.
ComparisonReport compare_with_reference(const KernelRun& run, const ReferenceRun& reference, const Inputs& inputs);

// The grouped kernel (compare/grouped_compare.cpp): its outputs, every split's state and partial
// output against its reference (computed for the plan the kernel ran with: run.grouped_plan), the
// output against the dense oracle, and, when the run was recorded, every recorded stage
// (qk_logits, online_softmax, block_merge with each warp's state and accumulators, output,
// split_merge).
ComparisonReport compare_grouped_with_reference(const KernelRun& run, const GroupedReferenceRun& reference,
                                                const DenseOutput& oracle, const Inputs& inputs);

// Compares two recorded runs of the same scenario and version stage by stage: integer records
// (which lane computed each token, every load's address) must be identical; floats follow the
// same tolerance rule, documented for the GPU's fast intrinsics (__expf, __fdividef). Two grouped
// runs: the outputs and every split's state and partial output (recorded or not; the GPU does not
// record the grouped kernel), and every recorded array when both were recorded.
ComparisonReport compare_runs(const KernelRun& actual, const KernelRun& expected, const Inputs& inputs);

}  // namespace pal
