// safetensors reading and writing (format in safetensors.h), and kernel inputs stored in it.
//
// The reader trusts nothing in the file: every length is compared with the file size before it is
// used to allocate or seek, the header's JSON is parsed with bounded depth and no duplicate keys
// (untrusted_json.h), and names from the file appear in messages only as short escaped excerpts,
// so a corrupted or hostile file becomes a ScenarioError, never a crash, a huge allocation or an
// out-of-bounds read.
#include "core/safetensors.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/input_file.h"
#include "core/output_file.h"
#include "core/untrusted_json.h"

namespace pal {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this reader copies bytes as they are");

namespace {

using json = nlohmann::json;

// The format allows headers up to 100 MB, but parsing one takes ~20x its size in memory. The files
// this project reads (kernel inputs, pal-run's dumps) have headers of a few KB, under 1 MiB even
// with 65,535 sequences in the scenario metadata, so the reader stops far below the format's limit.
constexpr std::uint64_t kMaxHeaderBytes = std::uint64_t{16} << 20;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw ScenarioError("safetensors file '" + path + "': " + what);
}

bool parse_element_type(std::string_view name, ElementType& type) {
  for (ElementType candidate : {ElementType::f32, ElementType::f16, ElementType::bf16, ElementType::i32,
                                ElementType::i64, ElementType::u8, ElementType::f8_e4m3, ElementType::f8_e5m2}) {
    if (name == element_type_name(candidate)) {
      type = candidate;
      return true;
    }
  }
  return false;
}

std::string short_dump(const json& value) { return describe_json(value); }

// A non-negative JSON integer as uint64, or nullopt.
std::optional<std::uint64_t> non_negative_integer(const json& value) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0)
    return static_cast<std::uint64_t>(value.get<std::int64_t>());
  return std::nullopt;
}

struct HeaderEntry {
  std::string name;
  ElementType type;
  std::vector<std::int64_t> shape;
  std::uint64_t begin;
  std::uint64_t end;
};

HeaderEntry parse_entry(const std::string& path, const std::string& name, const json& entry, std::uint64_t data_size) {
  const std::string where = "tensor '" + quote_excerpt(name) + "'";
  if (!entry.is_object()) fail(path, where + " must be described by a JSON object, got " + short_dump(entry));
  for (const auto& item : entry.items())
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets")
      fail(path, where + " has an unknown field '" + quote_excerpt(item.key()) + "'; expected dtype, shape, data_offsets");
  if (!entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
    fail(path, where + " must have the fields dtype, shape and data_offsets");

  HeaderEntry out{name, ElementType::f32, {}, 0, 0};
  const json& dtype = entry["dtype"];
  if (!dtype.is_string()) fail(path, where + " has dtype " + short_dump(dtype) + "; expected a string such as \"F16\"");
  if (!parse_element_type(dtype.get<std::string>(), out.type))
    fail(path, where + " has dtype " + short_dump(dtype) + ", which this project does not read; supported: F32, F16, BF16, I32, I64, U8, F8_E4M3, F8_E5M2");

  const json& shape = entry["shape"];
  if (!shape.is_array()) fail(path, where + " has shape " + short_dump(shape) + "; expected an array of sizes");
  if (shape.size() > 16) fail(path, where + " has " + std::to_string(shape.size()) + " dimensions; at most 16 are read");
  // Bounded by the data section, so the product cannot overflow before the size check below.
  std::uint64_t numel = 1;
  bool too_big = false;
  for (const json& dim : shape) {
    const auto size = non_negative_integer(dim);
    if (!size) fail(path, where + " has shape " + short_dump(shape) + "; every size must be a non-negative integer");
    if (*size > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail(path, where + " has a dimension of " + std::to_string(*size) + ", beyond any file size");
    out.shape.push_back(static_cast<std::int64_t>(*size));
    if (*size != 0 && numel > data_size / *size) too_big = true;  // larger than the data: rejected below
    numel *= *size;
  }

  const json& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !non_negative_integer(offsets[0]) ||
      !non_negative_integer(offsets[1]))
    fail(path, where + " has data_offsets " + short_dump(offsets) + "; expected [begin, end], two non-negative integers");
  out.begin = *non_negative_integer(offsets[0]);
  out.end = *non_negative_integer(offsets[1]);
  if (out.begin > out.end)
    fail(path, where + " has data_offsets [" + std::to_string(out.begin) + ", " + std::to_string(out.end) +
                   "]; begin must not exceed end");
  if (out.end > data_size)
    fail(path, where + " has data_offsets [" + std::to_string(out.begin) + ", " + std::to_string(out.end) +
                   "] past the end of the data section (" + std::to_string(data_size) + " bytes; truncated file?)");
  const auto element_size = static_cast<std::uint64_t>(element_size_bytes(out.type));
  if (too_big || numel > data_size / element_size || out.end - out.begin != numel * element_size)
    fail(path, where + " has shape " + short_dump(shape) + " of " + std::string(element_type_name(out.type)) +
                   " but data_offsets span " + std::to_string(out.end - out.begin) +
                   " bytes; the shape needs numel x element size bytes");
  return out;
}

}  // namespace

