#include "visualizer/model/format.h"

#include <cfloat>
#include <cmath>
#include <cstdio>

namespace pal::viz {

std::string format_value(float value, int significant_digits) {
  if (std::isnan(value)) return "NaN";
  if (value == -FLT_MAX) return "-FLT_MAX";
  if (value == FLT_MAX) return "FLT_MAX";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char text[48];
  std::snprintf(text, sizeof text, "%.*g", significant_digits, double(value));
  return text;
}

std::string format_bytes(long long bytes) {
  char text[48];
  if (bytes < 1024) std::snprintf(text, sizeof text, "%lld B", bytes);
  else if (bytes < 1024 * 1024) std::snprintf(text, sizeof text, "%.1f KiB", double(bytes) / 1024.0);
  else std::snprintf(text, sizeof text, "%.1f MiB", double(bytes) / (1024.0 * 1024.0));
  return text;
}

std::string counted(long long count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

}  // namespace pal::viz
