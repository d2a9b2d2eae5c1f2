// Deterministic kernel inputs in upstream's layouts, and the checks that any inputs (generated or
// loaded from a file) agree with their scenario.
//
// Order of random draws (part of the format: the same seed gives the same bytes forever):
//   1. query, flat in [num_seqs, num_heads, head_size] order;
//   2. the Fisher-Yates shuffle of the physical block pool;
//   3. for each sequence, each token, each kv head: the key's head_size values, then the value's.
// The draws do not depend on what the cache stores: an fp8 cache holds the quantised codes of
// exactly the values an auto cache holds (the oracle compares the two to measure quantisation).
// Nor on the input preset: a preset other than uniform makes the same draws and reshapes the
// queries and keys with numbers from streams of its own (AttentionShape), so uniform's bytes, which
// dumps and baselines hold, never change.
#include "core/inputs.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <sstream>

namespace pal {

ElementType kv_cache_element_type(const Scenario& scenario) {
  return is_fp8(scenario.kv_cache_dtype) ? element_type_of(fp8_format_of(scenario.kv_cache_dtype))
                                         : element_type_of(scenario.dtype);
}

int key_x(const Scenario& scenario) { return key_x_for(scenario.kv_cache_element_size()); }

std::string quantization_summary(const QuantizationReport& report) {
  std::ostringstream text;
  auto line = [&text](const char* cache, const Fp8QuantizationCounts& counts) {
    auto percent = [&counts](std::int64_t n) {
      return counts.num_values > 0 ? 100.0 * static_cast<double>(n) / static_cast<double>(counts.num_values) : 0.0;
    };
    text.precision(3);
    text << cache << ": " << counts.num_values << " values quantised, " << counts.num_subnormal << " subnormal ("
         << percent(counts.num_subnormal) << "%), " << counts.num_flushed_to_zero << " flushed to zero ("
         << percent(counts.num_flushed_to_zero) << "%), " << counts.num_saturated << " saturated ("
         << percent(counts.num_saturated) << "%)";
  };
  line("key_cache", report.key);
  text << "\n";
  line("value_cache", report.value);
  return text.str();
}

// ---- SplitMix64 ------------------------------------------------------------------------------------

std::uint64_t SplitMix64::next() {
  state_ += 0x9e3779b97f4a7c15ull;
  std::uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

float SplitMix64::uniform(float low, float high) {
  // 24 random bits: every value is exactly representable as a float fraction in [0, 1).
  const double unit = static_cast<double>(next() >> 40) * 0x1.0p-24;
  const auto value = static_cast<float>(static_cast<double>(low) + (static_cast<double>(high) - low) * unit);
  // Rounding to float can land on `high`; step back so the range stays half-open.
  return value < high ? value : std::nextafter(high, low);
}

std::uint64_t SplitMix64::below(std::uint64_t bound) {
  if (bound <= 1) return 0;
  // Rejection sampling: drop the lowest (2^64 mod bound) values so every residue is equally likely.
  const std::uint64_t threshold = (0 - bound) % bound;
  while (true) {
    const std::uint64_t value = next();
    if (value >= threshold) return value % bound;
  }
}

// ---- ALiBi -----------------------------------------------------------------------------------------

std::vector<float> alibi_slopes_for(int num_heads) {
  std::vector<float> slopes;
  if (num_heads <= 0) return slopes;
  // For a power of two n the slopes are r, r^2, ..., r^n with r = 2^(-8/n). Otherwise the nearest
  // lower power of two p gets those, and the remaining heads take every other slope of the 2p
  // sequence (r' = 2^(-4/p): r'^1, r'^3, ...), so the slopes still interleave geometrically.
  int power = 1;
  while (power * 2 <= num_heads) power *= 2;
  const double ratio = std::exp2(-8.0 / power);
  for (int i = 1; i <= power; ++i) slopes.push_back(static_cast<float>(std::pow(ratio, i)));
  const double extra_ratio = std::exp2(-4.0 / power);
  for (int i = 0; i < num_heads - power; ++i) slopes.push_back(static_cast<float>(std::pow(extra_ratio, 2 * i + 1)));
  return slopes;
}

KvCacheLayout kv_cache_layout(const Scenario& scenario) {
  return KvCacheLayout{scenario.num_kv_heads, scenario.head_size, scenario.block_size, key_x(scenario)};
}

// ---- generation ------------------------------------------------------------------------------------

namespace {

// A quiet-NaN bit pattern per dtype, written into every cache slot no sequence uses.
template <typename T>
T poison_value();
template <>
float poison_value<float>() { return std::numeric_limits<float>::quiet_NaN(); }
template <>
fp16_t poison_value<fp16_t>() { return fp16_t{0x7e00}; }
template <>
bf16_t poison_value<bf16_t>() { return bf16_t{0x7fc0}; }

// One number from the seed and a position, independent of every other: the presets' streams.
std::uint64_t hash_of(std::uint64_t seed, std::uint64_t stream, std::uint64_t a, std::uint64_t b = 0,
                      std::uint64_t c = 0) {
  SplitMix64 mix(seed ^ (stream * 0xd6e8feb86659fd93ull));
  for (std::uint64_t part : {a, b, c}) mix = SplitMix64(mix.next() ^ part);
  return mix.next();
}

// How a preset turns the uniform draws into queries and keys with a visible attention pattern.
//
// Every (sequence, kv head) gets a unit direction u (head_size numbers). The queries of the heads
// that share the kv head point along it, and each key carries a planted bias b along it:
//   query = sqrt(head_size) * (u + drawn / 2)          (drawn: the uniform draw, +-1/sqrt(head_size))
//   key   = sqrt(head_size) * drawn + b * u
// so that at the default scale 1/sqrt(head_size) a token's logit is b plus noise of about 0.6 (the
// draws' part), the size of a trained model's logits, and the preset chooses b per token:
//   peaked   b drawn per token and kv head, approximately normal with standard deviation 2.5
//   sink     b = 6 on the first kNumSinkTokens tokens, 0 elsewhere
//   recency  b = 6 * token / (seq_len - 1): 6 more at the newest token than at the oldest
//   needle   b = 10 on one token per sequence (a seeded position), 0 elsewhere
// The values stay small (|key| well under 16), so fp16, bf16 and an fp8 cache at scale 1 hold them.
class AttentionShape {
 public:
  static constexpr int kNumSinkTokens = 4;

  explicit AttentionShape(const Scenario& s)
      : s_(s), root_(static_cast<float>(std::sqrt(static_cast<double>(s.head_size)))) {
    if (s.input_preset == InputPreset::uniform) return;
    directions_.resize(static_cast<std::size_t>(s.num_seqs) * static_cast<std::size_t>(s.num_kv_heads) *
                       static_cast<std::size_t>(s.head_size));
    for (int seq = 0; seq < s.num_seqs; ++seq)
      for (int kv_head = 0; kv_head < s.num_kv_heads; ++kv_head) {
        SplitMix64 random(hash_of(s.seed, kDirectionStream, static_cast<std::uint64_t>(seq),
                                  static_cast<std::uint64_t>(kv_head)));
        float* u = direction(seq, kv_head);
        double norm = 0.0;
        for (int dim = 0; dim < s.head_size; ++dim) {
          u[dim] = random.uniform(-1.0f, 1.0f);
          norm += static_cast<double>(u[dim]) * u[dim];
        }
        if (norm == 0.0) u[0] = 1.0f, norm = 1.0;  // astronomically unlikely; keeps u a unit vector
        for (int dim = 0; dim < s.head_size; ++dim) u[dim] = static_cast<float>(u[dim] / std::sqrt(norm));
      }
  }

  bool shaped() const { return !directions_.empty(); }

  // The query element made from a uniform draw.
  float query(float drawn, int seq, int head, int dim) const {
    if (!shaped()) return drawn;
    const int kv_head = head / (s_.num_heads / s_.num_kv_heads);
    return root_ * (direction(seq, kv_head)[dim] + 0.5f * drawn);
  }

  // The logit bias the preset plants on a token (compute once per token, then key() per element).
  float bias(int seq, int token, int kv_head) const {
    switch (s_.input_preset) {
      case InputPreset::uniform: return 0.0f;
      case InputPreset::peaked: {
        // Irwin-Hall: the sum of three uniforms in [-1, 1) has variance 1.
        SplitMix64 random(hash_of(s_.seed, kBiasStream, static_cast<std::uint64_t>(seq),
                                  static_cast<std::uint64_t>(kv_head), static_cast<std::uint64_t>(token)));
        const float normal = random.uniform(-1.0f, 1.0f) + random.uniform(-1.0f, 1.0f) + random.uniform(-1.0f, 1.0f);
        return 2.5f * normal;
      }
      case InputPreset::sink: return token < kNumSinkTokens ? 6.0f : 0.0f;
      case InputPreset::recency: {
        const int seq_len = s_.seq_lens[static_cast<std::size_t>(seq)];
        return seq_len > 1 ? 6.0f * static_cast<float>(token) / static_cast<float>(seq_len - 1) : 0.0f;
      }
      case InputPreset::needle: return token == needle_token(s_, seq) ? 10.0f : 0.0f;
    }
    return 0.0f;
  }

  // The key element made from a uniform draw, for a token whose bias() is `token_bias`.
  float key(float drawn, int seq, int kv_head, int dim, float token_bias) const {
    if (!shaped()) return drawn;
    return root_ * drawn + token_bias * direction(seq, kv_head)[dim];
  }

 private:
  static constexpr std::uint64_t kDirectionStream = 1, kBiasStream = 2;

  float* direction(int seq, int kv_head) {
    return directions_.data() + (static_cast<std::size_t>(seq) * static_cast<std::size_t>(s_.num_kv_heads) +
                                 static_cast<std::size_t>(kv_head)) * static_cast<std::size_t>(s_.head_size);
  }
  const float* direction(int seq, int kv_head) const { return const_cast<AttentionShape*>(this)->direction(seq, kv_head); }

  const Scenario& s_;
  float root_;                     // sqrt(head_size)
  std::vector<float> directions_;  // [num_seqs, num_kv_heads, head_size]; empty for uniform
};

template <typename T>
void fill_inputs(const Scenario& s, Inputs& in, QuantizationReport& report) {
  SplitMix64 random(s.seed);
  const AttentionShape shape(s);
  const float range = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.head_size)));
  const KvCacheLayout layout = kv_cache_layout(s);
  const std::int64_t num_blocks = s.effective_num_blocks();
  const std::int64_t max_blocks_per_seq = s.max_num_blocks_per_seq();

