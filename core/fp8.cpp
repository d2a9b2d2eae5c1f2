// Names, the run-time dtype dispatch of the dequantisation, and quantisation counts; the conversions
// themselves are inline in fp8.h because the kernel source calls them on both sides.
#include "core/fp8.h"

#include <cmath>

namespace pal {

std::string_view fp8_format_name(Fp8Format format) { return format == Fp8Format::e4m3 ? "e4m3" : "e5m2"; }

std::string_view kv_cache_dtype_name(KvCacheDtype dtype) {
  switch (dtype) {
    case KvCacheDtype::automatic: return "auto";
    case KvCacheDtype::fp8_e4m3: return "fp8_e4m3";
    case KvCacheDtype::fp8_e5m2: return "fp8_e5m2";
  }
  return "unknown";
}

bool parse_kv_cache_dtype(std::string_view text, KvCacheDtype& dtype) {
  if (text == "fp8") {  // upstream's alias
    dtype = KvCacheDtype::fp8_e4m3;
    return true;
  }
  for (KvCacheDtype candidate : {KvCacheDtype::automatic, KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2}) {
    if (text == kv_cache_dtype_name(candidate)) {
      dtype = candidate;
      return true;
    }
  }
  return false;
}

float dequantize_fp8_as_float(std::uint8_t code, Fp8Format format, float scale, DType query_dtype,
                              int codes_per_conversion) {
  return visit_dtype(query_dtype, [&](auto element) {
    return to_float(dequantize_fp8<decltype(element)>(code, format, scale, codes_per_conversion));
  });
}

void Fp8QuantizationCounts::add(float value, float scale, std::uint8_t code, Fp8Format format) {
  ++num_values;
  if (fp8_is_subnormal(code, format)) ++num_subnormal;
  if ((code & 0x7F) == 0 && value != 0.0f) ++num_flushed_to_zero;
  // The same quotient the encoder saw; saturated when it lies beyond the largest finite value.
  if (std::fabs(value / scale) > fp8_max_finite(format)) ++num_saturated;
}

}  // namespace pal
