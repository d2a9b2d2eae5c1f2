// Who loaded what: the recorded loads of one (seq, head) indexed by tensor element, and the
// look-ups a hover needs (element -> index tuple, byte address, value, loading lane and when).
//
// Element offsets are the kernel's: from the tensor's base pointer, in elements. Byte addresses are
// offsets from the tensor's base too; a CUDA allocation starts 256-byte aligned, so sector (32 B)
// and line (128 B) boundaries relative to the base are the hardware's boundaries.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/fp8.h"
#include "visualizer/model/session.h"
#include "visualizer/model/timeline.h"

namespace pal::viz {

enum class TensorKind : unsigned char { query, key_cache, value_cache };
std::string_view tensor_name(TensorKind tensor);  // "q", "k_cache", "v_cache"
TensorKind tensor_of(LoadKind kind);

// One recorded vector load of the focused (seq, head).
struct Loader {
  LoadKind kind = LoadKind::none;
  int partition_idx = 0;
  int thread = 0;  // threadIdx.x
  int warp = 0;
  int lane = 0;
  int thread_group = 0;         // thread / THREAD_GROUP_SIZE
  int thread_group_offset = 0;  // thread % THREAD_GROUP_SIZE
  int iteration = 0;            // kv_block loop iteration (key, value); q_vecs column i (query)
  int vec_idx = 0;              // key: j of k_vecs[j]; value: row i of accs[i]; query: vec index in the head
  int trip = 0;                 // n-th load of this kind in this iteration by this thread: the instruction
  int order = 0;                // position in the thread's load sequence
  std::int64_t first_element = 0;
  int num_elements = 0;         // VEC_SIZE (q, k) or V_VEC_SIZE (v)
};

class LoadIndex {
 public:
  LoadIndex() = default;
  LoadIndex(const Session& session, int seq_idx, int head_idx);

  const std::vector<Loader>& loads() const { return loads_; }
  // The load that brought this element in for the focused (seq, head), or null (never loaded).
  // v2: every partition's thread_block loads the query, so name the partition; -1 = the first
  // partition that loaded the element.
  const Loader* loader_of(TensorKind tensor, std::int64_t element, int partition_idx = -1) const;
  // Every load of one thread of one partition's thread_block, in issue order.
  std::vector<const Loader*> loads_of_thread(int partition_idx, int thread) const;

 private:
  using ElementMap = std::unordered_map<std::int64_t, int>;  // element -> index in loads_
  std::vector<Loader> loads_;
  std::vector<std::array<ElementMap, 3>> by_element_;  // [partition][TensorKind]
};

// One element of an fp8 cache: the fields of its code and what the kernel's load makes of it.
struct Fp8ElementBits {
  Fp8Format format = Fp8Format::e4m3;
  std::uint8_t code = 0;
  int sign = 0;            // the sign bit
  int exponent_field = 0;  // 4 bits (E4M3) or 5 (E5M2), biased
  int mantissa_field = 0;  // 3 bits (E4M3) or 2 (E5M2)
  float code_value = 0.0f;   // the code's own value, exact (no scale)
  float scale = 1.0f;        // k_scale for keys, v_scale for values
  float dequantized = 0.0f;  // code_value * scale, rounded as the kernel rounds it (core/fp8.h)
  std::string bits_text() const;  // "0 1010 011": sign, exponent, mantissa
  std::string summary() const;    // a few lines: bits, fields, value, scale, dequantized value
};
// `codes_per_conversion`: elements the kernel's load converts at once (VEC_SIZE for K, V_VEC_SIZE
// for V); it decides the rounding of fp32 queries (core/fp8.h).
Fp8ElementBits describe_fp8_code(std::uint8_t code, Fp8Format format, float scale, DType query_dtype,
                                 int codes_per_conversion);

// Everything a hover over one tensor element shows.
struct ElementInfo {
  TensorKind tensor = TensorKind::query;
  std::int64_t element = 0;        // offset from the tensor's base, in elements
  std::int64_t byte_address = 0;   // offset from the tensor's base, in bytes
  std::vector<std::int64_t> index; // index tuple in the tensor's shape
  std::string index_text;          // "k_cache[3][1][2][5][4]"
  std::string index_names;         // "[block, kv_head, d/x, token slot, d%x]"
  float value = 0.0f;              // fp8 caches: the code's value, before the scale
  std::optional<Fp8ElementBits> fp8;  // fp8 caches only
  // fp8 caches: the value the focused thread block's load produced for this element, as the kernel
  // recorded it (dequantized_kv); absent when nothing loaded it.
  std::optional<float> recorded_dequantized;
  int dim = -1;                    // head-dim position d the element holds
  // K/V: the physical block, kv head and slot; who owns the block (-1 = no sequence)
  int physical_block = -1;
  int kv_head = -1;
  int block_offset = -1;
  int seq_idx = -1;
  int token_idx = -1;              // -1 for a slot past the owner's seq_len (or an unused block)
  std::optional<Loader> loader;    // for the focused (seq, head)
  int loaded_at_step = -1;         // timeline step of that load, or -1
  std::string summary() const;     // several lines for a tooltip
};

// Throws ScenarioError for an element outside the tensor. `partition_idx` picks whose load to
// report in v2 (-1: the first partition that loaded it).
ElementInfo describe_element(const Session& session, const LoadIndex& index, const Timeline& timeline,
                             TensorKind tensor, std::int64_t element, int partition_idx = -1);

// A cache element as the kernel's load makes it: the stored value, or for an fp8 cache its code
// dequantized (code * scale, rounded to the query dtype as the load rounds it).
float cache_value_as_loaded(const Session& session, TensorKind tensor, std::int64_t element);

// Element offset of k_cache[block][kv_head][dim / x][slot][dim % x] and of v_cache[block][kv_head][dim][slot].
std::int64_t key_element(const Session& session, int physical_block, int kv_head, int dim, int slot);
std::int64_t value_element(const Session& session, int physical_block, int kv_head, int dim, int slot);

// Timeline step at which a load happened (query_load pass, qk or v iteration), or -1.
int step_of_load(const Timeline& timeline, const Loader& load);

}  // namespace pal::viz