  in.query = Tensor(element_type_of(s.dtype), {s.num_seqs, s.num_heads, s.head_size});
  std::span<T> query = in.query.span<T>();
  for (std::size_t flat = 0; flat < query.size(); ++flat) {
    const auto dim = static_cast<int>(flat % static_cast<std::size_t>(s.head_size));
    const auto head = static_cast<int>(flat / static_cast<std::size_t>(s.head_size) % static_cast<std::size_t>(s.num_heads));
    const auto seq = static_cast<int>(flat / (static_cast<std::size_t>(s.head_size) * static_cast<std::size_t>(s.num_heads)));
    query[flat] = from_float<T>(shape.query(random.uniform(-range, range), seq, head, dim));
  }

  // Physical blocks handed out in shuffled order: logical block i of a sequence lands anywhere.
  std::vector<std::int32_t> pool(static_cast<std::size_t>(num_blocks));
  std::iota(pool.begin(), pool.end(), 0);
  for (std::size_t i = pool.size(); i > 1; --i) std::swap(pool[i - 1], pool[random.below(i)]);

  in.block_tables = Tensor(ElementType::i32, {s.num_seqs, max_blocks_per_seq});
  std::span<std::int32_t> table = in.block_tables.span<std::int32_t>();
  std::fill(table.begin(), table.end(), -1);  // -1: never read, and out of range if it were
  std::size_t next_pool_slot = 0;
  for (int seq = 0; seq < s.num_seqs; ++seq) {
    const int num_seq_blocks = (s.seq_lens[seq] + s.block_size - 1) / s.block_size;
    for (int logical = 0; logical < num_seq_blocks; ++logical)
      table[static_cast<std::size_t>(seq * max_blocks_per_seq + logical)] = pool[next_pool_slot++];
  }

