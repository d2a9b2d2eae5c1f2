// Dumps (pal-run --output, run/run_dump.h): written, read back, and refused when damaged.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "core/output_file.h"
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
  for (KernelVersion version : kKernelVariants) {
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
      // A dump leaves out what this run recorded nothing into (dequantized_kv of an auto cache).
      const RecordArrayShape shape = record_array_shape(info.array, dims);
      const bool holds_values = records_array(dims, info.array) && shape.numel() > 0;
      REQUIRE(file.tensors.count(name) == (holds_values ? 1u : 0u));
      if (!holds_values) continue;
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

TEST_CASE("a recorded grouped run's dump reads back with its plan, split results and recording") {
  const std::string path = temp_path("pal_dump_grouped.safetensors");
  const KernelRun run = dump_recorded_run(KernelVersion::grouped, path);
  REQUIRE(run.grouped_plan.num_splits > 1);  // 600 tokens on the emulator's H200 model: split_merge runs
  const LoadedDump dump = read_run_dump(path);
  REQUIRE(dump.run.has_value());
  CHECK(dump.run->version == KernelVersion::grouped);
  CHECK(dump.run->grouped_plan.num_splits == run.grouped_plan.num_splits);
  CHECK(dump.run->grouped_plan.kv_blocks_per_split == run.grouped_plan.kv_blocks_per_split);
  CHECK(dump.run->split_partial_out.bytes == run.split_partial_out.bytes);
  CHECK(dump.run->split_max_logits.bytes == run.split_max_logits.bytes);
  REQUIRE(dump.run->recording.has_value());
  REQUIRE(dump.run->recording->size_bytes() == run.recording->size_bytes());
  CHECK(std::memcmp(dump.run->recording->data(), run.recording->data(), run.recording->size_bytes()) == 0);
  std::remove(path.c_str());
}

TEST_CASE("a grouped dump whose plan does not fit its scenario is refused, naming the field") {
  const std::string path = temp_path("pal_dump_grouped_bad_plan.safetensors");
  dump_recorded_run(KernelVersion::grouped, path);
  SafetensorsFile file = read_safetensors(path);
  nlohmann::json dims = nlohmann::json::parse(file.metadata.at("record_dims"));
  dims["kv_blocks_per_split"] = dims["kv_blocks_per_split"].get<int>() + 1;
  file.metadata["record_dims"] = dims.dump();
  write_safetensors(path, file);
  REQUIRE_THROWS_WITH(read_run_dump(path), Catch::Contains("kv_blocks_per_split"));
  file.tensors.erase("split_max_logits");
  dims["kv_blocks_per_split"] = dims["kv_blocks_per_split"].get<int>() - 1;
  file.metadata["record_dims"] = dims.dump();
  write_safetensors(path, file);
  REQUIRE_THROWS_WITH(read_run_dump(path), Catch::Contains("split_max_logits"));
  std::remove(path.c_str());
}

namespace {

// A recorded v1 dump at `path` whose recording buffer `damage` edits; the per-array copies are left
// out (a dump may hold the buffer alone), so the damage reaches the index checks.
template <typename Damage>
void write_damaged_dump(const std::string& path, Damage&& damage) {
  const KernelRun run = dump_recorded_run(KernelVersion::v1, path);
  SafetensorsFile file = read_safetensors(path);
  Recording recording = *run.recording;
  damage(recording, file);
  Tensor& raw = file.tensors.at("kernel.recording_buffer");
  std::memcpy(raw.bytes.data(), recording.data(), raw.bytes.size());
  for (auto it = file.tensors.begin(); it != file.tensors.end();)
    it = it->first.rfind("kernel.", 0) == 0 && it->first != "kernel.recording_buffer" ? file.tensors.erase(it) : std::next(it);
  write_safetensors(path, file);
}

}  // namespace

TEST_CASE("a dump whose recorded indices are damaged is refused before any view reads them (issue 14)") {
  const std::string path = temp_path("pal_dump_damaged.safetensors");
  struct Case {
    const char* what;
    const char* message;
    void (*damage)(Recording&, const SafetensorsFile&);
  };
  const Case cases[] = {
      {"a load count of 1e6", "claims", [](Recording& r, const SafetensorsFile&) { r.ptr().load_counts_at(0, 3) = 1'000'000; }},
      {"a negative load count", "claims", [](Recording& r, const SafetensorsFile&) { r.ptr().load_counts_at(0, 0) = -7; }},
      {"a load's element_offset of 1e12", "outside its tensor",
       [](Recording& r, const SafetensorsFile&) { r.ptr().loads_at(0, 2, 0).element_offset = 1'000'000'000'000; }},
      {"a load's element_offset of -1e12", "outside its tensor",
       [](Recording& r, const SafetensorsFile&) { r.ptr().loads_at(0, 2, 0).element_offset = -1'000'000'000'000; }},
      {"a negative vec_idx", "outside its tensor", [](Recording& r, const SafetensorsFile&) { r.ptr().loads_at(0, 1, 1).vec_idx = -3; }},
      {"a vec_idx past the rows", "outside its tensor",
       [](Recording& r, const SafetensorsFile&) { r.ptr().loads_at(0, 1, 1).vec_idx = 30000; }},
      {"an unknown load kind", "outside its tensor",
       [](Recording& r, const SafetensorsFile&) { r.ptr().loads_at(0, 4, 0).kind = static_cast<LoadKind>(9); }},
      {"a token position past the sequence", "token position",
       [](Recording& r, const SafetensorsFile&) { r.ptr().tokens_at(0, 2).token_idx = 1 << 30; }},
      {"a negative physical block", "token slot 2", [](Recording& r, const SafetensorsFile&) { r.ptr().tokens_at(0, 2).physical_block = -5; }},
      {"a masked flag of 7", "token slot 0", [](Recording& r, const SafetensorsFile&) { r.ptr().tokens_at(0, 0).masked = 7; }},
      {"random bytes", "recording", [](Recording& r, const SafetensorsFile&) {
         std::uint32_t state = 12345;
         for (std::size_t i = 0; i < r.size_bytes(); ++i) {
           state = state * 1664525u + 1013904223u;
           r.data()[i] = std::byte(state >> 24);
         }
       }},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    write_damaged_dump(path, c.damage);
    CHECK_THROWS_WITH(read_run_dump(path), Catch::Contains(c.message) && Catch::Contains("pal_dump_damaged"));
  }
  // The same dump undamaged, copies left out as above, reads back.
  write_damaged_dump(path, [](Recording&, const SafetensorsFile&) {});
  CHECK_NOTHROW(read_run_dump(path));
  std::remove(path.c_str());
}

TEST_CASE("a dump whose per-array copy differs from the recording buffer is refused, naming the copy") {
  const std::string path = temp_path("pal_dump_edited_copy.safetensors");
  dump_recorded_run(KernelVersion::v2, path);
  CHECK_NOTHROW(read_run_dump(path));
  SafetensorsFile file = read_safetensors(path);
  file.tensors.at("kernel.load_count").data<std::int32_t>()[5] += 1;
  write_safetensors(path, file);
  CHECK_THROWS_WITH(read_run_dump(path), Catch::Contains("kernel.load_count") && Catch::Contains("element 5") &&
                                             Catch::Contains("differs from kernel.recording_buffer"));
  std::remove(path.c_str());
}

TEST_CASE("a dump's recording larger than the recording limit is refused before it is copied") {
  const std::string path = temp_path("pal_dump_over_limit.safetensors");
  const KernelRun run = dump_recorded_run(KernelVersion::v1, path);
  CHECK_THROWS_WITH(read_run_dump(path, run.recording->size_bytes() - 1), Catch::Contains("limit"));
  CHECK_NOTHROW(read_run_dump(path, run.recording->size_bytes()));
  std::remove(path.c_str());
}

TEST_CASE("run_dump_recording_bytes counts exactly the recording tensors a dump holds") {
  for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
    INFO(version_name(version));
    const std::string path = temp_path("pal_dump_bytes.safetensors");
    const KernelRun run = dump_recorded_run(version, path);  // written without a reference
    const SafetensorsFile file = read_safetensors(path);
    std::uint64_t kernel_bytes = 0;
    for (const auto& [name, tensor] : file.tensors)
      if (name.rfind("kernel.", 0) == 0) kernel_bytes += tensor.bytes.size();
    CHECK(run_dump_recording_bytes(run.recording->dims(), false) == kernel_bytes);
    std::remove(path.c_str());
  }
}

TEST_CASE("a dump write that fails midway (a full disk) leaves the previous dump intact") {
  const std::string path = temp_path("pal_dump_full_disk.safetensors");
  const KernelRun first = dump_recorded_run(KernelVersion::v1, path);
  const auto size = std::filesystem::file_size(path);
  std::ifstream in(path, std::ios::binary);
  const std::string before((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  {
    const testing::ScopedOutputFault full_disk(testing::OutputStep::write, ENOSPC, size / 2);
    CHECK_THROWS_WITH(dump_recorded_run(KernelVersion::v2, path), Catch::Contains("No space left on device") &&
                                                                       Catch::Contains("unchanged"));
  }
  std::ifstream again(path, std::ios::binary);
  const std::string after((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>());
  CHECK(after == before);
  CHECK(read_run_dump(path).run->version == KernelVersion::v1);
  std::remove(path.c_str());
}
