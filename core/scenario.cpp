// Scenario: derived sizes, validation, JSON and the shared command-line flags.
//
// Conventions: every count that can grow with user input (blocks, bytes) is computed in int64 so
// an absurd scenario is reported by validation instead of wrapping around; the int accessors of
// Scenario saturate at INT_MAX for the same reason.
#include "core/scenario.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>
#include <tuple>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/input_file.h"
#include "core/output_file.h"
#include "core/untrusted_json.h"

namespace pal {

namespace {

using json = nlohmann::json;

int saturate_to_int(std::int64_t value) {
  return static_cast<int>(std::clamp<std::int64_t>(value, 0, std::numeric_limits<int>::max()));
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return b > 0 ? (a + b - 1) / b : 0; }

// Blocks each sequence needs, summed; 0 for a block size that cannot be divided by.
std::int64_t blocks_needed_wide(const Scenario& scenario) {
  std::int64_t total = 0;
  for (int seq_len : scenario.seq_lens)
    if (seq_len > 0) total += ceil_div(seq_len, scenario.block_size);
  return total;
}

std::int64_t num_blocks_wide(const Scenario& scenario) {
  if (scenario.num_blocks > 0) return scenario.num_blocks;
  const std::int64_t needed = blocks_needed_wide(scenario);
  // Spare blocks that no sequence references: the generator poisons them with NaN, so a kernel
  // that reads outside its block table shows it.
  return needed + std::max<std::int64_t>(2, needed / 4);
}

std::string join_ints(std::span<const int> values) {
  std::string text;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(values[i]);
  }
  return text;
}

std::string format_float(double value) {
  std::ostringstream stream;
  stream.precision(9);
  stream << value;
  return stream.str();
}

std::string format_bytes(std::int64_t bytes) {
  std::ostringstream stream;
  stream.precision(3);
  const double value = static_cast<double>(bytes);
  if (bytes >= (std::int64_t{1} << 30)) stream << value / double(1 << 30) << " GiB";
  else if (bytes >= (1 << 20)) stream << value / double(1 << 20) << " MiB";
  else if (bytes >= (1 << 10)) stream << value / double(1 << 10) << " KiB";
  else stream << bytes << " B";
  return stream.str();
}

bool contains(std::span<const int> values, int value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

std::string divisors_of(int n) {
  std::vector<int> divisors;
  for (int d = 1; d <= n; ++d)
    if (n % d == 0) divisors.push_back(d);
  return join_ints(divisors);
}

}  // namespace

// ---- derived sizes ---------------------------------------------------------------------------------

float Scenario::effective_scale() const {
  if (scale) return *scale;
  return head_size > 0 ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_size))) : 1.0f;
}

int Scenario::max_seq_len() const {
  int longest = 0;
  for (int seq_len : seq_lens) longest = std::max(longest, seq_len);
  return longest;
}

int Scenario::max_num_blocks_per_seq() const { return saturate_to_int(ceil_div(max_seq_len(), block_size)); }

int Scenario::num_blocks_needed() const { return saturate_to_int(blocks_needed_wide(*this)); }

int Scenario::effective_num_blocks() const { return saturate_to_int(num_blocks_wide(*this)); }

int Scenario::max_num_partitions() const { return saturate_to_int(ceil_div(max_seq_len(), partition_size)); }

int Scenario::kv_cache_element_size() const { return is_fp8(kv_cache_dtype) ? 1 : dtype_size_bytes(dtype); }

KernelVersion Scenario::resolved_version() const {
  if (version != KernelVersion::automatic) return version;
  // One partition: v2's reduce would be pure overhead. Many (seq, head) pairs: enough thread blocks
  // to fill the GPU without splitting sequences. Beyond 8192 tokens v1's logits may not fit in
  // shared memory on smaller GPUs, so upstream forces v2 there.
  const bool v1 = max_seq_len() <= 8192 &&
                  (max_num_partitions() == 1 ||
                   static_cast<std::int64_t>(num_seqs) * static_cast<std::int64_t>(num_heads) > 512);
  return v1 ? KernelVersion::v1 : KernelVersion::v2;
}

std::string_view version_name(KernelVersion version) {
  switch (version) {
    case KernelVersion::v1: return "v1";
    case KernelVersion::v2: return "v2";
    case KernelVersion::grouped: return "grouped";
    case KernelVersion::automatic: return "auto";
  }
  return "unknown";
}

std::string_view input_preset_name(InputPreset preset) {
  switch (preset) {
    case InputPreset::uniform: return "uniform";
    case InputPreset::peaked: return "peaked";
    case InputPreset::sink: return "sink";
    case InputPreset::recency: return "recency";
    case InputPreset::needle: return "needle";
  }
  return "unknown";
}

bool parse_input_preset(std::string_view text, InputPreset& preset) {
  for (InputPreset candidate : kInputPresets) {
    if (text == input_preset_name(candidate)) {
      preset = candidate;
      return true;
    }
  }
  return false;
}

std::string input_preset_names() {
  std::string names;
  for (InputPreset preset : kInputPresets) names += (names.empty() ? "" : ", ") + std::string(input_preset_name(preset));
  return names;
}

bool parse_version(std::string_view text, KernelVersion& version) {
  for (KernelVersion candidate : {KernelVersion::v1, KernelVersion::v2, KernelVersion::grouped, KernelVersion::automatic}) {
    if (text == version_name(candidate)) {
      version = candidate;
      return true;
    }
  }
  return false;
}