  in.seq_lens = Tensor(ElementType::i32, {s.num_seqs});
  for (int seq = 0; seq < s.num_seqs; ++seq) in.seq_lens.data<std::int32_t>()[seq] = s.seq_lens[seq];

  const auto key_shape = layout.key_shape(num_blocks);
  const auto value_shape = layout.value_shape(num_blocks);
  const ElementType cache_type = kv_cache_element_type(s);
  in.key_cache = Tensor(cache_type, {key_shape.begin(), key_shape.end()});
  in.value_cache = Tensor(cache_type, {value_shape.begin(), value_shape.end()});
  const bool fp8 = is_fp8(s.kv_cache_dtype);
  const Fp8Format format = fp8_format_of(s.kv_cache_dtype);
  if (fp8) {
    std::memset(in.key_cache.bytes.data(), kFp8NanCode, in.key_cache.bytes.size());
    std::memset(in.value_cache.bytes.data(), kFp8NanCode, in.value_cache.bytes.size());
  } else {
    std::fill_n(in.key_cache.data<T>(), in.key_cache.numel(), poison_value<T>());
    std::fill_n(in.value_cache.data<T>(), in.value_cache.numel(), poison_value<T>());
  }
  // One draw into one cache slot: the value in the query dtype, stored as it is or as its fp8 code.
  auto draw_into = [&](Tensor& cache, std::int64_t flat, float cache_scale, Fp8QuantizationCounts& counts,
                       auto&& shaped) {
    const float drawn = round_to<T>(shaped(random.uniform(-range, range)));
    if (!fp8) {
      cache.data<T>()[flat] = from_float<T>(drawn);
      return;
    }
    const std::uint8_t code = quantize_fp8(drawn, cache_scale, format);
    cache.data<std::uint8_t>()[flat] = code;
    counts.add(drawn, cache_scale, code, format);
  };
  for (int seq = 0; seq < s.num_seqs; ++seq) {
    for (int token = 0; token < s.seq_lens[seq]; ++token) {
      const std::int64_t physical_block = table[static_cast<std::size_t>(seq * max_blocks_per_seq + token / s.block_size)];
      const int block_offset = token % s.block_size;
      for (int kv_head = 0; kv_head < s.num_kv_heads; ++kv_head) {
        const float token_bias = shape.bias(seq, token, kv_head);
        for (int dim = 0; dim < s.head_size; ++dim)
          draw_into(in.key_cache, layout.key_offset(physical_block, kv_head, dim, block_offset), s.k_scale, report.key,
                    [&](float drawn) { return shape.key(drawn, seq, kv_head, dim, token_bias); });
        for (int dim = 0; dim < s.head_size; ++dim)
          draw_into(in.value_cache, layout.value_offset(physical_block, kv_head, dim, block_offset), s.v_scale,
                    report.value, [](float drawn) { return drawn; });
      }
    }
  }