namespace {

// Reads `bytes` bytes at `offset` of the file (offset + bytes <= the file's size); throws on failure.
using ReadAt = std::function<void(std::uint64_t offset, void* out, std::size_t bytes)>;

SafetensorsFile read_safetensors_from(const std::string& path, std::uint64_t file_size, const ReadAt& read_at) {
  if (file_size < 8)
    fail(path, "is " + std::to_string(file_size) +
                   " bytes long, shorter than the 8-byte header length every safetensors file starts with");

  std::array<unsigned char, 8> length_bytes{};
  read_at(0, length_bytes.data(), 8);
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | length_bytes[static_cast<std::size_t>(i)];
  if (header_size > file_size - 8)
    fail(path, "header length " + std::to_string(header_size) + " runs past the end of the file (" +
                   std::to_string(file_size) + " bytes; truncated, or not a safetensors file)");
  if (header_size > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(header_size) + " exceeds this reader's limit of " +
                   describe_file_size(kMaxHeaderBytes) + " (kernel inputs and dumps need a few KB)");

  std::string header_text(static_cast<std::size_t>(header_size), '\0');
  read_at(8, header_text.data(), header_text.size());
  json header;
  try {
    header = parse_untrusted_json(header_text, JsonLimits{kMaxJsonDepth, static_cast<std::size_t>(kMaxHeaderBytes)});
  } catch (const ScenarioError& e) {
    fail(path, std::string("header ") + e.what());
  }
  if (!header.is_object()) fail(path, "header must be a JSON object, got " + short_dump(header));

  const std::uint64_t data_size = file_size - 8 - header_size;
  SafetensorsFile result;
  std::vector<HeaderEntry> entries;
  for (const auto& item : header.items()) {
    if (item.key() == "__metadata__") {
      if (item.value().is_null()) continue;
      if (!item.value().is_object()) fail(path, "__metadata__ must be an object of strings, got " + short_dump(item.value()));
      for (const auto& meta : item.value().items()) {
        if (!meta.value().is_string())
          fail(path, "__metadata__ entry '" + quote_excerpt(meta.key()) + "' must be a string, got " +
                         short_dump(meta.value()));
        result.metadata[meta.key()] = meta.value().get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, item.key(), item.value(), data_size));
  }

  // Tensors must not share bytes: a file that aliases two tensors was not written by a safetensors
  // writer, and writing one of them would silently change the other.
  std::vector<const HeaderEntry*> by_offset;
  for (const HeaderEntry& entry : entries) by_offset.push_back(&entry);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      fail(path, "tensors '" + quote_excerpt(by_offset[i - 1]->name) + "' and '" + quote_excerpt(by_offset[i]->name) +
                     "' overlap in the data section");

  const std::uint64_t data_start = 8 + header_size;
  for (const HeaderEntry& entry : entries) {
    Tensor tensor(entry.type, entry.shape);
    read_at(data_start + entry.begin, tensor.bytes.data(), tensor.bytes.size());
    result.tensors.emplace(entry.name, std::move(tensor));
  }
  return result;
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  const InputFile file(path, "safetensors file");
  return read_safetensors_from(path, file.size(), [&file](std::uint64_t offset, void* out, std::size_t bytes) {
    file.read_at(offset, out, bytes);
  });
}

SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& name) {
  return read_safetensors_from(name, bytes.size(), [bytes](std::uint64_t offset, void* out, std::size_t count) {
    std::memcpy(out, bytes.data() + offset, count);
  });
}

