// libFuzzer target: bytes as a scenario file, validated (see exercise.h).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "exercise.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  pal::fuzz::exercise_scenario(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