  if (s.alibi) {
    const std::vector<float> slopes = alibi_slopes_for(s.num_heads);
    in.alibi_slopes = Tensor(ElementType::f32, {s.num_heads});
    std::copy(slopes.begin(), slopes.end(), in.alibi_slopes.data<float>());
  } else {
    in.alibi_slopes = Tensor(ElementType::f32, {0});
  }
  in.scale = s.effective_scale();
  in.k_scale = s.k_scale;
  in.v_scale = s.v_scale;
  in.block_sparse = s.block_sparse;
}

}  // namespace

namespace {

// The scenario must be valid. `report`, when given, receives what quantising to fp8 did.
Inputs generate_valid(const Scenario& scenario, QuantizationReport* report) {
  Inputs inputs;
  QuantizationReport counts;
  visit_dtype(scenario.dtype, [&](auto element) { fill_inputs<decltype(element)>(scenario, inputs, counts); });
  if (report) *report = counts;
  return inputs;
}

}  // namespace

int needle_token(const Scenario& scenario, int seq) {
  const int seq_len = scenario.seq_lens[static_cast<std::size_t>(seq)];
  if (scenario.input_preset != InputPreset::needle || seq_len <= 0) return -1;
  return static_cast<int>(hash_of(scenario.seed, 3, static_cast<std::uint64_t>(seq)) % static_cast<std::uint64_t>(seq_len));
}