void write_safetensors(const std::string& path, const SafetensorsFile& contents) {
  TensorRefs tensors;
  for (const auto& [name, tensor] : contents.tensors) tensors[name] = &tensor;
  write_safetensors(path, tensors, contents.metadata);
}

void write_safetensors(const std::string& path, const TensorRefs& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  std::uint64_t offset = 0;
  for (const auto& [name, tensor_ptr] : tensors) {
    const Tensor& tensor = *tensor_ptr;
    if (name == "__metadata__") fail(path, "a tensor cannot be named __metadata__ (reserved for the metadata)");
    const auto expected = static_cast<std::uint64_t>(tensor.numel()) * static_cast<std::uint64_t>(element_size_bytes(tensor.type));
    if (tensor.bytes.size() != expected)
      fail(path, "tensor '" + name + "' holds " + std::to_string(tensor.bytes.size()) + " bytes but its shape " +
                     tensor.shape_string() + " needs " + std::to_string(expected));
    header[name] = {{"dtype", std::string(element_type_name(tensor.type))},
                    {"shape", tensor.shape},
                    {"data_offsets", {offset, offset + expected}}};
    offset += expected;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;

  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const json::exception& e) {
    fail(path, std::string("cannot encode the header (names and metadata must be UTF-8): ") + e.what());
  }
  // Spaces after the JSON are legal and make the data section start 8-byte aligned.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  // Through OutputFile (output_file.h): a failed write leaves whatever was at `path` untouched.
  OutputFile file(path);
  std::array<char, 8> length_bytes{};
  const std::uint64_t header_size = header_text.size();
  for (std::size_t i = 0; i < 8; ++i) length_bytes[i] = static_cast<char>((header_size >> (8 * i)) & 0xffu);
  file.write(length_bytes.data(), length_bytes.size());
  file.write(header_text);
  for (const auto& [name, tensor] : tensors) file.write(tensor->bytes.data(), tensor->bytes.size());
  file.commit();
}

// ---- kernel inputs ---------------------------------------------------------------------------------

