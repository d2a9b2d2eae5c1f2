// libFuzzer target: bytes as a dump, opened as pal-viz opens one and walked through the
// visualizer's model (see exercise.h).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "exercise.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)pal::fuzz::exercise_dump(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