Inputs generate_inputs(const Scenario& scenario, QuantizationReport* report) {
  validate_scenario(scenario);
  return generate_valid(scenario, report);
}

CheckedInputs CheckedInputs::generate(const Scenario& scenario, QuantizationReport* report) {
  validate_scenario(scenario);
  return CheckedInputs(scenario, generate_valid(scenario, report));
}

CheckedInputs CheckedInputs::check(Scenario scenario, Inputs inputs) {
  validate_inputs(scenario, inputs);
  return CheckedInputs(std::move(scenario), std::move(inputs));
}

// ---- validation ------------------------------------------------------------------------------------

namespace {

std::string format_float(float value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", static_cast<double>(value));
  return text;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  Tensor view;
  view.shape = shape;
  return view.shape_string();
}

void check_tensor(const Tensor& tensor, const std::string& name, ElementType type,
                  const std::vector<std::int64_t>& shape, const std::string& shape_meaning) {
  if (tensor.type != type)
    throw ScenarioError(name + " holds " + std::string(element_type_name(tensor.type)) + " elements; expected " +
                        std::string(element_type_name(type)));
  if (tensor.shape != shape)
    throw ScenarioError(name + " has shape " + tensor.shape_string() + "; expected " + shape_string(shape) + " " +
                        shape_meaning);
  const auto expected_bytes = static_cast<std::size_t>(tensor.numel()) * static_cast<std::size_t>(element_size_bytes(type));
  if (tensor.bytes.size() != expected_bytes)
    throw ScenarioError(name + " holds " + std::to_string(tensor.bytes.size()) + " bytes; its shape " +
                        tensor.shape_string() + " needs " + std::to_string(expected_bytes));
}

}  // namespace