std::int64_t estimated_buffer_bytes(const Scenario& s) {
  const std::int64_t element = dtype_size_bytes(s.dtype);
  const std::int64_t kv_element = s.kv_cache_element_size();
  const std::int64_t seqs = std::max(s.num_seqs, 0);
  const std::int64_t heads = std::max(s.num_heads, 0);
  const std::int64_t head_size = std::max(s.head_size, 0);
  const std::int64_t query_bytes = seqs * heads * head_size * element;
  const std::int64_t cache_bytes =
      2 * num_blocks_wide(s) * std::max(s.num_kv_heads, 0) * head_size * std::max(s.block_size, 0) * kv_element;
  const std::int64_t partitions = ceil_div(s.max_seq_len(), s.partition_size);
  // Output, plus v2's tmp_out and two float32 statistics per partition (counted even for v1: a
  // tool may run both versions on the same inputs).
  const std::int64_t output_bytes = seqs * heads * head_size * element +
                                    seqs * heads * partitions * (head_size * element + 2 * 4);
  const std::int64_t table_bytes = seqs * ceil_div(s.max_seq_len(), s.block_size) * 4 + seqs * 4;
  return query_bytes + cache_bytes + output_bytes + table_bytes;
}

// ---- validation ------------------------------------------------------------------------------------

namespace {

using ProblemSink = std::vector<std::string>;

// The KV-cache dtype and its scales.
void kv_cache_problems(const Scenario& s, bool head_size_ok, ProblemSink& problems) {
  const bool fp8 = is_fp8(s.kv_cache_dtype);
  const std::string cache_name(kv_cache_dtype_name(s.kv_cache_dtype));
  if (fp8 && head_size_ok && !fp8_cache_takes_head_size(s.head_size)) {
    std::vector<int> fp8_head_sizes;
    for (int head_size : kSupportedHeadSizes)
      if (fp8_cache_takes_head_size(head_size)) fp8_head_sizes.push_back(head_size);
    problems.push_back("head_size = " + std::to_string(s.head_size) + " cannot use an fp8 KV cache (kv_cache_dtype = " +
                       cache_name + "): the key cache packs x = 16 one-byte elements into each 16-byte chunk, so "
                       "head_size must be a multiple of 16, as upstream requires; head sizes for fp8: " +
                       join_ints(fp8_head_sizes));
  }
  const Fp8Format format = fp8_format_of(s.kv_cache_dtype);
  for (const auto& [name, value, cache] : {std::tuple{"k_scale", s.k_scale, "key"}, std::tuple{"v_scale", s.v_scale, "value"}}) {
    const std::string field = std::string(name) + " = " + format_float(value);
    if (!std::isfinite(value) || value <= 0.0f) {
      problems.push_back(field + " is invalid; it must be a finite number > 0 (an fp8 " + cache + " cache stores " +
                         cache + " / " + name + ")");
    } else if (!fp8 && value != 1.0f) {
      problems.push_back(field + " has no effect: scales apply only to fp8 KV caches, and kv_cache_dtype = auto; "
                         "use --kv-cache-dtype fp8_e4m3 or fp8_e5m2, or leave " + name + " at 1");
    } else if (fp8 && s.dtype != DType::bf16) {
      // fp16 queries round the dequantised product to fp16, and so do fp32 queries wherever upstream
      // converts two or more codes at once (see core/fp8.h): the largest code times the scale must
      // stay a finite fp16.
      const float largest = fp8_max_finite(format) * value;
      if (!std::isfinite(round_to<fp16_t>(largest)))
        problems.push_back(field + " is too large for " + cache_name + " with " + std::string(dtype_name(s.dtype)) +
                           " queries: the kernel dequantises through fp16, and the largest " +
                           std::string(fp8_format_name(format)) + " value " + format_float(fp8_max_finite(format)) +
                           " times " + format_float(value) + " overflows fp16 (largest finite 65504), so " + cache +
                           "s could become inf; use " + name + " < " + format_float(65520.0 / fp8_max_finite(format)) +
                           ", or bf16 queries");
    }
  }
}

// blocksparse_* and tp_rank: ranges always, the rest only when block sparsity is on.
void block_sparse_problems(const Scenario& s, bool heads_ok, bool block_size_ok, bool seq_lens_ok,
                           ProblemSink& problems) {
  const BlockSparseParams& p = s.block_sparse;
  if (p.vert_stride < 0)
    problems.push_back("blocksparse_vert_stride = " + std::to_string(p.vert_stride) +
                       " is invalid; it must be >= 0 (0 or 1: dense attention; > 1: block-sparse, one remote "
                       "sparse block in every vert_stride)");
  if (p.local_blocks < 0)
    problems.push_back("blocksparse_local_blocks = " + std::to_string(p.local_blocks) +
                       " is invalid; it must be >= 0 (the number of most recent sparse blocks always attended)");
  if (p.block_size < 1)
    problems.push_back("blocksparse_block_size = " + std::to_string(p.block_size) +
                       " is invalid; it must be a positive number of tokens (64 for Phi-3-small)");
  if (p.tp_rank < 0)
    problems.push_back("tp_rank = " + std::to_string(p.tp_rank) + " is invalid; a tensor-parallel rank is >= 0");
  if (!p.enabled()) return;

  const std::string sparse_on = " with block-sparse attention on (blocksparse_vert_stride = " +
                                std::to_string(p.vert_stride) + ")";
  if (p.local_blocks < 1)
    problems.push_back("blocksparse_local_blocks = " + std::to_string(p.local_blocks) + sparse_on +
                       ": a query could attend to nothing, because only the local rule guarantees that the query's "
                       "own sparse block is read; set blocksparse_local_blocks >= 1 (Phi-3-small uses 16)");
  if (block_size_ok && p.block_size >= 1 && p.block_size % s.block_size != 0)
    problems.push_back("blocksparse_block_size = " + std::to_string(p.block_size) + " is not a multiple of block_size = " +
                       std::to_string(s.block_size) + sparse_on +
                       ": the kernel decides per kv_block, so a sparse block must hold whole kv_blocks (otherwise "
                       "the query's own kv_block could be skipped); use " + std::to_string(s.block_size) + ", " +
                       std::to_string(2 * s.block_size) + ", ... (64 for Phi-3-small)");
  // The kernel computes tp_rank * heads + head, times |step|, + 1 + k_bs, all in 32-bit ints.
  const std::int64_t step = std::abs(std::int64_t{p.head_sliding_step});
  if (step > std::numeric_limits<int>::max()) {
    problems.push_back("blocksparse_head_sliding_step = " + std::to_string(p.head_sliding_step) +
                       " is out of range; its magnitude must fit in an int");
  } else if (heads_ok && seq_lens_ok && p.tp_rank >= 0 && p.block_size >= 1) {
    const std::int64_t heads = p.head_sliding_step >= 0 ? s.num_heads : s.num_kv_heads;
    const std::int64_t largest_global_head = std::int64_t{p.tp_rank} * heads + heads - 1;
    const std::int64_t largest_offset = largest_global_head * step + 1;
    const std::int64_t largest = largest_offset + std::max(s.max_seq_len() - 1, 0) / p.block_size;
    if (largest_global_head > std::numeric_limits<int>::max() || largest > std::numeric_limits<int>::max())
      problems.push_back("tp_rank = " + std::to_string(p.tp_rank) + " with blocksparse_head_sliding_step = " +
                         std::to_string(p.head_sliding_step) + " gives head offsets up to " +
                         std::to_string(largest_offset) +
                         ", beyond the kernel's 32-bit arithmetic; use a smaller tp_rank or sliding step");
  }
}

}  // namespace

