// A scenario is one launch of the decode kernel, described the way vLLM describes it: how many
// sequences and heads, the head and KV-block sizes, the dtype, what the KV cache stores (the query
// dtype or fp8, with its scales), each sequence's context length, the size of the KV-cache pool,
// ALiBi, block sparsity, the softmax scale and which kernel version to run.
//
// The same fields are read from a small JSON file and from the command-line flags that every tool
// of the project shares (add_scenario_flags), and validate_scenario() rejects every combination the
// kernel cannot run, naming the field, its value and what would be valid.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/block_sparse.h"
#include "core/dtype.h"
#include "core/fp8.h"

namespace CLI {
class App;
}

namespace pal {

// v1 and v2 are upstream's kernel (one thread_block per query head; v2 splits long contexts into
// partitions); grouped is this project's kernel that reads each KV head once for its whole query
// group (kernels/grouped_attention_kernel.h, issue 11). `automatic` is upstream's v1/v2 heuristic: it
// never picks grouped. (grouped comes after automatic so that the older values keep their numbers.)
enum class KernelVersion : std::uint8_t { v1, v2, automatic, grouped };

// The attention pattern the generated inputs show (core/inputs.h says how the queries and keys are
// shaped to make it). Each is deterministic from the seed.
//   uniform  every query and key element uniform in +-1/sqrt(head_size), as upstream's tests draw
//            them: at the default scale every logit is near 0 and the softmax is almost flat
//   peaked   logits spread like a trained model's (about 2.5 apart): a few tokens take most of the mass
//   sink     an attention sink: the first 4 tokens of every sequence take most of the mass
//   recency  the logit grows linearly with the position: the most recent tokens take the most mass
//   needle   one planted token per sequence and KV head (at a seeded position) takes almost all of it
enum class InputPreset : std::uint8_t { uniform, peaked, sink, recency, needle };
inline constexpr InputPreset kInputPresets[] = {InputPreset::uniform, InputPreset::peaked, InputPreset::sink,
                                                InputPreset::recency, InputPreset::needle};
// What the front ends (pal-run, pal-viz, the chapters) generate when no flag or file says otherwise:
// attention a learner can see at the true scale. Scenario{} itself stays uniform, as upstream's tests.
inline constexpr InputPreset kFrontEndInputPreset = InputPreset::peaked;
std::string_view input_preset_name(InputPreset preset);                // "uniform", "peaked", ...
bool parse_input_preset(std::string_view text, InputPreset& preset);  // false when unknown
std::string input_preset_names();                                      // "uniform, peaked, sink, recency, needle"

// The values upstream compiles; anything else is rejected with this list in the message.
inline constexpr int kSupportedHeadSizes[] = {32, 64, 80, 96, 112, 120, 128, 192, 256};
inline constexpr int kSupportedBlockSizes[] = {8, 16, 32};
// An fp8 key cache packs x = 16 one-byte codes into each 16-byte chunk, so it takes the head sizes
// that are whole chunks (upstream requires the same).
constexpr bool fp8_cache_takes_head_size(int head_size) { return head_size % 16 == 0; }
inline constexpr int kNumThreads = 128;     // threads per thread block (upstream: fixed at 128)
inline constexpr int kPartitionSize = 512;  // tokens per v2 partition (upstream: fixed at 512)

// Sanity limits that reject absurd values before anything is allocated.
inline constexpr int kMaxNumSeqs = 65535;         // num_seqs is gridDim.y, which CUDA caps at 65535
inline constexpr int kMaxNumHeads = 4096;         // far above any model; keeps products in range
inline constexpr int kMaxSeqLen = 1 << 20;        // tokens per sequence
inline constexpr std::int64_t kMaxBufferBytes = std::int64_t{8} << 30;  // host memory for all tensors
// Scenario files are read whole: a scenario with the most sequences allowed (65,535 seq_lens),
// pretty-printed, takes under 1 MiB, so a larger file is refused before it is read.
inline constexpr std::size_t kMaxScenarioFileBytes = std::size_t{4} << 20;

struct Scenario {
  int num_seqs = 2;
  int num_heads = 4;
  int num_kv_heads = 2;
  int head_size = 64;
  int block_size = 16;  // tokens per KV block
  DType dtype = DType::fp16;  // q and out
  // What the KV cache stores: auto = `dtype`; fp8 = 1-byte codes of value / k_scale (keys) and
  // value / v_scale (values). The scales only apply to fp8 caches.
  KvCacheDtype kv_cache_dtype = KvCacheDtype::automatic;
  float k_scale = 1.0f;
  float v_scale = 1.0f;
  std::vector<int> seq_lens = {37, 100};
  int num_blocks = 0;  // KV-cache pool size in blocks; 0 = enough for the sequences plus spares
  bool alibi = false;
  std::optional<float> scale;  // softmax scale; unset = 1/sqrt(head_size)
  BlockSparseParams block_sparse;  // blocksparse_* and tp_rank; dense unless vert_stride > 1
  KernelVersion version = KernelVersion::automatic;
  int num_threads = kNumThreads;
  int partition_size = kPartitionSize;
  std::uint64_t seed = 0;
  InputPreset input_preset = InputPreset::uniform;  // the pattern of the generated inputs

