#include "bench/output_check.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pal::bench {

namespace {

// Relative spacing of one dtype: 2^-(explicit mantissa bits).
double dtype_epsilon(DType dtype) {
  switch (dtype) {
    case DType::fp16: return std::ldexp(1.0, -10);
    case DType::bf16: return std::ldexp(1.0, -7);
    case DType::fp32: break;
  }
  return std::ldexp(1.0, -23);
}

double value_range(const BenchShape& shape) { return 1.0 / std::sqrt(double(shape.head_size)); }

std::string coordinates(const BenchShape& shape, std::size_t flat_index) {
  const std::size_t head_size = std::size_t(shape.head_size);
  const std::size_t num_heads = std::size_t(shape.num_heads);
  return "out(seq " + std::to_string(flat_index / head_size / num_heads) + ", head " +
         std::to_string((flat_index / head_size) % num_heads) + ", dim " + std::to_string(flat_index % head_size) +
         ")";
}

}  // namespace

double rounding_unit(const BenchShape& shape) {
  // An fp8 cache keeps 3 (E4M3) or 2 (E5M2) mantissa bits: spacing 2^-m, as dtype_epsilon counts.
  const KvCacheDtype cache = shape.cache_format();
  const double cache_unit = is_fp8(cache) ? std::ldexp(1.0, -fp8_mantissa_bits(fp8_format_of(cache))) : 0.0;
  return std::max(dtype_epsilon(shape.dtype), cache_unit);
}

std::string check_output_range(const BenchShape& shape, const std::vector<float>& values) {
  const double bound = value_range(shape) * (1.0 + 4.0 * rounding_unit(shape));
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double value = values[i];
    if (!std::isfinite(value) || std::fabs(value) > bound)
      return "FAIL: " + coordinates(shape, i) + " = " + format_fixed(value, 6) + " is not finite or outside +-" +
             format_fixed(bound, 6);
  }
  return "ok";
}

std::string compare_outputs(const BenchShape& shape, const std::string& reference_name,
                            const std::vector<float>& reference, const std::string& name,
                            const std::vector<float>& values) {
  if (reference.size() != values.size())
    return "FAIL: " + reference_name + " wrote " + std::to_string(reference.size()) + " values and " + name + " " +
           std::to_string(values.size());
  const double tolerance = 8.0 * value_range(shape) * rounding_unit(shape);
  double worst = 0;
  std::size_t worst_index = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double difference = std::fabs(double(reference[i]) - double(values[i]));
    // A NaN on either side is a difference no tolerance covers.
    if (!(difference <= worst)) {
      worst = std::isnan(difference) ? std::numeric_limits<double>::infinity() : difference;
      worst_index = i;
    }
  }
  if (worst <= tolerance) return "ok, " + reference_name + "=" + name;
  return "FAIL: " + reference_name + " and " + name + " differ by " + format_fixed(worst, 6) + " at " +
         coordinates(shape, worst_index) + " (tolerance " + format_fixed(tolerance, 6) + ")";
}

}  // namespace pal::bench
