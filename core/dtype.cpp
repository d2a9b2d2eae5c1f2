// Names and runtime rounding for the element types; the conversions themselves are inline in dtype.h
// because the kernel source calls them on both sides.
#include "core/dtype.h"

namespace pal {

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::fp32: return "fp32";
    case DType::fp16: return "fp16";
    case DType::bf16: return "bf16";
  }
  return "unknown";
}

bool parse_dtype(std::string_view text, DType& dtype) {
  for (DType candidate : {DType::fp32, DType::fp16, DType::bf16}) {
    if (text == dtype_name(candidate)) {
      dtype = candidate;
      return true;
    }
  }
  return false;
}

float round_to_dtype(float value, DType dtype) {
  return visit_dtype(dtype, [value](auto element) { return round_to<decltype(element)>(value); });
}

}  // namespace pal
