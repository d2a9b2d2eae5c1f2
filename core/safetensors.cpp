// safetensors reading and writing (format in safetensors.h), and kernel inputs stored in it.
//
// The reader trusts nothing in the file: every length is compared with the file size before it is
// used to allocate or seek, so a corrupted header becomes a ScenarioError, never a crash, a huge
// allocation or an out-of-bounds read.
#include "core/safetensors.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

namespace pal {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this reader copies bytes as they are");

namespace {

using json = nlohmann::json;

// The Python/Rust implementation refuses headers above 100 MB; so do we, before allocating one.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

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

std::string short_dump(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

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
  const std::string where = "tensor '" + name + "'";
  if (!entry.is_object()) fail(path, where + " must be described by a JSON object, got " + short_dump(entry));
  for (const auto& item : entry.items())
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets")
      fail(path, where + " has an unknown field '" + item.key() + "'; expected dtype, shape, data_offsets");
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

SafetensorsFile read_safetensors(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) fail(path, "does not exist");
  if (!std::filesystem::is_regular_file(path, error)) fail(path, "is not a regular file");
  const std::uintmax_t file_size = std::filesystem::file_size(path, error);
  if (error) fail(path, "cannot read its size: " + error.message());
  std::ifstream file(path, std::ios::binary);
  if (!file) fail(path, "cannot be opened for reading");
  if (file_size < 8)
    fail(path, "is " + std::to_string(file_size) +
                   " bytes long, shorter than the 8-byte header length every safetensors file starts with");

  std::array<unsigned char, 8> length_bytes{};
  file.read(reinterpret_cast<char*>(length_bytes.data()), 8);
  if (!file) fail(path, "cannot read the header length");
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | length_bytes[static_cast<std::size_t>(i)];
  if (header_size > file_size - 8)
    fail(path, "header length " + std::to_string(header_size) + " runs past the end of the file (" +
                   std::to_string(file_size) + " bytes; truncated, or not a safetensors file)");
  if (header_size > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(header_size) + " exceeds the 100 MB limit of the format");

  std::string header_text(static_cast<std::size_t>(header_size), '\0');
  file.read(header_text.data(), static_cast<std::streamsize>(header_size));
  if (!file) fail(path, "cannot read the " + std::to_string(header_size) + "-byte header");
  json header;
  try {
    header = json::parse(header_text);
  } catch (const json::exception& e) {
    fail(path, std::string("header is not valid JSON: ") + e.what());
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
          fail(path, "__metadata__ entry '" + meta.key() + "' must be a string, got " + short_dump(meta.value()));
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
      fail(path, "tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap in the data section");

  const std::uint64_t data_start = 8 + header_size;
  for (const HeaderEntry& entry : entries) {
    Tensor tensor(entry.type, entry.shape);
    file.seekg(static_cast<std::streamoff>(data_start + entry.begin));
    file.read(reinterpret_cast<char*>(tensor.bytes.data()), static_cast<std::streamsize>(tensor.bytes.size()));
    if (!file) fail(path, "cannot read the data of tensor '" + entry.name + "'");
    result.tensors.emplace(entry.name, std::move(tensor));
  }
  return result;
}

void write_safetensors(const std::string& path, const SafetensorsFile& contents) {
  json header = json::object();
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : contents.tensors) {
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
  if (!contents.metadata.empty()) header["__metadata__"] = contents.metadata;

  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const json::exception& e) {
    fail(path, std::string("cannot encode the header (names and metadata must be UTF-8): ") + e.what());
  }
  // Spaces after the JSON are legal and make the data section start 8-byte aligned.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  // Write to a temporary name and rename, so a failed write never leaves half a file at `path`.
  const std::string temporary = path + ".partial";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    if (!file) fail(path, "cannot be opened for writing");
    std::array<char, 8> length_bytes{};
    std::uint64_t header_size = header_text.size();
    for (std::size_t i = 0; i < 8; ++i) length_bytes[i] = static_cast<char>((header_size >> (8 * i)) & 0xffu);
    file.write(length_bytes.data(), 8);
    file.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
    for (const auto& [name, tensor] : contents.tensors)
      file.write(reinterpret_cast<const char*>(tensor.bytes.data()), static_cast<std::streamsize>(tensor.bytes.size()));
    file.flush();
    if (!file) {
      file.close();
      std::remove(temporary.c_str());
      fail(path, "writing failed (disk full or no permission?)");
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::remove(temporary.c_str());
    fail(path, "cannot be replaced: " + error.message());
  }
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
  SafetensorsFile file;
  file.tensors[kQueryName] = inputs.query;
  file.tensors[kKeyCacheName] = inputs.key_cache;
  file.tensors[kValueCacheName] = inputs.value_cache;
  file.tensors[kBlockTablesName] = inputs.block_tables;
  file.tensors[kSeqLensName] = inputs.seq_lens;
  if (inputs.alibi_slopes.numel() > 0) file.tensors[kAlibiSlopesName] = inputs.alibi_slopes;
  for (const auto& [name, tensor] : extra_tensors) {
    if (!file.tensors.emplace(name, tensor).second || name == kAlibiSlopesName)
      fail(path, "extra tensor '" + name + "' collides with an input tensor of the same name");
  }
  file.metadata = extra_metadata;
  if (file.metadata.count(kScaleKey) || file.metadata.count(kScenarioKey))
    fail(path, "extra metadata must not use the reserved keys 'scale' and 'scenario'");
  file.metadata[kScaleKey] = format_scale(inputs.scale);
  file.metadata[kScenarioKey] = scenario_to_json(scenario).dump();
  write_safetensors(path, file);
}

std::pair<Scenario, Inputs> load_inputs(const std::string& path, std::map<std::string, Tensor>* extra_tensors) {
  SafetensorsFile file = read_safetensors(path);
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
      parsed = json::parse(found->second);
    } catch (const json::exception& e) {
      fail(path, std::string("metadata 'scenario' is not valid JSON: ") + e.what());
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
      fail(path, "metadata 'scale' = '" + text + "' is not a number");
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
  } catch (const ScenarioError& e) {
    fail(path, e.what());
  }
  if (extra_tensors) *extra_tensors = std::move(file.tensors);
  return {std::move(scenario), std::move(inputs)};
}

CheckedInputs load_checked_inputs(const std::string& path, std::map<std::string, Tensor>* extra_tensors) {
  auto [scenario, inputs] = load_inputs(path, extra_tensors);  // validated there
  return CheckedInputs(std::move(scenario), std::move(inputs));
}

}  // namespace pal
