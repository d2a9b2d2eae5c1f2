// Dumps: the recording's tensors come from the record schema (kernels/record_schema.h), the
// reference's from its stages; nothing here lists the recorded arrays by hand.
#include "run/run_dump.h"

#include "kernels/grouped_launch.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "kernels/grouped_launch.h"
#include "kernels/record_view.h"
#include "kernels/stage_registry.h"

namespace pal {

namespace {

constexpr const char* kKernelPrefix = "kernel.";
constexpr const char* kReferencePrefix = "reference.";
constexpr const char* kRecordingBufferName = "kernel.recording_buffer";

nlohmann::json dims_to_json(const RecordDims& d) {
  nlohmann::json json;
#define PAL_DIM_TO_JSON(name, meaning) json[#name] = d.name;
  PAL_RECORD_DIMS_FIELDS(PAL_DIM_TO_JSON)
#undef PAL_DIM_TO_JSON
  return json;
}

RecordDims dims_from_json(const nlohmann::json& j, KernelVersion version) {
  RecordDims d;
  d.version = version;
  auto get = [&](const char* key) {
    if (!j.contains(key) || !j.at(key).is_number_integer())
      throw ScenarioError(std::string("dump: record_dims has no integer '") + key + "'");
    return j.at(key).get<int>();
  };
#define PAL_DIM_FROM_JSON(name, meaning) d.name = get(#name);
  PAL_RECORD_DIMS_FIELDS(PAL_DIM_FROM_JSON)
#undef PAL_DIM_FROM_JSON
  return d;
}

// How a dump stores a recorded value: floats as F32, 64-bit integers as I64, other integers (and
// enums) widened to I32.
template <typename T>
constexpr ElementType dump_type_of() {
  if constexpr (std::is_same_v<T, float>) return ElementType::f32;
  else if constexpr (sizeof(T) == 8) return ElementType::i64;
  else return ElementType::i32;
}

std::vector<std::int64_t> shape_vector(const RecordArrayShape& shape) {
  return std::vector<std::int64_t>(shape.extents, shape.extents + shape.rank);
}

template <typename T>
void store(Tensor& tensor, std::int64_t i, T value) {
  if constexpr (std::is_same_v<T, float>) tensor.data<float>()[i] = value;
  else if constexpr (sizeof(T) == 8) tensor.data<std::int64_t>()[i] = static_cast<std::int64_t>(value);
  else tensor.data<std::int32_t>()[i] = static_cast<std::int32_t>(value);
}

using TensorMap = std::map<std::string, Tensor>;

// One array of plain elements: its bytes as they are.
template <typename T>
void export_array(TensorMap& tensors, std::string_view name, const T* data, const RecordArrayShape& shape) {
  Tensor tensor(dump_type_of<T>(), shape_vector(shape));
  // An empty array (dequantized_kv of an auto cache) has no bytes and may have no storage: memcpy
  // must not see its null pointers, even for zero bytes.
  if (!tensor.bytes.empty()) std::memcpy(tensor.bytes.data(), data, tensor.bytes.size());
  tensors[kKernelPrefix + std::string(name)] = std::move(tensor);
}

// An array of record structs: one tensor per field.
#define PAL_EXPORT_FIELD(field, type, dump, meaning)                                          \
  {                                                                                           \
    Tensor tensor(dump_type_of<type>(), shape_vector(shape));                                 \
    for (std::int64_t i = 0; i < numel; ++i) store<type>(tensor, i, records[i].field);       \
    tensors[kKernelPrefix + std::string(dump_name(RecordDumpName(dump)))] = std::move(tensor); \
  }
void export_array(TensorMap& tensors, std::string_view, const TokenRecord* records, const RecordArrayShape& shape) {
  const std::int64_t numel = shape.numel();
  PAL_TOKEN_RECORD_FIELDS(PAL_EXPORT_FIELD)
}
void export_array(TensorMap& tensors, std::string_view, const LoadRecord* records, const RecordArrayShape& shape) {
  const std::int64_t numel = shape.numel();
  PAL_LOAD_RECORD_FIELDS(PAL_EXPORT_FIELD)
}
#undef PAL_EXPORT_FIELD

void export_recording(TensorMap& tensors, const Recording& recording) {
  const RecordDims& d = recording.dims();
  const RecordPointers& p = recording.ptr();
// An array with no elements in this run (dequantized_kv of an auto cache) is left out.
#define PAL_EXPORT_ARRAY(name, ...)                                                                       \
  if (records_array(d, RecordArray::name) && record_array_shape(RecordArray::name, d).numel() > 0)        \
    export_array(tensors, dump_name(record_array_info(RecordArray::name).dump), p.name,                  \
                 record_array_shape(RecordArray::name, d));
  PAL_RECORD_ARRAYS(PAL_EXPORT_ARRAY)
#undef PAL_EXPORT_ARRAY
  Tensor raw(ElementType::u8, {std::int64_t(recording.size_bytes())});
  std::memcpy(raw.bytes.data(), recording.data(), raw.bytes.size());
  tensors[kRecordingBufferName] = std::move(raw);
}

// The reference's per-thread-block stages in the kernel's shapes ([tb, head_size], [tb, tokens] or
// [tb]), NaN where a slot has no token.
void export_reference(TensorMap& tensors, const ReferenceRun& reference, const RecordDims& d) {
  const std::int64_t tb = d.num_thread_blocks(), T = d.tokens_per_thread_block, H = d.head_size;
  auto nan_tensor = [](std::vector<std::int64_t> shape) {
    Tensor t(ElementType::f32, std::move(shape));
    std::memset(t.bytes.data(), 0xFF, t.bytes.size());
    return t;
  };
  Tensor q = nan_tensor({tb, H}), logits = nan_tensor({tb, T}), max = nan_tensor({tb}), exps = nan_tensor({tb, T}),
         sum = nan_tensor({tb}), probs = nan_tensor({tb, T}), out = nan_tensor({tb, H});
  for (const ThreadBlockStages& stages : reference.thread_blocks) {
    if (!stages.active) continue;
    const std::int64_t i = reference.tb_index(stages.seq_idx, stages.head_idx, stages.partition_idx);
    std::memcpy(q.data<float>() + i * H, stages.q_vecs.data(), std::size_t(H) * sizeof(float));
    std::memcpy(out.data<float>() + i * H, stages.out.data(), std::size_t(H) * sizeof(float));
    for (int t = 0; t < stages.num_tokens(); ++t) {
      logits.data<float>()[i * T + t] = stages.logits[std::size_t(t)];
      exps.data<float>()[i * T + t] = stages.exp_values[std::size_t(t)];
      probs.data<float>()[i * T + t] = stages.probs[std::size_t(t)];
    }
    max.data<float>()[i] = stages.qk_max;
    sum.data<float>()[i] = stages.exp_sum;
  }
  auto stage_tensor = [&](Stage stage) { return kReferencePrefix + std::string(stage_info(stage).dump_name); };
  tensors[stage_tensor(Stage::query_load)] = std::move(q);
  tensors[stage_tensor(Stage::qk_logits)] = std::move(logits);
  tensors[stage_tensor(Stage::qk_max)] = std::move(max);
  tensors[stage_tensor(Stage::exp_sum)] = std::move(sum);
  tensors[stage_tensor(Stage::softmax)] = std::move(probs);
  // The exp values are part of the exp_sum stage; and "reference.output" is the final output, so
  // the thread blocks' own outputs (the kernel's kernel.output) get a name of their own.
  tensors[kReferencePrefix + std::string(record_array_info(RecordArray::exp_values).name)] = std::move(exps);
  tensors[kReferencePrefix + std::string("thread_block_output")] = std::move(out);
}

// Each kernel.<name> tensor a dump holds must have the schema's shape and type for these dims.
void check_exported_tensors(const std::string& path, const TensorMap& extra, const RecordDims& d) {
  auto check = [&](std::string_view name, ElementType type, const RecordArrayShape& shape) {
    const auto found = extra.find(kKernelPrefix + std::string(name));
    if (found == extra.end()) return;
    const Tensor& tensor = found->second;
    if (tensor.type != type || tensor.shape != shape_vector(shape)) {
      Tensor expected;
      expected.shape = shape_vector(shape);
      throw ScenarioError("dump " + path + ": " + found->first + " is " + std::string(element_type_name(tensor.type)) +
                          " " + tensor.shape_string() + "; the record schema says " +
                          std::string(element_type_name(type)) + " " + expected.shape_string());
    }
  };
#define PAL_CHECK_FIELD(field, type, dump, meaning) check(dump_name(RecordDumpName(dump)), dump_type_of<type>(), shape);
  for (int i = 0; i < kNumRecordArrays; ++i) {
    const RecordArrayInfo& info = record_array_info(static_cast<RecordArray>(i));
    if (!records_array(d, info.array)) continue;
    const RecordArrayShape shape = record_array_shape(info.array, d);
    switch (info.element) {
      case RecordElement::f32: check(dump_name(info.dump), ElementType::f32, shape); break;
      case RecordElement::i32: check(dump_name(info.dump), ElementType::i32, shape); break;
      case RecordElement::token_record: PAL_TOKEN_RECORD_FIELDS(PAL_CHECK_FIELD) break;
      case RecordElement::load_record: PAL_LOAD_RECORD_FIELDS(PAL_CHECK_FIELD) break;
    }
  }
#undef PAL_CHECK_FIELD
}

// The kernel.<name> tensors are copies of the raw buffer for numpy users; the buffer is what is
// read back. A copy that differs from it (edited, or from another file) would be silently ignored,
// so it is refused. One array is exported at a time, so the check holds one array's copy at most.
void check_exports_match_buffer(const std::string& path, const TensorMap& extra, const Recording& recording) {
  const RecordDims& d = recording.dims();
  const RecordPointers& p = recording.ptr();
  auto compare = [&](const TensorMap& exported) {
    for (const auto& [name, tensor] : exported) {
      const auto found = extra.find(name);
      if (found == extra.end() || found->second.bytes == tensor.bytes) continue;
      const std::size_t element_bytes = std::size_t(element_size_bytes(tensor.type));
      std::size_t first = 0;
      while (first < tensor.bytes.size() && found->second.bytes[first] == tensor.bytes[first]) ++first;
      throw ScenarioError("dump " + path + ": " + name + " differs from " + kRecordingBufferName + " (first at element " +
                          std::to_string(first / element_bytes) + "); the " + kKernelPrefix +
                          "<name> tensors are copies of the buffer, which is what is read back, so an edited copy "
                          "would be ignored without a word: record the run again rather than editing its dump");
    }
  };
#define PAL_COMPARE_ARRAY(name, ...)                                                                      \
  if (records_array(d, RecordArray::name)) {                                                             \
    TensorMap exported;                                                                                  \
    export_array(exported, dump_name(record_array_info(RecordArray::name).dump), p.name,                 \
                 record_array_shape(RecordArray::name, d));                                              \
    compare(exported);                                                                                   \
  }
  PAL_RECORD_ARRAYS(PAL_COMPARE_ARRAY)
#undef PAL_COMPARE_ARRAY
}

}  // namespace

std::uint64_t run_dump_recording_bytes(const RecordDims& d, bool with_reference) {
  // export_recording's tensors: one per plain array, one per record field, and the raw buffer.
  std::uint64_t bytes = record_layout(d).total_bytes;
#define PAL_FIELD_BYTES(field, type, dump, meaning) +std::uint64_t(element_size_bytes(dump_type_of<type>()))
  const std::uint64_t token_record_dump_bytes = 0 PAL_TOKEN_RECORD_FIELDS(PAL_FIELD_BYTES);
  const std::uint64_t load_record_dump_bytes = 0 PAL_LOAD_RECORD_FIELDS(PAL_FIELD_BYTES);
#undef PAL_FIELD_BYTES
  for (int i = 0; i < kNumRecordArrays; ++i) {
    const RecordArrayInfo& info = record_array_info(static_cast<RecordArray>(i));
    if (!records_array(d, info.array)) continue;
    const auto numel = static_cast<std::uint64_t>(record_array_shape(info.array, d).numel());
    switch (info.element) {
      case RecordElement::f32:
      case RecordElement::i32: bytes += numel * 4; break;
      case RecordElement::token_record: bytes += numel * token_record_dump_bytes; break;
      case RecordElement::load_record: bytes += numel * load_record_dump_bytes; break;
    }
  }
  // export_reference's tensors: [tb, head_size] x 2, [tb, tokens] x 3, [tb] x 2, all f32.
  if (with_reference)
    bytes += std::uint64_t(d.num_thread_blocks()) *
             (2 * std::uint64_t(d.head_size) + 3 * std::uint64_t(d.tokens_per_thread_block) + 2) * 4;
  return bytes;
}

void check_recorded_indices(const Recording& recording, const Scenario& s, const Inputs& inputs) {
  const RecordDims& d = recording.dims();
  const KernelGeometry g{dtype_size_bytes(s.dtype), s.head_size, s.block_size, s.num_threads,
                         s.kv_cache_element_size()};
  const std::int64_t num_blocks = inputs.key_cache.shape.at(0);
  auto fail = [](std::int64_t tb, const std::string& what) {
    throw ScenarioError("recording: thread block " + std::to_string(tb) + ": " + what +
                        "; the recording is damaged or was written for other inputs");
  };
  auto in_range = [](std::int64_t value, std::int64_t low, std::int64_t high) { return value >= low && value < high; };
  // Iterations of a warp's kv_block loop: the thread_block's kv_blocks dealt over its warps.
  const int kv_iterations = divide_round_up(d.tokens_per_thread_block / std::max(d.block_size, 1), g.num_warps());
  // Token positions run to the end of the longest sequence's last kv_block (its padding slots).
  const std::int64_t padded_seq_len = std::int64_t(divide_round_up(s.max_seq_len(), s.block_size)) * s.block_size;
  for (std::int64_t tb = 0; tb < d.num_thread_blocks(); ++tb) {
    const ThreadBlockRecord record(recording, tb);
    for (int slot = 0; slot < d.tokens_per_thread_block; ++slot) {
      const TokenRecord& token = record.token(slot);
      if (token.masked == -1) continue;  // a slot no thread group reached (0xFF bytes)
      if (!in_range(token.masked, 0, 2) || !in_range(token.skipped, 0, 2) || !in_range(token.warp, 0, g.num_warps()) ||
          !in_range(token.thread_group, 0, g.num_thread_groups()) || !in_range(token.lane, 0, kWarpSize) ||
          !in_range(token.physical_block, 0, num_blocks) || !in_range(token.block_offset, 0, g.block_size) ||
          !in_range(token.iteration, 0, kv_iterations) || !in_range(token.token_idx, 0, padded_seq_len))
        fail(tb, "token slot " + std::to_string(slot) +
                     " holds a warp, lane, block, slot or token position outside the kernel's range");
    }
    for (int thread = 0; thread < d.num_threads; ++thread) {
      const int count = record.load_count(thread);
      if (count != -1 && !in_range(count, 0, std::int64_t(d.max_loads_per_thread) + 1))
        fail(tb, "thread " + std::to_string(thread) + " claims " + std::to_string(count) + " loads (at most " +
                     std::to_string(d.max_loads_per_thread) + ")");
      for (const LoadRecord& load : record.loads(thread)) {
        const Tensor* tensor = nullptr;
        int num_elements = g.vec_size(), num_vecs = 0, num_iterations = kv_iterations;
        switch (load.kind) {
          case LoadKind::query:
            tensor = &inputs.query;
            num_vecs = g.head_size / g.vec_size();
            num_iterations = g.num_vecs_per_thread();  // a query load's "iteration" is its q_vecs column
            break;
          case LoadKind::key: tensor = &inputs.key_cache; num_vecs = g.num_vecs_per_thread(); break;
          case LoadKind::value:
            tensor = &inputs.value_cache;
            num_elements = g.v_vec_size();
            num_vecs = g.num_rows_per_thread();
            break;
          case LoadKind::none: break;
        }
        if (tensor == nullptr || !in_range(load.iteration, 0, num_iterations) || !in_range(load.vec_idx, 0, num_vecs) ||
            !in_range(load.element_offset, 0, tensor->numel() - num_elements + 1))
          fail(tb, "thread " + std::to_string(thread) + " has a load of kind " + std::to_string(int(load.kind)) +
                       " at element " + std::to_string(load.element_offset) + ", vec " + std::to_string(load.vec_idx) +
                       " outside its tensor");
      }
    }
  }
}

RunDumpContents run_dump_contents(const KernelRun& run, const ReferenceRun* reference) {
  RunDumpContents contents;
  TensorMap& tensors = contents.tensors;
  std::map<std::string, std::string>& metadata = contents.metadata;
  tensors["output"] = run.output;
  if (run.version == KernelVersion::v2) {
    tensors["tmp_out"] = run.tmp_out;
    tensors["exp_sums"] = run.exp_sums;
    tensors["max_logits"] = run.max_logits;
  }
  if (run.version == KernelVersion::grouped) {
    tensors["split_partial_out"] = run.split_partial_out;
    tensors["split_max_logits"] = run.split_max_logits;
    tensors["split_exp_sums"] = run.split_exp_sums;
    reference = nullptr;  // the paged reference's tensors have v1/v2's shapes; a grouped run has none
  }
  metadata["version"] = std::string(version_name(run.version));
  metadata["backend"] = std::string(backend_name(run.backend));
  metadata["device"] = run.device_name;
  if (reference) tensors[kReferencePrefix + std::string("output")] = reference->output;
  if (run.recording) {
    metadata["record_dims"] = dims_to_json(run.recording->dims()).dump();
    export_recording(tensors, *run.recording);
    if (reference) export_reference(tensors, *reference, run.recording->dims());
  }
  return contents;
}

void write_run_dump(const std::string& path, const Inputs& inputs, const KernelRun& run, const ReferenceRun* reference) {
  const RunDumpContents contents = run_dump_contents(run, reference);
  save_inputs(path, run.scenario, inputs, contents.tensors, contents.metadata);
}

LoadedDump read_run_dump(const std::string& path, std::size_t max_recording_bytes) {
  TensorMap extra;
  std::map<std::string, std::string> metadata;
  LoadedDump dump{load_checked_inputs(path, &extra, &metadata), std::nullopt};
  const Scenario& scenario = dump.inputs.scenario();
  auto output = extra.find("output");
  if (output == extra.end()) return dump;

  auto meta = [&](const char* key) -> std::string {
    auto it = metadata.find(key);
    return it == metadata.end() ? std::string() : it->second;
  };
  KernelRun run;
  run.scenario = scenario;
  const std::string version = meta("version");
  if (version == "v1") run.version = KernelVersion::v1;
  else if (version == "v2") run.version = KernelVersion::v2;
  else if (version == "grouped") run.version = KernelVersion::grouped;
  else throw ScenarioError("dump " + path + ": metadata 'version' is '" + version + "', expected v1, v2 or grouped");
  run.scenario.version = run.version;
  if (!parse_backend(meta("backend"), run.backend)) run.backend = Backend::emulator;
  run.device_name = meta("device");
  const std::vector<std::int64_t> out_shape{scenario.num_seqs, scenario.num_heads, scenario.head_size};
  if (output->second.shape != out_shape || output->second.type != element_type_of(scenario.dtype))
    throw ScenarioError("dump " + path + ": 'output' is " + output->second.shape_string() + " " +
                        std::string(element_type_name(output->second.type)) + ", expected [" +
                        std::to_string(scenario.num_seqs) + ", " + std::to_string(scenario.num_heads) + ", " +
                        std::to_string(scenario.head_size) + "] " +
                        std::string(element_type_name(element_type_of(scenario.dtype))));
  run.output = output->second;
  if (run.version == KernelVersion::v2) {
    for (const char* name : {"tmp_out", "exp_sums", "max_logits"})
      if (!extra.count(name)) throw ScenarioError("dump " + path + ": a v2 dump must hold '" + name + "'");
    run.tmp_out = extra["tmp_out"];
    run.exp_sums = extra["exp_sums"];
    run.max_logits = extra["max_logits"];
  }
  auto raw = extra.find(kRecordingBufferName);
  if (raw != extra.end()) {
    const std::string dims_text = meta("record_dims");
    nlohmann::json dims_json = nlohmann::json::parse(dims_text, nullptr, false);
    if (dims_json.is_discarded() || !dims_json.is_object())
      throw ScenarioError("dump " + path + ": metadata 'record_dims' is missing or not JSON");
    const RecordDims dims = dims_from_json(dims_json, run.version);
    RecordDims expected_dims;
    if (run.version == KernelVersion::grouped) {
      // The plan depends on the device that ran it: rebuilt from the dims and checked against the
      // scenario (grouped_plan_from_dims), then the split tensors must have its shapes.
      try {
        run.grouped_plan = grouped_plan_from_dims(run.scenario, dims);
      } catch (const ScenarioError& e) {
        throw ScenarioError("dump " + path + ": " + e.what());
      }
      expected_dims = grouped_record_dims(run.scenario, run.grouped_plan);
      const std::int64_t splits = run.grouped_plan.num_splits;
      const std::vector<std::int64_t> state_shape{scenario.num_seqs, scenario.num_heads, splits};
      const std::vector<std::int64_t> partial_shape{scenario.num_seqs, scenario.num_heads, splits, scenario.head_size};
      for (const auto& [name, shape] : {std::pair{"split_partial_out", partial_shape},
                                        std::pair{"split_max_logits", state_shape},
                                        std::pair{"split_exp_sums", state_shape}}) {
        const auto found = extra.find(name);
        if (found == extra.end() || found->second.type != ElementType::f32 || found->second.shape != shape)
          throw ScenarioError("dump " + path + ": a grouped dump must hold '" + name +
                              "' as f32 [num_seqs, num_heads, num_splits" + (shape.size() == 4 ? ", head_size" : "") +
                              "] with the plan's " + std::to_string(splits) + " splits");
      }
      run.split_partial_out = extra["split_partial_out"];
      run.split_max_logits = extra["split_max_logits"];
      run.split_exp_sums = extra["split_exp_sums"];
    } else {
      expected_dims = record_dims(run.scenario);
    }
    const RecordLayout layout = record_layout(expected_dims);
#define PAL_CHECK_DIM(name, meaning)                                                                         \
  if (dims.name != layout.dims.name)                                                                         \
    throw ScenarioError("dump " + path + ": record_dims " #name " = " + std::to_string(dims.name) + ", but the " \
                        "scenario's recording has " + std::to_string(layout.dims.name));
    PAL_RECORD_DIMS_FIELDS(PAL_CHECK_DIM)
#undef PAL_CHECK_DIM
    if (raw->second.type != ElementType::u8 || std::size_t(raw->second.numel()) != layout.total_bytes)
      throw ScenarioError("dump " + path + ": kernel.recording_buffer holds " + std::to_string(raw->second.numel()) +
                          " bytes, the layout needs " + std::to_string(layout.total_bytes) +
                          " (a dump recorded with another version of the record schema: record it again)");
    check_exported_tensors(path, extra, layout.dims);
    // The limit a run's recording has, before a second copy of the buffer is allocated.
    try {
      check_recording_fits(layout, max_recording_bytes);
    } catch (const ScenarioError& e) {
      throw ScenarioError("dump " + path + ": " + e.what());
    }
    Recording recording(layout);
    std::memcpy(recording.data(), raw->second.bytes.data(), layout.total_bytes);
    extra.erase(raw);  // the copy in `recording` is the one kept
    check_exports_match_buffer(path, extra, recording);
    try {
      check_recorded_indices(recording, run.scenario, dump.inputs.inputs());
    } catch (const ScenarioError& e) {
      throw ScenarioError("dump " + path + ": " + e.what());
    }
    run.recording = std::move(recording);
  }
  dump.run = std::move(run);
  return dump;
}

}  // namespace pal