std::vector<std::string> scenario_problems(const Scenario& s, std::int64_t max_buffer_bytes) {
  std::vector<std::string> problems;
  auto problem = [&problems](std::string text) { problems.push_back(std::move(text)); };

  if (s.num_seqs < 1)
    problem("num_seqs = " + std::to_string(s.num_seqs) + " is invalid; it must be at least 1");
  else if (s.num_seqs > kMaxNumSeqs)
    problem("num_seqs = " + std::to_string(s.num_seqs) + " is too large; at most " + std::to_string(kMaxNumSeqs) +
            " sequences fit in one launch because the sequence index is gridDim.y");

  const bool heads_in_range = s.num_heads >= 1 && s.num_heads <= kMaxNumHeads;
  if (!heads_in_range)
    problem("num_heads = " + std::to_string(s.num_heads) + " is out of range; it must be between 1 and " +
            std::to_string(kMaxNumHeads));
  if (s.num_kv_heads < 1 || s.num_kv_heads > kMaxNumHeads)
    problem("num_kv_heads = " + std::to_string(s.num_kv_heads) + " is out of range; it must be between 1 and num_heads");
  else if (heads_in_range && s.num_heads % s.num_kv_heads != 0)
    problem("num_heads = " + std::to_string(s.num_heads) + " is not a multiple of num_kv_heads = " +
            std::to_string(s.num_kv_heads) +
            "; every KV head serves the same number of query heads, so num_kv_heads must divide num_heads (" +
            "valid num_kv_heads for " + std::to_string(s.num_heads) + " heads: " + divisors_of(s.num_heads) + ")");

  const bool head_size_ok = contains(kSupportedHeadSizes, s.head_size);
  if (!head_size_ok)
    problem("head_size = " + std::to_string(s.head_size) + " is not supported; supported head sizes are " +
            join_ints(kSupportedHeadSizes) + " (the kernel is compiled for each one)");
  const bool block_size_ok = contains(kSupportedBlockSizes, s.block_size);
  if (!block_size_ok)
    problem("block_size = " + std::to_string(s.block_size) + " is not supported; supported block sizes are " +
            join_ints(kSupportedBlockSizes) + " tokens per KV block");

  kv_cache_problems(s, head_size_ok, problems);

  bool seq_lens_ok = true;
  if (s.seq_lens.empty()) {
    problem("seq_lens is empty; give one context length per sequence, e.g. --seq-lens 5,17,300");
    seq_lens_ok = false;
  } else if (s.num_seqs >= 1 && s.num_seqs <= kMaxNumSeqs && s.seq_lens.size() != static_cast<std::size_t>(s.num_seqs)) {
    // (An out-of-range num_seqs is reported above; comparing the list's length with it adds nothing.)
    problem("seq_lens has " + std::to_string(s.seq_lens.size()) + (s.seq_lens.size() == 1 ? " entry" : " entries") + " but num_seqs = " +
            std::to_string(s.num_seqs) + "; give exactly one context length per sequence");
  }
  for (std::size_t i = 0; i < s.seq_lens.size(); ++i) {
    const int seq_len = s.seq_lens[i];
    if (seq_len < 1) {
      problem("seq_lens[" + std::to_string(i) + "] = " + std::to_string(seq_len) +
              " is invalid; every context length must be at least 1 token (the current token)");
      seq_lens_ok = false;
    } else if (seq_len > kMaxSeqLen) {
      problem("seq_lens[" + std::to_string(i) + "] = " + std::to_string(seq_len) + " is too long; at most " +
              std::to_string(kMaxSeqLen) + " tokens per sequence");
      seq_lens_ok = false;
    }
  }

  if (s.num_blocks < 0) {
    problem("num_blocks = " + std::to_string(s.num_blocks) +
            " is invalid; give the KV-cache pool size in blocks, or 0 for enough blocks plus spares");
  } else if (s.num_blocks > 0 && block_size_ok && seq_lens_ok) {
    const std::int64_t needed = blocks_needed_wide(s);
    if (s.num_blocks < needed)
      problem("num_blocks = " + std::to_string(s.num_blocks) + " is too small: the sequences need " +
              std::to_string(needed) + " KV blocks of " + std::to_string(s.block_size) +
              " tokens; set num_blocks >= " + std::to_string(needed) + ", or 0 for the default pool");
  }

  if (s.scale && (!std::isfinite(*s.scale) || *s.scale <= 0.0f))
    problem("scale = " + format_float(*s.scale) +
            " is invalid; the softmax scale must be a finite number > 0 (default 1/sqrt(head_size))");

  const bool kv_heads_ok = s.num_kv_heads >= 1 && s.num_kv_heads <= kMaxNumHeads;
  block_sparse_problems(s, heads_in_range && kv_heads_ok, block_size_ok, seq_lens_ok && !s.seq_lens.empty(), problems);

  if (s.version == KernelVersion::grouped) {
    // The grouped kernel runs every dtype, head size, block size, group size (num_heads /
    // num_kv_heads, MHA to MQA) and KV cache dtype (auto, fp8 E4M3 / E5M2 with their scales) that
    // v1/v2 run; it does not take block sparsity yet.
    if (s.block_sparse.enabled())
      problem("version = grouped with blocksparse_vert_stride = " + std::to_string(s.block_sparse.vert_stride) +
              ": the grouped kernel attends every token (block sparsity is not built into it yet; v1 and v2 "
              "run it); use --version v1 or v2 for block-sparse attention, or --blocksparse-vert-stride 0 with "
              "grouped");
  }

  if (s.num_threads != kNumThreads)
    problem("num_threads = " + std::to_string(s.num_threads) + " is not supported; only " +
            std::to_string(kNumThreads) + " threads per thread block are compiled");
  if (s.partition_size != kPartitionSize)
    problem("partition_size = " + std::to_string(s.partition_size) + " is not supported; only " +
            std::to_string(kPartitionSize) + " tokens per partition are compiled");
  if (s.partition_size > 0 && block_size_ok && s.partition_size % s.block_size != 0)
    problem("partition_size = " + std::to_string(s.partition_size) + " is not a multiple of block_size = " +
            std::to_string(s.block_size) + "; a v2 partition must hold whole KV blocks");

  // Only meaningful once the sizes themselves are sane; otherwise the estimate is noise.
  if (problems.empty()) {
    const std::int64_t bytes = estimated_buffer_bytes(s);
    if (bytes > max_buffer_bytes) {
      Scenario no_cache = s;
      no_cache.num_kv_heads = 0;
      const std::int64_t cache_bytes = bytes - estimated_buffer_bytes(no_cache);
      const std::string shrink = cache_bytes * 2 > bytes
                                     ? (s.num_blocks > 0 ? "num_blocks or seq_lens" : "seq_lens")
                                     : "num_seqs, num_heads or seq_lens";
      problem("the scenario's buffers would take " + format_bytes(bytes) + " of host memory (KV cache " +
              format_bytes(cache_bytes) + "), more than the " + format_bytes(max_buffer_bytes) +
              " limit; shrink " + shrink);
    }
  }
  return problems;
}

