// Number formatting shared by the model's descriptions and the panels: short, and honest about the
// special values the kernel produces (-FLT_MAX for "no value yet", NaN for unwritten records).
#pragma once

#include <string>

namespace pal::viz {

std::string format_value(float value, int significant_digits = 4);  // "0.1234", "-FLT_MAX", "NaN"
std::string format_bytes(long long bytes);                            // "128 B", "4.0 KiB"
std::string counted(long long count, const std::string& noun);       // "1 lane", "4 lanes"

}  // namespace pal::viz