void validate_inputs(const Scenario& s, const Inputs& in) {
  validate_scenario(s);
  const ElementType q_type = element_type_of(s.dtype);
  const ElementType kv_type = kv_cache_element_type(s);
  const KvCacheLayout layout = kv_cache_layout(s);
  const std::int64_t num_blocks = s.effective_num_blocks();
  const auto key_shape = layout.key_shape(num_blocks);
  const auto value_shape = layout.value_shape(num_blocks);

  check_tensor(in.query, "query", q_type, {s.num_seqs, s.num_heads, s.head_size}, "[num_seqs, num_heads, head_size]");
  check_tensor(in.key_cache, "key_cache", kv_type, {key_shape.begin(), key_shape.end()},
               "[num_blocks, num_kv_heads, head_size/x, block_size, x] with x = " + std::to_string(layout.x) + " for " +
                   std::string(element_type_name(kv_type)) + " elements");
  check_tensor(in.value_cache, "value_cache", kv_type, {value_shape.begin(), value_shape.end()},
               "[num_blocks, num_kv_heads, head_size, block_size]");
  check_tensor(in.seq_lens, "seq_lens", ElementType::i32, {s.num_seqs}, "[num_seqs]");

  // Upstream accepts a table wider than needed (padding columns are never read), so only the
  // row count is fixed; the width must cover the longest sequence.
  const Tensor& table = in.block_tables;
  if (table.type != ElementType::i32)
    throw ScenarioError("block_tables holds " + std::string(element_type_name(table.type)) +
                        " elements; expected I32");
  const std::int64_t needed_width = s.max_num_blocks_per_seq();
  if (table.shape.size() != 2 || table.shape[0] != s.num_seqs || table.shape[1] < needed_width)
    throw ScenarioError("block_tables has shape " + table.shape_string() + "; expected [" +
                        std::to_string(s.num_seqs) + ", >= " + std::to_string(needed_width) +
                        "] [num_seqs, max_num_blocks_per_seq] (the longest sequence needs " +
                        std::to_string(needed_width) + " blocks)");
  if (table.bytes.size() != static_cast<std::size_t>(table.numel()) * 4)
    throw ScenarioError("block_tables holds " + std::to_string(table.bytes.size()) + " bytes; its shape " +
                        table.shape_string() + " needs " + std::to_string(table.numel() * 4));

  const std::int32_t* lens = in.seq_lens.data<std::int32_t>();
  for (int seq = 0; seq < s.num_seqs; ++seq) {
    if (lens[seq] != s.seq_lens[seq])
      throw ScenarioError("seq_lens[" + std::to_string(seq) + "] holds " + std::to_string(lens[seq]) +
                          "; the scenario says " + std::to_string(s.seq_lens[seq]));
  }

  const std::int32_t* entries = table.data<std::int32_t>();
  for (int seq = 0; seq < s.num_seqs; ++seq) {
    const int num_seq_blocks = (s.seq_lens[seq] + s.block_size - 1) / s.block_size;
    for (int logical = 0; logical < num_seq_blocks; ++logical) {
      const std::int32_t physical = entries[seq * table.shape[1] + logical];
      if (physical < 0 || physical >= num_blocks)
        throw ScenarioError("block_tables[" + std::to_string(seq) + "][" + std::to_string(logical) + "] = " +
                            std::to_string(physical) + " is outside the KV-cache pool [0, " +
                            std::to_string(num_blocks) + "); sequence " + std::to_string(seq) + " (seq_len " +
                            std::to_string(s.seq_lens[seq]) + ") reads logical blocks 0.." +
                            std::to_string(num_seq_blocks - 1));
    }
  }

  if (s.alibi) {
    check_tensor(in.alibi_slopes, "alibi_slopes", ElementType::f32, {s.num_heads}, "[num_heads] (ALiBi is on)");
    for (int head = 0; head < s.num_heads; ++head)
      if (!std::isfinite(in.alibi_slopes.data<float>()[head]))
        throw ScenarioError("alibi_slopes[" + std::to_string(head) + "] is not finite; every slope must be a number");
  } else if (in.alibi_slopes.numel() != 0) {
    throw ScenarioError("alibi_slopes has shape " + in.alibi_slopes.shape_string() +
                        " but ALiBi is off in the scenario; expected an empty tensor (or turn alibi on)");
  }

  if (!std::isfinite(in.scale) || in.scale <= 0.0f)
    throw ScenarioError("scale = " + format_float(in.scale) + " is invalid; expected a finite number > 0");
  if (in.scale != s.effective_scale())
    throw ScenarioError("inputs' scale " + format_float(in.scale) + " differs from the scenario's scale " +
                        format_float(s.effective_scale()) + "; set the scenario's scale to match");
  if (in.k_scale != s.k_scale || in.v_scale != s.v_scale)
    throw ScenarioError("inputs' k_scale " + format_float(in.k_scale) + " / v_scale " + format_float(in.v_scale) +
                        " differ from the scenario's " + format_float(s.k_scale) + " / " + format_float(s.v_scale) +
                        "; set the scenario's k_scale and v_scale to match");
  if (!(in.block_sparse == s.block_sparse))
    throw ScenarioError("inputs' block-sparse parameters differ from the scenario's; set the scenario's "
                        "blocksparse_* and tp_rank to match");
}

// ---- non-finite values -----------------------------------------------------------------------------

namespace {

// The non-finite values of one tensor over the elements the kernel reads, with the coordinates of
// the first few.
class NonFiniteTally {
 public:
  NonFiniteTally(std::string tensor, std::string read_by) : tensor_(std::move(tensor)), read_by_(std::move(read_by)) {}

  // `where` is called only for the first few non-finite values.
  template <typename Where>
  void visit(float value, Where&& where) {
    ++num_read_;
    if (std::isfinite(value)) return;
    if (++num_non_finite_ <= kNumShown) shown_ += (num_non_finite_ > 1 ? ", " : "") + where() + " = " + format_float(value);
  }