void validate_scenario(const Scenario& scenario) {
  const std::vector<std::string> problems = scenario_problems(scenario);
  if (problems.empty()) return;
  std::string message = problems.size() == 1 ? "invalid scenario: " : "invalid scenario:";
  if (problems.size() == 1) {
    message += problems.front();
  } else {
    for (const std::string& text : problems) message += "\n  - " + text;
  }
  throw ScenarioError(message);
}

// ---- JSON ------------------------------------------------------------------------------------------

json scenario_to_json(const Scenario& s) {
  json out = json::object();
  out["num_seqs"] = s.num_seqs;
  out["num_heads"] = s.num_heads;
  out["num_kv_heads"] = s.num_kv_heads;
  out["head_size"] = s.head_size;
  out["block_size"] = s.block_size;
  out["dtype"] = std::string(dtype_name(s.dtype));
  out["kv_cache_dtype"] = std::string(kv_cache_dtype_name(s.kv_cache_dtype));
  out["k_scale"] = s.k_scale;
  out["v_scale"] = s.v_scale;
  out["seq_lens"] = s.seq_lens;
  out["num_blocks"] = s.num_blocks;
  out["alibi"] = s.alibi;
  out["scale"] = s.scale ? json(*s.scale) : json(nullptr);
  out["blocksparse_local_blocks"] = s.block_sparse.local_blocks;
  out["blocksparse_vert_stride"] = s.block_sparse.vert_stride;
  out["blocksparse_block_size"] = s.block_sparse.block_size;
  out["blocksparse_head_sliding_step"] = s.block_sparse.head_sliding_step;
  out["tp_rank"] = s.block_sparse.tp_rank;
  out["version"] = std::string(version_name(s.version));
  out["num_threads"] = s.num_threads;
  out["partition_size"] = s.partition_size;
  out["seed"] = s.seed;
  out["input_preset"] = std::string(input_preset_name(s.input_preset));
  return out;
}