  float effective_scale() const;
  int max_seq_len() const;
  int max_num_blocks_per_seq() const;  // columns of block_tables
  int num_blocks_needed() const;       // sum over sequences of ceil(seq_len / block_size)
  int effective_num_blocks() const;    // num_blocks, or the default pool size when 0
  int max_num_partitions() const;      // ceil(max_seq_len / partition_size)
  int kv_cache_element_size() const;   // bytes of one cached key/value element: the dtype's, or 1 for fp8
  // The explicit choice (v1, v2 or grouped), or upstream's heuristic for 'auto':
  // v1 when max_seq_len <= 8192 and (one partition or num_seqs * num_heads > 512). This is upstream's
  // choice between its two kernels only; what run_kernel's `auto` runs adds this project's rule for
  // the grouped kernel on the GPU (kernels/auto_version.h).
  KernelVersion resolved_version() const;
};

// Thrown for any invalid scenario, file or flag. what() is the full, actionable message.
class ScenarioError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Every problem found, one message each ("head_size = 100 is not supported; supported head sizes
// are 32, 64, ..."); empty when the scenario is valid. `max_buffer_bytes` bounds the host memory of
// all tensors (estimated_buffer_bytes); pal-bench, whose large inputs live on the device and are
// checked against its free memory, lifts it.
std::vector<std::string> scenario_problems(const Scenario& scenario, std::int64_t max_buffer_bytes = kMaxBufferBytes);
// Throws ScenarioError listing every problem.
void validate_scenario(const Scenario& scenario);

std::string_view version_name(KernelVersion version);  // "v1", "v2", "grouped", "auto"
bool parse_version(std::string_view text, KernelVersion& version);  // false when unknown

// Bytes of every tensor a run allocates on the host (query, both caches, block table, seq_lens,
// output and, for v2, the per-partition buffers), used to refuse scenarios that would not fit.
std::int64_t estimated_buffer_bytes(const Scenario& scenario);

// JSON (human-editable; unknown keys are errors so typos do not pass silently).
// Reading starts from `base` (the defaults) and overrides the fields the JSON names; a JSON with
// seq_lens but no num_seqs takes num_seqs from the list. kv_cache_dtype is "auto", "fp8",
// "fp8_e4m3" or "fp8_e5m2"; files written before fp8 existed name the query dtype there, which is
// read as "auto". The result is not validated (call validate_scenario).
nlohmann::json scenario_to_json(const Scenario& scenario);
Scenario scenario_from_json(const nlohmann::json& json, const Scenario& base = Scenario{});  // throws ScenarioError
Scenario load_scenario_file(const std::string& path, const Scenario& base = Scenario{});      // throws ScenarioError
void save_scenario_file(const Scenario& scenario, const std::string& path);
std::string scenario_summary(const Scenario& scenario);    // one line for logs and titles
// The scenario pal-run and pal-viz start from: Scenario{} with kFrontEndInputPreset.
Scenario front_end_scenario();

// The flags every tool shares: --num-seqs --num-heads --num-kv-heads --head-size --block-size
// --dtype --kv-cache-dtype --k-scale --v-scale --seq-lens --num-blocks --alibi --scale
// --blocksparse-local-blocks --blocksparse-vert-stride --blocksparse-block-size
// --blocksparse-head-sliding-step --tp-rank --version --seed --input-preset --scenario.
// Call add_scenario_flags before parsing and resolve_scenario_flags after: flags given on the
// command line override the file's fields, which override `defaults`. --seq-lens without --num-seqs
// sets num_seqs to the list's length. resolve_scenario_flags validates the result and throws
// ScenarioError listing every problem.
struct ScenarioFlags {
  std::string scenario_file;
  std::optional<int> num_seqs, num_heads, num_kv_heads, head_size, block_size, num_blocks;
  std::optional<std::string> dtype, kv_cache_dtype, version, input_preset;
  std::optional<std::vector<int>> seq_lens;
  std::optional<float> scale, k_scale, v_scale;
  std::optional<int> blocksparse_local_blocks, blocksparse_vert_stride, blocksparse_block_size,
      blocksparse_head_sliding_step, tp_rank;
  std::optional<std::uint64_t> seed;
  bool alibi = false;
  bool no_alibi = false;
};
// `defaults` are the tool's (what resolve_scenario_flags gets), named in the help of --scale and
// --input-preset so that --help says what a run without them does.
void add_scenario_flags(CLI::App& app, ScenarioFlags& flags, const Scenario& defaults = Scenario{});
Scenario resolve_scenario_flags(const ScenarioFlags& flags, const Scenario& defaults = Scenario{});

// The scenario flags given on the command line, by name ("--num-heads", ...).
std::vector<std::string> given_scenario_flags(const ScenarioFlags& flags);
// For a tool reading a file that fixes the scenario (pal-run --inputs, pal-viz --dump): throws
// ScenarioError naming every scenario flag that was given anyway (--version too unless
// `version_allowed`), so that no flag is ignored without a word.
void refuse_scenario_flags(const ScenarioFlags& flags, const std::string& file_flag, bool version_allowed);

}  // namespace pal
