// What pal-bench checks of an output before timing it: a sanity check, not a correctness test
// (that is ctest's business). The inputs are uniform in [-range, range) with range =
// 1/sqrt(head_size) (core's generator and bench/device_inputs.h draw them alike), and every output
// element is a softmax-weighted average of value elements, so it is finite and inside that range
// up to the rounding of the dtypes involved. Two kernels run on the same inputs must agree to a few
// units in the last place. Plain functions of host vectors: unit-tested without a GPU.
#pragma once

#include <string>
#include <vector>

#include "bench/bench_model.h"

namespace pal::bench {

// The coarsest relative spacing (2^-mantissa bits) among the shape's query and cache dtypes: the
// unit of the tolerances below.
double rounding_unit(const BenchShape& shape);

// "ok", or "FAIL: out(seq s, head h, dim d) = ... is not finite or outside +-bound" for the first
// offending element of `values` ([num_seqs, num_heads, head_size], as floats).
std::string check_output_range(const BenchShape& shape, const std::vector<float>& values);

// "ok, <reference_name>=<name>" when the two outputs agree within 8 rounding units at the values'
// scale (v2 rounds each partition's output to the dtype before its reduce, so v1 and v2 differ by a
// few), else "FAIL: ..." with the largest difference, where it is and the tolerance.
std::string compare_outputs(const BenchShape& shape, const std::string& reference_name,
                            const std::vector<float>& reference, const std::string& name,
                            const std::vector<float>& values);

}  // namespace pal::bench