namespace {

// Values come from a user's file: quoted as a short escaped excerpt (untrusted_json.h).
std::string describe(const json& value) { return describe_json(value); }

int json_int(const json& value, const std::string& field) {
  if (!value.is_number_integer())
    throw ScenarioError("scenario field '" + field + "' must be an integer, got " + describe(value));
  if (value.is_number_unsigned()) {
    const auto wide = value.get<std::uint64_t>();
    if (wide > static_cast<std::uint64_t>(std::numeric_limits<int>::max()))
      throw ScenarioError("scenario field '" + field + "' = " + describe(value) + " is out of range");
    return static_cast<int>(wide);
  }
  const auto wide = value.get<std::int64_t>();
  if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max())
    throw ScenarioError("scenario field '" + field + "' = " + describe(value) + " is out of range");
  return static_cast<int>(wide);
}

DType json_dtype(const json& value, const std::string& field) {
  DType dtype{};
  if (!value.is_string() || !parse_dtype(value.get<std::string>(), dtype))
    throw ScenarioError("scenario field '" + field + "' = " + describe(value) +
                        " is not a known dtype; valid: \"fp32\", \"fp16\", \"bf16\"");
  return dtype;
}

// A number as a float; beyond float's range it becomes +-inf (refused by validation) instead of an
// undefined narrowing conversion.
float json_float(const json& value, const std::string& field) {
  if (!value.is_number()) throw ScenarioError("scenario field '" + field + "' must be a number, got " + describe(value));
  const double wide = value.get<double>();
  if (std::fabs(wide) > std::numeric_limits<float>::max())
    return wide > 0 ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
  return static_cast<float>(wide);
}

}  // namespace

Scenario scenario_from_json(const json& in, const Scenario& base) {
  if (!in.is_object()) throw ScenarioError("a scenario must be a JSON object, got " + describe(in));
  Scenario s = base;
  bool has_num_seqs = false, has_seq_lens = false;
  // A query dtype named as the cache dtype (files written before fp8 existed).
  bool has_legacy_kv_cache_dtype = false;
  DType legacy_kv_cache_dtype = DType::fp32;
  for (const auto& [key, value] : in.items()) {
    if (key == "num_seqs") {
      s.num_seqs = json_int(value, key);
      has_num_seqs = true;
    } else if (key == "num_heads") {
      s.num_heads = json_int(value, key);
    } else if (key == "num_kv_heads") {
      s.num_kv_heads = json_int(value, key);
    } else if (key == "head_size") {
      s.head_size = json_int(value, key);
    } else if (key == "block_size") {
      s.block_size = json_int(value, key);
    } else if (key == "dtype") {
      s.dtype = json_dtype(value, key);
    } else if (key == "kv_cache_dtype") {
      if (value.is_string() && parse_kv_cache_dtype(value.get<std::string>(), s.kv_cache_dtype)) {
        has_legacy_kv_cache_dtype = false;
      } else if (value.is_string() && parse_dtype(value.get<std::string>(), legacy_kv_cache_dtype)) {
        has_legacy_kv_cache_dtype = true;
        s.kv_cache_dtype = KvCacheDtype::automatic;
      } else {
        throw ScenarioError("scenario field 'kv_cache_dtype' = " + describe(value) +
                            " is not valid; valid: \"auto\" (the query dtype), \"fp8\" (= \"fp8_e4m3\"), "
                            "\"fp8_e4m3\", \"fp8_e5m2\"");
      }
    } else if (key == "k_scale" || key == "v_scale") {
      (key == "k_scale" ? s.k_scale : s.v_scale) = json_float(value, key);
    } else if (key == "blocksparse_local_blocks") {
      s.block_sparse.local_blocks = json_int(value, key);
    } else if (key == "blocksparse_vert_stride") {
      s.block_sparse.vert_stride = json_int(value, key);
    } else if (key == "blocksparse_block_size") {
      s.block_sparse.block_size = json_int(value, key);
    } else if (key == "blocksparse_head_sliding_step") {
      s.block_sparse.head_sliding_step = json_int(value, key);
    } else if (key == "tp_rank") {
      s.block_sparse.tp_rank = json_int(value, key);
    } else if (key == "seq_lens") {
      if (!value.is_array())
        throw ScenarioError("scenario field 'seq_lens' must be an array of integers, got " + describe(value));
      s.seq_lens.clear();
      for (std::size_t i = 0; i < value.size(); ++i)
        s.seq_lens.push_back(json_int(value[i], "seq_lens[" + std::to_string(i) + "]"));
      has_seq_lens = true;
    } else if (key == "num_blocks") {
      s.num_blocks = json_int(value, key);
    } else if (key == "alibi") {
      if (!value.is_boolean())
        throw ScenarioError("scenario field 'alibi' must be true or false, got " + describe(value));
      s.alibi = value.get<bool>();
    } else if (key == "scale") {
      if (value.is_null()) {
        s.scale.reset();
      } else if (value.is_number()) {
        // Through double: a value beyond float's range becomes inf (and is then rejected by
        // validation) instead of an undefined narrowing conversion.
        const double wide = value.get<double>();
        s.scale = std::fabs(wide) > std::numeric_limits<float>::max()
                      ? std::copysign(std::numeric_limits<float>::infinity(), static_cast<float>(wide > 0 ? 1 : -1))
                      : static_cast<float>(wide);
      } else {
        throw ScenarioError("scenario field 'scale' must be a number or null (null = 1/sqrt(head_size)), got " +
                            describe(value));
      }
    } else if (key == "version") {
      if (!value.is_string() || !parse_version(value.get<std::string>(), s.version))
        throw ScenarioError("scenario field 'version' = " + describe(value) +
                             " is not valid; valid: \"v1\", \"v2\", \"grouped\", \"auto\"");
    } else if (key == "num_threads") {
      s.num_threads = json_int(value, key);
    } else if (key == "partition_size") {
      s.partition_size = json_int(value, key);
    } else if (key == "seed") {
      if (!value.is_number_integer() || (!value.is_number_unsigned() && value.get<std::int64_t>() < 0))
        throw ScenarioError("scenario field 'seed' must be a non-negative integer, got " + describe(value));
      s.seed = value.get<std::uint64_t>();
    } else if (key == "input_preset") {
      if (!value.is_string() || !parse_input_preset(value.get<std::string>(), s.input_preset))
        throw ScenarioError("scenario field 'input_preset' = " + describe(value) +
                            " is not valid; valid: " + input_preset_names());
    } else {
      throw ScenarioError("unknown scenario field '" + quote_excerpt(key) +
                          "'; known fields: num_seqs, num_heads, num_kv_heads, head_size, block_size, dtype, "
                          "kv_cache_dtype, k_scale, v_scale, seq_lens, num_blocks, alibi, scale, "
                          "blocksparse_local_blocks, blocksparse_vert_stride, blocksparse_block_size, "
                          "blocksparse_head_sliding_step, tp_rank, version, num_threads, partition_size, seed, "
                          "input_preset");
    }
  }
  if (has_seq_lens && !has_num_seqs) s.num_seqs = static_cast<int>(s.seq_lens.size());
  // A cache dtype equal to the query dtype is what "auto" means; any other is no kernel configuration.
  if (has_legacy_kv_cache_dtype && legacy_kv_cache_dtype != s.dtype)
    throw ScenarioError("scenario field 'kv_cache_dtype' = \"" + std::string(dtype_name(legacy_kv_cache_dtype)) +
                        "\" differs from dtype = \"" + std::string(dtype_name(s.dtype)) +
                        "\"; the KV cache stores the query dtype (\"auto\") or fp8 (\"fp8_e4m3\", \"fp8_e5m2\")");
  return s;
}