namespace {

std::string format_scale(float value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", static_cast<double>(value));  // 9 digits: exact for float
  return text;
}

// PyTorch users naturally save index tensors as int64; the kernel takes int32.
Tensor narrow_to_i32(const std::string& path, const std::string& name, Tensor tensor) {
  if (tensor.type == ElementType::i32) return tensor;
  if (tensor.type != ElementType::i64)
    fail(path, "tensor '" + name + "' holds " + std::string(element_type_name(tensor.type)) + " elements; expected I32 (or I64)");
  Tensor narrow(ElementType::i32, tensor.shape);
  const std::int64_t* wide = tensor.data<std::int64_t>();
  for (std::int64_t i = 0; i < tensor.numel(); ++i) {
    if (wide[i] < std::numeric_limits<std::int32_t>::min() || wide[i] > std::numeric_limits<std::int32_t>::max())
      fail(path, "tensor '" + name + "' element " + std::to_string(i) + " = " + std::to_string(wide[i]) +
                     " does not fit in int32");
    narrow.data<std::int32_t>()[i] = static_cast<std::int32_t>(wide[i]);
  }
  return narrow;
}

DType dtype_of_tensor(const std::string& path, const std::string& name, const Tensor& tensor) {
  switch (tensor.type) {
    case ElementType::f32: return DType::fp32;
    case ElementType::f16: return DType::fp16;
    case ElementType::bf16: return DType::bf16;
    default: break;
  }
  fail(path, "tensor '" + name + "' holds " + std::string(element_type_name(tensor.type)) +
                 " elements; expected F32, F16 or BF16");
}

// The cache dtype of a key cache: fp8 from safetensors' own F8 dtypes, otherwise the query's.
KvCacheDtype kv_cache_dtype_of_tensor(const std::string& path, const Tensor& key_cache, DType query_dtype) {
  if (key_cache.type == ElementType::f8_e4m3) return KvCacheDtype::fp8_e4m3;
  if (key_cache.type == ElementType::f8_e5m2) return KvCacheDtype::fp8_e5m2;
  if (dtype_of_tensor(path, kKeyCacheName, key_cache) != query_dtype)
    fail(path, "tensor 'key_cache' holds " + std::string(element_type_name(key_cache.type)) +
                   " elements but 'query' holds " + std::string(element_type_name(element_type_of(query_dtype))) +
                   "; the KV cache stores the query's dtype, F8_E4M3 or F8_E5M2");
  return KvCacheDtype::automatic;
}

// For files written without our metadata: every scenario field follows from a tensor (fp8 scales
// are then 1 and attention is dense: nothing in the tensors says otherwise).
Scenario scenario_from_tensors(const std::string& path, const Inputs& in) {
  if (in.query.shape.size() != 3)
    fail(path, "tensor 'query' has shape " + in.query.shape_string() + "; expected [num_seqs, num_heads, head_size]");
  if (in.key_cache.shape.size() != 5)
    fail(path, "tensor 'key_cache' has shape " + in.key_cache.shape_string() +
                   "; expected [num_blocks, num_kv_heads, head_size/x, block_size, x]");
  if (in.seq_lens.shape.size() != 1)
    fail(path, "tensor 'seq_lens' has shape " + in.seq_lens.shape_string() + "; expected [num_seqs]");
  auto to_int = [&path](std::int64_t value, const std::string& what) {
    if (value > std::numeric_limits<int>::max()) fail(path, what + " = " + std::to_string(value) + " is out of range");
    return static_cast<int>(value);
  };
  Scenario s;
  s.num_seqs = to_int(in.query.shape[0], "num_seqs (query dimension 0)");
  s.num_heads = to_int(in.query.shape[1], "num_heads (query dimension 1)");
  s.head_size = to_int(in.query.shape[2], "head_size (query dimension 2)");
  s.num_blocks = to_int(in.key_cache.shape[0], "num_blocks (key_cache dimension 0)");
  s.num_kv_heads = to_int(in.key_cache.shape[1], "num_kv_heads (key_cache dimension 1)");
  s.block_size = to_int(in.key_cache.shape[3], "block_size (key_cache dimension 3)");
  s.dtype = dtype_of_tensor(path, kQueryName, in.query);
  s.kv_cache_dtype = kv_cache_dtype_of_tensor(path, in.key_cache, s.dtype);
  s.seq_lens.assign(in.seq_lens.data<std::int32_t>(), in.seq_lens.data<std::int32_t>() + in.seq_lens.numel());
  s.alibi = in.alibi_slopes.numel() > 0;
  return s;
}

}  // namespace

void save_inputs(const std::string& path, const Scenario& scenario, const Inputs& inputs,
                 const std::map<std::string, Tensor>& extra_tensors,
                 const std::map<std::string, std::string>& extra_metadata) {
  validate_inputs(scenario, inputs);
  // The tensors are referred to, not copied: a recorded dump's tensors can take gigabytes, and a
  // copy here would double the peak memory of pal-run --output.
  TensorRefs tensors;
  tensors[kQueryName] = &inputs.query;
  tensors[kKeyCacheName] = &inputs.key_cache;
  tensors[kValueCacheName] = &inputs.value_cache;
  tensors[kBlockTablesName] = &inputs.block_tables;
  tensors[kSeqLensName] = &inputs.seq_lens;
  if (inputs.alibi_slopes.numel() > 0) tensors[kAlibiSlopesName] = &inputs.alibi_slopes;
  for (const auto& [name, tensor] : extra_tensors) {
    if (!tensors.emplace(name, &tensor).second || name == kAlibiSlopesName)
      fail(path, "extra tensor '" + name + "' collides with an input tensor of the same name");
  }
  std::map<std::string, std::string> metadata = extra_metadata;
  if (metadata.count(kScaleKey) || metadata.count(kScenarioKey))
    fail(path, "extra metadata must not use the reserved keys 'scale' and 'scenario'");
  metadata[kScaleKey] = format_scale(inputs.scale);
  metadata[kScenarioKey] = scenario_to_json(scenario).dump();
  write_safetensors(path, tensors, metadata);
}

