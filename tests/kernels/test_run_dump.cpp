// Dumps (pal-run --output): written, read back, and refused when damaged.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tools/run_dump.h"

using namespace pal;

namespace {
std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / name).string();
}
}  // namespace

TEST_CASE("a recorded run's dump reads back as the same scenario, output and recording") {
  for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
    Scenario scenario;
    scenario.version = version;
    scenario.seq_lens = {37, 600};
    scenario.dtype = DType::bf16;
    const Inputs inputs = generate_inputs(scenario);
    RunOptions options;
    options.backend = Backend::emulator;
    options.record = true;
    const KernelRun run = run_kernel(scenario, inputs, options);
    const ReferenceRun reference = reference_attention(run.scenario, inputs, run.version);
    const std::string path = temp_path(version == KernelVersion::v1 ? "pal_dump_v1.safetensors" : "pal_dump_v2.safetensors");
    write_run_dump(path, inputs, run, &reference);

    const LoadedDump dump = read_run_dump(path);
    REQUIRE(dump.run.has_value());
    CHECK(dump.run->version == version);
    CHECK(dump.run->output.bytes == run.output.bytes);
    CHECK(dump.inputs.key_cache.bytes == inputs.key_cache.bytes);
    CHECK(dump.scenario.seq_lens == scenario.seq_lens);
    REQUIRE(dump.run->recording.has_value());
    REQUIRE(dump.run->recording->size_bytes() == run.recording->size_bytes());
    CHECK(std::memcmp(dump.run->recording->data(), run.recording->data(), run.recording->size_bytes()) == 0);
    std::remove(path.c_str());
  }
}

TEST_CASE("a truncated dump is refused with a message, never a crash") {
  Scenario scenario;
  const Inputs inputs = generate_inputs(scenario);
  RunOptions options;
  options.backend = Backend::emulator;
  options.record = true;
  const KernelRun run = run_kernel(scenario, inputs, options);
  const std::string path = temp_path("pal_dump_truncated.safetensors");
  write_run_dump(path, inputs, run, nullptr);
  const auto size = std::filesystem::file_size(path);
  for (auto keep : {std::uintmax_t(0), std::uintmax_t(5), std::uintmax_t(100), size / 2, size - 1}) {
    std::filesystem::resize_file(path, keep);
    INFO("kept " << keep << " of " << size << " bytes");
    REQUIRE_THROWS_AS(read_run_dump(path), ScenarioError);
  }
  std::remove(path.c_str());
}