Scenario load_scenario_file(const std::string& path, const Scenario& base) {
  const std::string contents = InputFile(path, "scenario file")
                                   .read_all(kMaxScenarioFileBytes,
                                             "a scenario of the most sequences allowed takes under 1 MiB");
  json parsed;
  try {
    parsed = parse_untrusted_json(contents, JsonLimits{kMaxJsonDepth, kMaxScenarioFileBytes});
  } catch (const ScenarioError& e) {
    throw ScenarioError("scenario file '" + path + "' " + e.what());
  }
  try {
    return scenario_from_json(parsed, base);
  } catch (const ScenarioError& e) {
    throw ScenarioError("scenario file '" + path + "': " + e.what());
  }
}

void save_scenario_file(const Scenario& scenario, const std::string& path) {
  write_output_file(path, scenario_to_json(scenario).dump(2) + "\n");
}

std::string scenario_summary(const Scenario& s) {
  std::string lens;
  constexpr std::size_t kShown = 6;
  for (std::size_t i = 0; i < s.seq_lens.size() && i < kShown; ++i) lens += (i ? "," : "") + std::to_string(s.seq_lens[i]);
  if (s.seq_lens.size() > kShown) lens += ",... (" + std::to_string(s.seq_lens.size()) + " total)";
  std::string text = std::string(version_name(s.version));
  if (s.version == KernelVersion::automatic) text += "->" + std::string(version_name(s.resolved_version()));
  text += " " + std::string(dtype_name(s.dtype));
  if (is_fp8(s.kv_cache_dtype))
    text += "/kv " + std::string(kv_cache_dtype_name(s.kv_cache_dtype)) + " k_scale=" + format_float(s.k_scale) +
            " v_scale=" + format_float(s.v_scale);
  text += " seqs=" + std::to_string(s.num_seqs) + " heads=" + std::to_string(s.num_heads) + "/" +
          std::to_string(s.num_kv_heads) + "kv head_size=" + std::to_string(s.head_size) +
          " block_size=" + std::to_string(s.block_size) + " seq_lens=[" + lens + "] num_blocks=" +
          std::to_string(s.effective_num_blocks()) + " alibi=" + (s.alibi ? "on" : "off") +
          " scale=" + format_float(s.effective_scale()) + " seed=" + std::to_string(s.seed) +
          " inputs=" + std::string(input_preset_name(s.input_preset));
  const BlockSparseParams& sparse = s.block_sparse;
  if (sparse.enabled())
    text += " blocksparse(local_blocks=" + std::to_string(sparse.local_blocks) +
            " vert_stride=" + std::to_string(sparse.vert_stride) + " block_size=" + std::to_string(sparse.block_size) +
            " head_sliding_step=" + std::to_string(sparse.head_sliding_step) +
            " tp_rank=" + std::to_string(sparse.tp_rank) + ")";
  return text;
}

// ---- command-line flags ------------------------------------------------------------------------------

namespace {

// `text` as an int; otherwise what is wrong with it: not an integer, or beyond int's range (which
// validation would never see, so the flag says it: "too large", not "not an integer").
std::optional<std::string> int_problem(std::string_view text, int& value) {
  const char* begin = text.data();
  const char* end = begin + text.size();
  const auto [ptr, error] = std::from_chars(begin, end, value);
  if (error == std::errc::result_out_of_range && ptr == end)
    return !text.empty() && text.front() == '-'
               ? "is too small; at least " + std::to_string(std::numeric_limits<int>::min())
               : "is too large; at most " + std::to_string(std::numeric_limits<int>::max());
  if (error != std::errc{} || ptr != end || text.empty()) return std::string("is not an integer");
  return std::nullopt;
}

void add_int_flag(CLI::App& app, const std::string& name, std::optional<int>& target, const std::string& help,
                  const std::string& group) {
  app.add_option_function<std::string>(
         name,
         [&target, name](const std::string& text) {
           int value = 0;
           if (auto problem = int_problem(text, value))
             throw CLI::ValidationError(name, "'" + quote_excerpt(text) + "' " + *problem);
           target = value;
         },
         help)
      ->type_name("INT")
      ->group(group);
}

}  // namespace

