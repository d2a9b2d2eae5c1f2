#include "visualizer/model/memory_lookup.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "visualizer/model/format.h"
#include "kernels/record_view.h"

namespace pal::viz {

std::string_view tensor_name(TensorKind tensor) {
  switch (tensor) {
    case TensorKind::query: return "q";
    case TensorKind::key_cache: return "k_cache";
    case TensorKind::value_cache: return "v_cache";
  }
  return "?";
}

TensorKind tensor_of(LoadKind kind) {
  switch (kind) {
    case LoadKind::key: return TensorKind::key_cache;
    case LoadKind::value: return TensorKind::value_cache;
    default: break;
  }
  return TensorKind::query;
}

LoadIndex::LoadIndex(const Session& session, int seq_idx, int head_idx) {
  const KernelGeometry g = session.geometry();
  const int num_threads = session.dims().num_threads;
  by_element_.resize(static_cast<std::size_t>(session.num_partitions(seq_idx)));
  for (int partition = 0; partition < session.num_partitions(seq_idx); ++partition) {
    const ThreadBlockRecord record(session.recording(), session.tb_index(seq_idx, head_idx, partition));
    for (int thread = 0; thread < num_threads; ++thread) {
      int order = 0;
      int query_loads = 0;
      int last_iteration[4] = {-1, -1, -1, -1};
      int per_iteration[4] = {0, 0, 0, 0};
      for (const LoadRecord& load : record.loads(thread)) {
        Loader loader;
        loader.kind = load.kind;
        loader.partition_idx = partition;
        loader.thread = thread;
        loader.warp = thread / kWarpSize;
        loader.lane = thread % kWarpSize;
        loader.thread_group = thread / g.thread_group_size();
        loader.thread_group_offset = thread % g.thread_group_size();
        loader.iteration = load.iteration;
        loader.vec_idx = load.vec_idx;
        loader.order = order++;
        loader.first_element = load.element_offset;
        const int kind = static_cast<int>(load.kind) & 3;
        if (load.kind == LoadKind::query) {
          loader.trip = query_loads++;
        } else {
          if (last_iteration[kind] != load.iteration) per_iteration[kind] = 0;
          last_iteration[kind] = load.iteration;
          loader.trip = per_iteration[kind]++;
        }
        loader.num_elements = load.kind == LoadKind::value ? g.v_vec_size() : g.vec_size();
        const int position = static_cast<int>(loads_.size());
        loads_.push_back(loader);
        auto& map = by_element_[static_cast<std::size_t>(partition)][static_cast<std::size_t>(tensor_of(load.kind))];
        for (int e = 0; e < loader.num_elements; ++e) map.emplace(load.element_offset + e, position);
      }
    }
  }
}

const Loader* LoadIndex::loader_of(TensorKind tensor, std::int64_t element, int partition_idx) const {
  const int partitions = static_cast<int>(by_element_.size());
  const int first = partition_idx < 0 ? 0 : partition_idx;
  const int last = partition_idx < 0 ? partitions : std::min(partition_idx + 1, partitions);
  for (int p = first; p < last; ++p) {
    const ElementMap& map = by_element_[static_cast<std::size_t>(p)][static_cast<std::size_t>(tensor)];
    const auto found = map.find(element);
    if (found != map.end()) return &loads_[static_cast<std::size_t>(found->second)];
  }
  return nullptr;
}

std::vector<const Loader*> LoadIndex::loads_of_thread(int partition_idx, int thread) const {
  std::vector<const Loader*> result;
  for (const Loader& load : loads_)
    if (load.partition_idx == partition_idx && load.thread == thread) result.push_back(&load);
  return result;
}

float cache_value_as_loaded(const Session& session, TensorKind tensor, std::int64_t element) {
  const Tensor& cache = tensor == TensorKind::key_cache ? session.inputs().key_cache : session.inputs().value_cache;
  if (!is_fp8(cache.type)) return cache.get_float(element);
  const KernelGeometry g = session.geometry();
  const bool key = tensor == TensorKind::key_cache;
  return dequantize_fp8_as_float(cache.data<std::uint8_t>()[element], fp8_format_of(cache.type),
                                 key ? session.inputs().k_scale : session.inputs().v_scale, session.scenario().dtype,
                                 key ? g.vec_size() : g.v_vec_size());
}

std::int64_t key_element(const Session& session, int physical_block, int kv_head, int dim, int slot) {
  return session.kv_layout().key_offset(physical_block, kv_head, dim, slot);
}

std::int64_t value_element(const Session& session, int physical_block, int kv_head, int dim, int slot) {
  return session.kv_layout().value_offset(physical_block, kv_head, dim, slot);
}

int step_of_load(const Timeline& timeline, const Loader& load) {
  switch (load.kind) {
    case LoadKind::query: return timeline.find(StepKind::query_load, load.partition_idx, load.trip);
    case LoadKind::key: return timeline.find(StepKind::qk_iteration, load.partition_idx, load.iteration);
    case LoadKind::value: return timeline.find(StepKind::v_iteration, load.partition_idx, load.iteration);
    default: break;
  }
  return -1;
}

namespace {

// Row-major index tuple of a flat offset.
std::vector<std::int64_t> unflatten(std::int64_t flat, const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> index(shape.size());
  for (std::size_t i = shape.size(); i-- > 0;) {
    index[i] = flat % shape[i];
    flat /= shape[i];
  }
  return index;
}

}  // namespace

std::string Fp8ElementBits::bits_text() const {
  const int mantissa_bits = fp8_mantissa_bits(format);
  const int exponent_bits = 7 - mantissa_bits;
  std::string text = std::to_string(sign) + " ";
  for (int bit = exponent_bits - 1; bit >= 0; --bit) text += ((exponent_field >> bit) & 1) ? '1' : '0';
  text += ' ';
  for (int bit = mantissa_bits - 1; bit >= 0; --bit) text += ((mantissa_field >> bit) & 1) ? '1' : '0';
  return text;
}

std::string Fp8ElementBits::summary() const {
  const int mantissa_bits = fp8_mantissa_bits(format);
  const int bias = fp8_exponent_bias(format);
  std::ostringstream text;
  char code_hex[8];
  std::snprintf(code_hex, sizeof code_hex, "0x%02X", code);
  text << "fp8 " << (format == Fp8Format::e4m3 ? "E4M3" : "E5M2") << " code " << code_hex << " = " << bits_text()
       << "  (sign, exponent, mantissa)\n";
  const double mantissa = double(mantissa_field) / double(1 << mantissa_bits);
  if (fp8_is_nan(code, format)) {
    text << "NaN (all exponent and mantissa bits set): the poison of an unused slot";
  } else if (fp8_is_inf(code, format)) {
    text << (sign ? "-" : "+") << "infinity";
  } else if (exponent_field == 0) {
    text << "subnormal: " << (sign ? "-" : "+") << "0." << bits_text().substr(bits_text().size() - std::size_t(mantissa_bits))
         << "b (" << format_value(float(mantissa), 4) << ") x 2^" << (1 - bias) << " = " << format_value(code_value, 6);
  } else {
    text << (sign ? "-" : "+") << "1." << bits_text().substr(bits_text().size() - std::size_t(mantissa_bits)) << "b ("
         << format_value(float(1.0 + mantissa), 4) << ") x 2^(" << exponent_field << " - " << bias
         << ") = " << format_value(code_value, 6);
  }
  text << "\ndequantized: " << format_value(code_value, 6) << " x scale " << format_value(scale, 6) << " = "
       << format_value(dequantized, 6);
  return text.str();
}

Fp8ElementBits describe_fp8_code(std::uint8_t code, Fp8Format format, float scale, DType query_dtype,
                                 int codes_per_conversion) {
  Fp8ElementBits bits;
  bits.format = format;
  bits.code = code;
  const int mantissa_bits = fp8_mantissa_bits(format);
  bits.sign = code >> 7;
  bits.exponent_field = (code & 0x7F) >> mantissa_bits;
  bits.mantissa_field = code & ((1 << mantissa_bits) - 1);
  bits.code_value = fp8_to_float(code, format);
  bits.scale = scale;
  bits.dequantized = dequantize_fp8_as_float(code, format, scale, query_dtype, codes_per_conversion);
  return bits;
}

ElementInfo describe_element(const Session& session, const LoadIndex& index, const Timeline& timeline, TensorKind tensor,
                             std::int64_t element, int partition_idx) {
  const Tensor& source = tensor == TensorKind::query       ? session.inputs().query
                         : tensor == TensorKind::key_cache ? session.inputs().key_cache
                                                           : session.inputs().value_cache;
  if (element < 0 || element >= source.numel())
    throw ScenarioError(std::string(tensor_name(tensor)) + " has " + std::to_string(source.numel()) +
                        " elements; element " + std::to_string(element) + " is outside it");
  ElementInfo info;
  info.tensor = tensor;
  info.element = element;
  info.byte_address = element * element_size_bytes(source.type);
  info.value = source.get_float(element);
  info.index = unflatten(element, source.shape);
  std::ostringstream text;
  text << tensor_name(tensor);
  for (std::int64_t i : info.index) text << "[" << i << "]";
  info.index_text = text.str();
  const int block_size = session.scenario().block_size;
  if (tensor == TensorKind::query) {
    info.index_names = "[seq, head, d]";
    info.seq_idx = static_cast<int>(info.index[0]);
    info.dim = static_cast<int>(info.index[2]);
  } else {
    const bool key = tensor == TensorKind::key_cache;
    info.index_names = key ? "[block, kv_head, d/x, token slot, d%x]" : "[block, kv_head, d, token slot]";
    const KvCacheCoordinates where =
        key ? session.kv_layout().key_coordinates(element) : session.kv_layout().value_coordinates(element);
    info.physical_block = static_cast<int>(where.physical_block);
    info.kv_head = where.kv_head;
    info.dim = where.dim;
    info.block_offset = where.block_offset;
    const BlockOwner& owner = session.block_owners()[static_cast<std::size_t>(info.physical_block)];
    info.seq_idx = owner.seq_idx;
    if (owner.seq_idx >= 0 && info.block_offset < owner.num_valid_tokens)
      info.token_idx = owner.logical_block_idx * block_size + info.block_offset;
  }
  if (const Loader* loader = index.loader_of(tensor, element, partition_idx)) {
    info.loader = *loader;
    info.loaded_at_step = step_of_load(timeline, *loader);
  }
  if (tensor != TensorKind::query && is_fp8(source.type)) {
    const KernelGeometry g = session.geometry();
    const bool key = tensor == TensorKind::key_cache;
    info.fp8 = describe_fp8_code(source.data<std::uint8_t>()[element], fp8_format_of(source.type),
                                 key ? session.inputs().k_scale : session.inputs().v_scale, session.scenario().dtype,
                                 key ? g.vec_size() : g.v_vec_size());
    if (info.loader && session.dims().max_dequantized_per_load > 0) {
      const ThreadBlockRecord record(session.recording(),
                                     session.tb_index(timeline.seq_idx, timeline.head_idx, info.loader->partition_idx));
      info.recorded_dequantized =
          record.dequantized(info.loader->thread, info.loader->order, static_cast<int>(element - info.loader->first_element));
    }
  }
  return info;
}

std::string ElementInfo::summary() const {
  std::ostringstream text;
  text << index_text << "   " << index_names << "\n";
  text << "element offset " << element << ", byte offset " << byte_address << " (sector " << byte_address / 32 << ", line "
       << byte_address / 128 << ")\n";
  if (fp8) {
    text << fp8->summary();
    if (recorded_dequantized) text << " (the kernel's load recorded " << format_value(*recorded_dequantized, 6) << ")";
    text << "\nhead dim d = " << dim << "\n";
  } else {
    text << "value " << format_value(value, 6) << "   head dim d = " << dim << "\n";
  }
  if (tensor != TensorKind::query) {
    text << "physical block " << physical_block << ", kv_head " << kv_head << ", token slot " << block_offset << ": ";
    if (seq_idx < 0) text << "no sequence uses this block";
    else if (token_idx < 0) text << "past the end of seq " << seq_idx << " (padding slot)";
    else text << "seq " << seq_idx << " token " << token_idx;
    text << "\n";
  }
  if (loader) {
    const Loader& l = *loader;
    text << "loaded by thread " << l.thread << " (warp " << l.warp << ", lane " << l.lane << ", thread group "
         << l.thread_group << " offset " << l.thread_group_offset << ")";
    if (l.kind == LoadKind::query) text << ", q_vecs column i = " << l.iteration << ", vec " << l.vec_idx;
    else if (l.kind == LoadKind::key) text << ", iteration " << l.iteration << ", k_vecs[" << l.vec_idx << "]";
    else text << ", iteration " << l.iteration << ", row i = " << l.vec_idx;
    if (l.partition_idx > 0) text << ", partition " << l.partition_idx;
    text << "\nas a " << l.num_elements << "-element vec starting at element " << l.first_element;
    if (loaded_at_step >= 0) text << ", at step " << loaded_at_step;
  } else {
    text << "not loaded by the focused thread block";
  }
  return text.str();
}

}  // namespace pal::viz
