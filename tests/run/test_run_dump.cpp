// Dumps (pal-run --output, run/run_dump.h): written, read back, and refused when damaged.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/safetensors.h"
#include "kernels/record_schema.h"
#include "reference/paged_reference.h"
#include "run/run_dump.h"

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
    CHECK(dump.inputs.inputs().key_cache.bytes == inputs.key_cache.bytes);
    CHECK(dump.inputs.scenario().seq_lens == scenario.seq_lens);
    REQUIRE(dump.run->recording.has_value());
    REQUIRE(dump.run->recording->size_bytes() == run.recording->size_bytes());
    CHECK(std::memcmp(dump.run->recording->data(), run.recording->data(), run.recording->size_bytes()) == 0);
    std::remove(path.c_str());
  }
}

TEST_CASE("a recorded fp8 block-sparse run's dump reads back with F8 caches, its scales and its sparsity") {
  // fp16 queries, head 128, block 16: the configuration every build compiles with fp8 E5M2 and
  // block sparsity together (kernels/CMakeLists.txt's reduced set).
  Scenario scenario;
  scenario.head_size = 128;
  scenario.kv_cache_dtype = KvCacheDtype::fp8_e5m2;
  scenario.k_scale = 0.5f;
  scenario.v_scale = 0.25f;
  scenario.block_sparse = BlockSparseParams{1, 2, 16, -1, 1};
  scenario.seq_lens = {70, 600};
  const Inputs inputs = generate_inputs(scenario);
  RunOptions options;
  options.backend = Backend::emulator;
  options.record = true;
  const KernelRun run = run_kernel(scenario, inputs, options);
  const ReferenceRun reference = reference_attention(run.scenario, inputs, run.version);
  const std::string path = temp_path("pal_dump_fp8_sparse.safetensors");
  write_run_dump(path, inputs, run, &reference);

  const LoadedDump dump = read_run_dump(path);
  REQUIRE(dump.run.has_value());
  const Inputs& read = dump.inputs.inputs();
  CHECK(read.key_cache.type == ElementType::f8_e5m2);
  CHECK(read.value_cache.type == ElementType::f8_e5m2);
  CHECK(read.key_cache.bytes == inputs.key_cache.bytes);
  CHECK(read.value_cache.bytes == inputs.value_cache.bytes);
  CHECK(read.k_scale == 0.5f);
  CHECK(read.v_scale == 0.25f);
  CHECK(dump.inputs.scenario().block_sparse == scenario.block_sparse);
  CHECK(dump.run->output.bytes == run.output.bytes);
  REQUIRE(dump.run->recording.has_value());
  CHECK(dump.run->recording->dims().max_dequantized_per_load > 0);
  REQUIRE(dump.run->recording->size_bytes() == run.recording->size_bytes());
  CHECK(std::memcmp(dump.run->recording->data(), run.recording->data(), run.recording->size_bytes()) == 0);
  // The file alone is enough to recompute the output: the reference on the dump's own inputs.
  const ReferenceRun again = reference_attention(dump.inputs, run.version);
  CHECK(again.output.bytes == reference.output.bytes);
  std::remove(path.c_str());
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

namespace {

// A recorded emulator run of `version` and its dump at `path`.
KernelRun dump_recorded_run(KernelVersion version, const std::string& path) {
  Scenario scenario;
  scenario.version = version;
  scenario.seq_lens = {37, 600};
  const Inputs inputs = generate_inputs(scenario);
  RunOptions options;
  options.backend = Backend::emulator;
  options.record = true;
  KernelRun run = run_kernel(scenario, inputs, options);
  write_run_dump(path, inputs, run, nullptr);
  return run;
}

}  // namespace

TEST_CASE("a dump holds a kernel tensor for each array its variant records, in the schema's shape") {
  for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
    const std::string path = temp_path("pal_dump_schema.safetensors");
    const KernelRun run = dump_recorded_run(version, path);
    const SafetensorsFile file = read_safetensors(path);
    const RecordDims& dims = run.recording->dims();
    INFO(version_name(version));
    for (int i = 0; i < kNumRecordArrays; ++i) {
      const RecordArrayInfo& info = record_array_info(static_cast<RecordArray>(i));
      if (info.element != RecordElement::f32) continue;  // record structs are split into fields
      const std::string name = "kernel." + std::string(dump_name(info.dump));
      INFO(name);
      REQUIRE(file.tensors.count(name) == (records_array(dims, info.array) ? 1u : 0u));
      if (!records_array(dims, info.array)) continue;
      const RecordArrayShape shape = record_array_shape(info.array, dims);
      CHECK(file.tensors.at(name).shape == std::vector<std::int64_t>(shape.extents, shape.extents + shape.rank));
    }
    // The reduce kernel records only in v2.
    CHECK(file.tensors.count("kernel.reduce_max_logit") == (version == KernelVersion::v2 ? 1u : 0u));
    std::remove(path.c_str());
  }
}

TEST_CASE("a dump whose kernel tensor disagrees with the schema is refused, naming it") {
  const std::string path = temp_path("pal_dump_bad_shape.safetensors");
  dump_recorded_run(KernelVersion::v1, path);
  SafetensorsFile file = read_safetensors(path);
  Tensor& max = file.tensors.at("kernel.qk_max");
  max.shape = {max.numel() / 2, 2};
  write_safetensors(path, file);
  REQUIRE_THROWS_WITH(read_run_dump(path), Catch::Contains("kernel.qk_max") && Catch::Contains("record schema"));
  std::remove(path.c_str());
}