  void report_to(std::vector<std::string>& problems) const {
    if (num_non_finite_ == 0) return;
    problems.push_back(tensor_ + " holds " + std::to_string(num_non_finite_) + " non-finite " +
                       (num_non_finite_ == 1 ? "value" : "values") + " (NaN or inf) among the " +
                       std::to_string(num_read_) + " elements " + read_by_ + "; first at " + shown_);
  }

 private:
  static constexpr std::int64_t kNumShown = 3;
  std::string tensor_, read_by_, shown_;
  std::int64_t num_read_ = 0, num_non_finite_ = 0;
};

}  // namespace

std::vector<std::string> non_finite_input_problems(const Scenario& s, const Inputs& in) {
  std::vector<std::string> problems;
  NonFiniteTally query("query", "the kernel reads");
  for (int seq = 0; seq < s.num_seqs; ++seq)
    for (int head = 0; head < s.num_heads; ++head)
      for (int dim = 0; dim < s.head_size; ++dim)
        query.visit(in.query.get_float((std::int64_t{seq} * s.num_heads + head) * s.head_size + dim), [&] {
          return "(seq " + std::to_string(seq) + ", head " + std::to_string(head) + ", dim " + std::to_string(dim) + ")";
        });
  query.report_to(problems);

  // Every (token, kv head, dim) a sequence covers, through the block table (validate_inputs has
  // checked its entries), in upstream's layouts (inputs.h).
  NonFiniteTally key("key_cache", "the sequences read"), value("value_cache", "the sequences read");
  const KvCacheLayout layout = kv_cache_layout(s);
  const std::int32_t* table = in.block_tables.data<std::int32_t>();
  const std::int64_t table_width = in.block_tables.shape[1];
  for (int seq = 0; seq < s.num_seqs; ++seq)
    for (int token = 0; token < s.seq_lens[static_cast<std::size_t>(seq)]; ++token) {
      const std::int64_t physical_block = table[seq * table_width + token / s.block_size];
      const int block_offset = token % s.block_size;
      for (int kv_head = 0; kv_head < s.num_kv_heads; ++kv_head) {
        for (int dim = 0; dim < s.head_size; ++dim) {
          auto where = [&] {
            return "(seq " + std::to_string(seq) + ", token " + std::to_string(token) + ", kv head " +
                   std::to_string(kv_head) + ", dim " + std::to_string(dim) + ")";
          };
          auto where_in_pool = [&] {
            return where() + " (physical block " + std::to_string(physical_block) + ", slot " +
                   std::to_string(block_offset) + ")";
          };
          key.visit(in.key_cache.get_float(layout.key_offset(physical_block, kv_head, dim, block_offset)), where_in_pool);
          value.visit(in.value_cache.get_float(layout.value_offset(physical_block, kv_head, dim, block_offset)),
                      where_in_pool);
        }
      }
    }
  key.report_to(problems);
  value.report_to(problems);

  if (s.alibi) {
    NonFiniteTally slopes("alibi_slopes", "the kernel reads");
    for (int head = 0; head < s.num_heads && head < in.alibi_slopes.numel(); ++head)
      slopes.visit(in.alibi_slopes.get_float(head), [&] { return "(head " + std::to_string(head) + ")"; });
    slopes.report_to(problems);
  }
  if (!std::isfinite(in.scale)) problems.push_back("scale is " + format_float(in.scale) + ", not a finite number");
  return problems;
}

void refuse_non_finite_inputs(const Scenario& scenario, const Inputs& inputs) {
  const std::vector<std::string> problems = non_finite_input_problems(scenario, inputs);
  if (problems.empty()) return;
  std::string message;
  for (const std::string& problem : problems) message += (message.empty() ? "" : "\n  ") + problem;
  throw ScenarioError(message +
                      "\n  attention over NaN or inf has no reference result to check the kernel against, so "
                      "these inputs are refused: replace them with finite values (cache slots that no sequence "
                      "reads may hold anything; generated inputs keep NaN there on purpose)");
}

}  // namespace pal
