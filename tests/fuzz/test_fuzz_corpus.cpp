// Replays every fuzz seed (tests/fuzz/corpus/) and every input a fuzzer once crashed on
// (tests/data/fuzz/) through the fuzz targets' own code, in every build: a finding stays fixed
// even where clang and libFuzzer are absent. A regression aborts the test process (exercise.h).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "exercise.h"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> files_in(const fs::path& folder) {
  std::vector<fs::path> files;
  if (fs::is_directory(folder))
    for (const auto& entry : fs::directory_iterator(folder))
      if (entry.is_regular_file() && entry.path().filename().string().front() != '.') files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string contents_of(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

template <typename Exercise>
std::size_t replay(const std::string& target, Exercise&& exercise) {
  std::size_t count = 0;
  for (const char* where : {"tests/fuzz/corpus/", "tests/data/fuzz/"})
    for (const fs::path& file : files_in(fs::path(PAL_SOURCE_DIR) / (where + target))) {
      INFO(file.string());
      exercise(contents_of(file));
      ++count;
    }
  return count;
}

}  // namespace

TEST_CASE("every safetensors seed and past finding is read without a crash", "[fuzz]") {
  CHECK(replay("safetensors", pal::fuzz::exercise_safetensors) >= 3);
}

TEST_CASE("every scenario seed and past finding is read without a crash", "[fuzz]") {
  CHECK(replay("scenario", pal::fuzz::exercise_scenario) >= 3);
}

TEST_CASE("every dump seed and past finding opens in the visualizer's model or is refused, never a crash", "[fuzz]") {
  CHECK(replay("dump", pal::fuzz::exercise_dump) >= 3);
  // The seeds are real dumps and inputs files (pal-run --output): each one opens and is walked, so
  // the fuzzer starts from inputs that reach every view, not only the reader's refusals.
  for (const fs::path& seed : files_in(fs::path(PAL_SOURCE_DIR) / "tests/fuzz/corpus/dump")) {
    INFO(seed.string());
    CHECK(pal::fuzz::exercise_dump(contents_of(seed)));
  }
}

TEST_CASE("the fuzz targets refuse the deep nesting that crashed the tools in issue 14", "[fuzz]") {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  pal::fuzz::exercise_scenario(deep);
  std::string header(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) header[i] = static_cast<char>((deep.size() >> (8 * i)) & 0xffu);
  pal::fuzz::exercise_safetensors(header + deep);
  CHECK_FALSE(pal::fuzz::exercise_dump(header + deep));
  SUCCEED("no crash");
}