Scenario front_end_scenario() {
  Scenario s;
  s.input_preset = kFrontEndInputPreset;
  return s;
}

void add_scenario_flags(CLI::App& app, ScenarioFlags& flags, const Scenario& defaults) {
  const std::string group = "Scenario";
  app.add_option("--scenario", flags.scenario_file, "JSON scenario file; the flags below override its fields")
      ->group(group);
  add_int_flag(app, "--num-seqs", flags.num_seqs, "Sequences in the batch (default: the length of --seq-lens)", group);
  add_int_flag(app, "--num-heads", flags.num_heads, "Query heads", group);
  add_int_flag(app, "--num-kv-heads", flags.num_kv_heads, "KV heads (must divide --num-heads)", group);
  add_int_flag(app, "--head-size", flags.head_size, "Head size: " + join_ints(kSupportedHeadSizes), group);
  add_int_flag(app, "--block-size", flags.block_size, "Tokens per KV block: " + join_ints(kSupportedBlockSizes), group);
  app.add_option("--dtype", flags.dtype, "Query and output dtype (and the KV cache's with --kv-cache-dtype auto)")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16"}))
      ->group(group);
  app.add_option("--kv-cache-dtype", flags.kv_cache_dtype,
                 "What the KV cache stores: auto (the query dtype), fp8 (= fp8_e4m3), fp8_e4m3 or fp8_e5m2")
      ->check(CLI::IsMember({"auto", "fp8", "fp8_e4m3", "fp8_e5m2"}))
      ->group(group);
  app.add_option("--k-scale", flags.k_scale, "fp8 caches: the key cache stores key / k_scale (default 1)")->group(group);
  app.add_option("--v-scale", flags.v_scale, "fp8 caches: the value cache stores value / v_scale (default 1)")
      ->group(group);
  app.add_option_function<std::string>(
         "--seq-lens",
         [&flags](const std::string& text) {
           std::vector<int> lens;
           std::size_t start = 0;
           while (true) {
             const std::size_t comma = text.find(',', start);
             const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
             int value = 0;
             if (auto problem = int_problem(item, value))
               throw CLI::ValidationError("--seq-lens", "entry " + std::to_string(lens.size()) + " '" +
                                                            quote_excerpt(item) + "' of '" + quote_excerpt(text) +
                                                            "' " + *problem + "; give context lengths like 5,17,300");
             lens.push_back(value);
             if (comma == std::string::npos) break;
             start = comma + 1;
           }
           flags.seq_lens = std::move(lens);
         },
         "Context length of each sequence, comma separated (e.g. 5,17,300)")
      ->group(group);
  add_int_flag(app, "--num-blocks", flags.num_blocks, "KV-cache pool size in blocks (0 = needed + spares)", group);
  auto* alibi = app.add_flag("--alibi", flags.alibi, "Add ALiBi position biases")->group(group);
  auto* no_alibi = app.add_flag("--no-alibi", flags.no_alibi, "No ALiBi (overrides the scenario file)")->group(group);
  alibi->excludes(no_alibi);
  app.add_option("--scale", flags.scale,
                 "Softmax scale (default " +
                     (defaults.scale ? format_float(*defaults.scale) : std::string("1/sqrt(head size), the true scale")) + ")")
      ->group(group);
  add_int_flag(app, "--blocksparse-local-blocks", flags.blocksparse_local_blocks,
               "Block-sparse: most recent sparse blocks always attended (default 0)", group);
  add_int_flag(app, "--blocksparse-vert-stride", flags.blocksparse_vert_stride,
               "Block-sparse: one remote sparse block in every N; block-sparse is on when N > 1 (default 0)", group);
  add_int_flag(app, "--blocksparse-block-size", flags.blocksparse_block_size,
               "Block-sparse: tokens per sparse block, a multiple of --block-size (default 64)", group);
  add_int_flag(app, "--blocksparse-head-sliding-step", flags.blocksparse_head_sliding_step,
               "Block-sparse: per-head shift of the remote pattern; negative shifts by KV head (default 0)", group);
  add_int_flag(app, "--tp-rank", flags.tp_rank,
               "Tensor-parallel rank: makes head indices global for block-sparse (default 0)", group);
  app.add_option("--version", flags.version,
                 "Kernel version: v1, v2 (upstream's kernel), grouped (one thread block per KV head and query "
                 "group), or auto: on an unrecorded GPU run grouped where this project measured it faster (fp16/bf16, "
                 "query groups >= 2; multi-head with batch x KV heads <= 256 or > 2048 tokens; fp8 caches: query groups "
                 ">= 2, multi-head up to 32 pairs and 2048 tokens), else upstream's v1/v2 heuristic")
      ->check(CLI::IsMember({"v1", "v2", "grouped", "auto"}))
      ->group(group);
  app.add_option_function<std::string>(
         "--seed",
         [&flags](const std::string& text) {
           std::uint64_t value = 0;
           const auto [ptr, error] = std::from_chars(text.data(), text.data() + text.size(), value);
           if (error != std::errc{} || ptr != text.data() + text.size())
             throw CLI::ValidationError("--seed", "'" + quote_excerpt(text) + "' is not a non-negative 64-bit integer");
           flags.seed = value;
         },
         "Seed of the input generator")
      ->group(group);
  std::vector<std::string> preset_names;
  for (InputPreset preset : kInputPresets) preset_names.emplace_back(input_preset_name(preset));
  app.add_option("--input-preset", flags.input_preset,
                 "Attention pattern of the generated inputs: uniform (upstream's test draws: an almost flat "
                 "softmax), peaked, sink (first tokens), recency, needle (one planted token); default " +
                     std::string(input_preset_name(defaults.input_preset)))
      ->check(CLI::IsMember(preset_names))
      ->group(group);
}