std::pair<Scenario, Inputs> load_inputs(const std::string& path, std::map<std::string, Tensor>* extra_tensors) {
  return inputs_from_safetensors(read_safetensors(path), path, extra_tensors);
}

std::pair<Scenario, Inputs> inputs_from_safetensors(SafetensorsFile file, const std::string& path,
                                                    std::map<std::string, Tensor>* extra_tensors) {
  for (const char* name : {kQueryName, kKeyCacheName, kValueCacheName, kBlockTablesName, kSeqLensName})
    if (!file.tensors.count(name))
      fail(path, std::string("is missing the tensor '") + name +
                     "'; kernel inputs need query, key_cache, value_cache, block_tables and seq_lens "
                     "(alibi_slopes optional)");

  auto take = [&file](const char* name) {
    auto node = file.tensors.extract(name);
    return std::move(node.mapped());
  };
  Inputs inputs;
  inputs.query = take(kQueryName);
  inputs.key_cache = take(kKeyCacheName);
  inputs.value_cache = take(kValueCacheName);
  inputs.block_tables = narrow_to_i32(path, kBlockTablesName, take(kBlockTablesName));
  inputs.seq_lens = narrow_to_i32(path, kSeqLensName, take(kSeqLensName));
  inputs.alibi_slopes = file.tensors.count(kAlibiSlopesName) ? take(kAlibiSlopesName) : Tensor(ElementType::f32, {0});

  Scenario scenario;
  if (auto found = file.metadata.find(kScenarioKey); found != file.metadata.end()) {
    json parsed;
    try {
      parsed = parse_untrusted_json(found->second);
    } catch (const ScenarioError& e) {
      fail(path, std::string("metadata 'scenario' ") + e.what());
    }
    try {
      scenario = scenario_from_json(parsed);
    } catch (const ScenarioError& e) {
      fail(path, std::string("metadata 'scenario': ") + e.what());
    }
  } else {
    scenario = scenario_from_tensors(path, inputs);
  }

  if (auto found = file.metadata.find(kScaleKey); found != file.metadata.end()) {
    const std::string& text = found->second;
    float scale = 0.0f;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), scale);
    if (error != std::errc{} || end != text.data() + text.size())
      fail(path, "metadata 'scale' = '" + quote_excerpt(text) + "' is not a number");
    inputs.scale = scale;
    if (!scenario.scale && scale != scenario.effective_scale()) scenario.scale = scale;
  } else {
    inputs.scale = scenario.effective_scale();
  }
  // The kernel's other scalar arguments come from the scenario, which validate_inputs checks them by.
  inputs.k_scale = scenario.k_scale;
  inputs.v_scale = scenario.v_scale;
  inputs.block_sparse = scenario.block_sparse;

  try {
    validate_inputs(scenario, inputs);
    refuse_non_finite_inputs(scenario, inputs);
  } catch (const ScenarioError& e) {
    fail(path, e.what());
  }
  if (extra_tensors) *extra_tensors = std::move(file.tensors);
  return {std::move(scenario), std::move(inputs)};
}

CheckedInputs load_checked_inputs(const std::string& path, std::map<std::string, Tensor>* extra_tensors,
                                  std::map<std::string, std::string>* metadata) {
  SafetensorsFile file = read_safetensors(path);
  if (metadata) *metadata = file.metadata;
  auto [scenario, inputs] = inputs_from_safetensors(std::move(file), path, extra_tensors);  // validated there
  return CheckedInputs(std::move(scenario), std::move(inputs));
}

}  // namespace pal