Scenario resolve_scenario_flags(const ScenarioFlags& flags, const Scenario& defaults) {
  Scenario s = flags.scenario_file.empty() ? defaults : load_scenario_file(flags.scenario_file, defaults);
  if (flags.seq_lens) {
    s.seq_lens = *flags.seq_lens;
    if (!flags.num_seqs) s.num_seqs = static_cast<int>(s.seq_lens.size());
  }
  if (flags.num_seqs) s.num_seqs = *flags.num_seqs;
  if (flags.num_heads) s.num_heads = *flags.num_heads;
  if (flags.num_kv_heads) s.num_kv_heads = *flags.num_kv_heads;
  if (flags.head_size) s.head_size = *flags.head_size;
  if (flags.block_size) s.block_size = *flags.block_size;
  if (flags.num_blocks) s.num_blocks = *flags.num_blocks;
  if (flags.dtype && !parse_dtype(*flags.dtype, s.dtype))
    throw ScenarioError("--dtype " + *flags.dtype + " is not a known dtype; valid: fp32, fp16, bf16");
  if (flags.kv_cache_dtype && !parse_kv_cache_dtype(*flags.kv_cache_dtype, s.kv_cache_dtype))
    throw ScenarioError("--kv-cache-dtype " + *flags.kv_cache_dtype +
                        " is not valid; valid: auto, fp8 (= fp8_e4m3), fp8_e4m3, fp8_e5m2");
  if (flags.k_scale) s.k_scale = *flags.k_scale;
  if (flags.v_scale) s.v_scale = *flags.v_scale;
  if (flags.blocksparse_local_blocks) s.block_sparse.local_blocks = *flags.blocksparse_local_blocks;
  if (flags.blocksparse_vert_stride) s.block_sparse.vert_stride = *flags.blocksparse_vert_stride;
  if (flags.blocksparse_block_size) s.block_sparse.block_size = *flags.blocksparse_block_size;
  if (flags.blocksparse_head_sliding_step) s.block_sparse.head_sliding_step = *flags.blocksparse_head_sliding_step;
  if (flags.tp_rank) s.block_sparse.tp_rank = *flags.tp_rank;
  if (flags.version && !parse_version(*flags.version, s.version))
    throw ScenarioError("--version " + *flags.version + " is not valid; valid: v1, v2, auto");
  if (flags.alibi && flags.no_alibi) throw ScenarioError("--alibi and --no-alibi contradict each other; give one");
  if (flags.alibi) s.alibi = true;
  if (flags.no_alibi) s.alibi = false;
  if (flags.scale) s.scale = *flags.scale;
  if (flags.seed) s.seed = *flags.seed;
  if (flags.input_preset && !parse_input_preset(*flags.input_preset, s.input_preset))
    throw ScenarioError("--input-preset " + *flags.input_preset + " is not valid; valid: " + input_preset_names());
  validate_scenario(s);
  return s;
}

std::vector<std::string> given_scenario_flags(const ScenarioFlags& flags) {
  std::vector<std::string> given;
  auto note = [&given](bool is_given, const char* name) {
    if (is_given) given.emplace_back(name);
  };
  note(!flags.scenario_file.empty(), "--scenario");
  note(flags.num_seqs.has_value(), "--num-seqs");
  note(flags.num_heads.has_value(), "--num-heads");
  note(flags.num_kv_heads.has_value(), "--num-kv-heads");
  note(flags.head_size.has_value(), "--head-size");
  note(flags.block_size.has_value(), "--block-size");
  note(flags.dtype.has_value(), "--dtype");
  note(flags.kv_cache_dtype.has_value(), "--kv-cache-dtype");
  note(flags.k_scale.has_value(), "--k-scale");
  note(flags.v_scale.has_value(), "--v-scale");
  note(flags.seq_lens.has_value(), "--seq-lens");
  note(flags.num_blocks.has_value(), "--num-blocks");
  note(flags.alibi, "--alibi");
  note(flags.no_alibi, "--no-alibi");
  note(flags.scale.has_value(), "--scale");
  note(flags.blocksparse_local_blocks.has_value(), "--blocksparse-local-blocks");
  note(flags.blocksparse_vert_stride.has_value(), "--blocksparse-vert-stride");
  note(flags.blocksparse_block_size.has_value(), "--blocksparse-block-size");
  note(flags.blocksparse_head_sliding_step.has_value(), "--blocksparse-head-sliding-step");
  note(flags.tp_rank.has_value(), "--tp-rank");
  note(flags.version.has_value(), "--version");
  note(flags.seed.has_value(), "--seed");
  note(flags.input_preset.has_value(), "--input-preset");
  return given;
}

void refuse_scenario_flags(const ScenarioFlags& flags, const std::string& file_flag, bool version_allowed) {
  std::string refused;
  int num_refused = 0;
  for (const std::string& name : given_scenario_flags(flags)) {
    if (version_allowed && name == "--version") continue;
    refused += (num_refused++ ? ", " : "") + name;
  }
  if (num_refused == 0) return;
  throw ScenarioError(refused + " cannot be combined with " + file_flag +
                      ": the file's tensors and metadata fix the scenario" +
                      (version_allowed ? " (only --version may still choose the kernel)" : "") + "; leave " +
                      (num_refused == 1 ? "it" : "them") + " out");
}

}  // namespace pal
