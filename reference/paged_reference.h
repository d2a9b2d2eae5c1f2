// The scalar C++ reference of the paged-attention decode kernel: plain loops, one function per
// kernel stage, each named after the stage it stands for (kernels/stage_registry.h; the recording
// probe, the compare step, the visualizer panels and the docs use the same names).
//
// Conventions of this file:
//   - Stages run in kernel order for one thread_block = one (seq_idx, head_idx[, partition_idx]):
//       query_load -> qk_logits -> qk_max -> exp_sum -> softmax -> value_accumulation -> output
//     (v1: the whole sequence), and for v2 additionally, per (seq_idx, head_idx), partition_reduce
//     over the partitions' states (ReferenceRun::partition_states). key_gather and value_gather
//     are not stages: they are the reference's own reads of one token's K or V.
//     value_accumulation returns the finished sums; the kernel gets there in three stages
//     (value_accumulation per lane, lv_warp_reduction, cross_warp_tree).
//   - All arithmetic is fp32, as in the kernel, except where a stage says it rounds to the dtype.
//     The reference fixes *what* each stage computes, not the kernel's summation order, so the
//     comparison with the kernel allows fp32 reordering error per stage (see compare/).
//   - Token ranges are half-open [start_token_idx, end_token_idx); a token slot t inside a
//     thread_block is token_idx - start_token_idx, as in kernels/recording.h.
//   - Shapes use the notation of core/inputs.h: [dim0, dim1, ...], row-major.
//   - An fp8 cache is read as the kernel reads it: key_gather / value_gather return the dequantised
//     values, with upstream's rounding points (core/fp8.h), through this file's own gather.
//   - Block sparsity (core/block_sparse.h): a kv_block a head does not attend is never read; its
//     logits are -FLT_MAX, as the kernel writes them, and weighted_sum skips it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/inputs.h"
#include "core/scenario.h"
#include "core/softmax_state.h"
#include "core/tensor.h"
#include "kernels/geometry.h"

namespace pal {

// What the probability looks like when it meets V. The kernel converts each fp32 probability to the
// q dtype before multiplying it with the value vector (upstream PR #2368 proposed keeping it in fp32
// and was closed), so `rounded_to_dtype` is the default; `exact_fp32` shows what that rounding costs.
enum class ProbabilityPrecision : std::uint8_t { rounded_to_dtype, exact_fp32 };
std::string_view probability_precision_name(ProbabilityPrecision precision);  // "rounded", "fp32"

// ---- Stage functions ------------------------------------------------------------------------------

// Stage query_load: the shared q_vecs array of one (seq, head) in memory order
// [THREAD_GROUP_SIZE][NUM_VECS_PER_THREAD][VEC_SIZE], as floats. Lane r of every thread_group owns
// the vecs r, r + THREAD_GROUP_SIZE, r + 2*THREAD_GROUP_SIZE, ... of the query, so that neighbouring
// lanes read neighbouring 16-byte chunks (coalesced) and the same lane holds matching key chunks.
std::vector<float> query_load(const Inputs& inputs, const KernelGeometry& geometry, int seq_idx,
                              int head_idx);  // -> [head_size]
// The query in head-dim order, read back out of q_vecs (undoes query_load's interleave).
std::vector<float> query_from_q_vecs(std::span<const float> q_vecs /* [head_size] */,
                                     const KernelGeometry& geometry);  // -> [head_size]

// Which KV head serves a query head: consecutive query heads share one KV head (GQA / MQA).
int kv_head_for(int head_idx, int num_heads, int num_kv_heads);

// One token's key [head_size] (qk_logits reads every key through it), looked up through the block table
// (logical kv_block token_idx / block_size -> physical_block_number) and read from the x-split
// layout k_cache[physical_block_number][kv_head_idx][d / x][block_offset][d % x]. From an fp8 cache:
// code -> fp16 -> fp32, times k_scale, rounded to the query dtype as the kernel's VEC_SIZE-wide
// conversion rounds it.
std::vector<float> key_gather(const Inputs& inputs, int seq_idx, int kv_head_idx, int token_idx);

// Stage qk_logits: for every token of the thread_block's range, scale * dot(q, k) in fp32, plus the
// ALiBi bias slope * (token_idx - seq_len + 1) when ALiBi is on (0 for the newest token, more
// negative further back); -FLT_MAX for the tokens of a kv_block that block sparsity skips. Result
// slot t holds token range.start_token_idx + t.
std::vector<float> qk_logits(const Inputs& inputs, std::span<const float> query /* [head_size] */,
                             int seq_idx, int head_idx, const TokenRange& range);  // -> [num_tokens]

// Stage qk_max: the largest logit of the thread_block (-inf when there are no tokens).
float qk_max(std::span<const float> logits);

// Stage exp_sum: exp(logit - qk_max) in fp32 for every token, and their sum (without epsilon).
struct ExpSum {
  std::vector<float> exp_values;  // [num_tokens]
  float exp_sum = 0.0f;
};
ExpSum exp_sum(std::span<const float> logits, float max_logit);

// Stage softmax: p = e * 1/(exp_sum + epsilon), the kernel's reciprocal-then-multiply.
std::vector<float> softmax(std::span<const float> exp_values, float exp_sum);

// One token's value [head_size] via v_cache[physical_block][kv_head][d][offset] (value_accumulation's
// read; from an fp8 cache: dequantised with v_scale, rounded as the kernel's V_VEC_SIZE-wide conversion).
std::vector<float> value_gather(const Inputs& inputs, int seq_idx, int kv_head_idx, int token_idx);

// Stage value_accumulation: fp32 accumulators acc[d] = sum over the range's tokens of p_t * v_t[d],
// for query head head_idx (its kv head's values; the tokens of kv_blocks block sparsity skips do not
// take part): what the kernel holds after its cross_warp_tree. With rounded_to_dtype each p_t is
// first rounded to `dtype`, as the kernel does before its P.V product.
std::vector<float> value_accumulation(const Inputs& inputs, std::span<const float> probs /* [num_tokens] */,
                                      int seq_idx, int head_idx, const TokenRange& range, DType dtype,
                                      ProbabilityPrecision precision);  // -> [head_size]

// Stage output: the accumulators as the kernel stores them, rounded to the dtype (kept as floats).
std::vector<float> output(std::span<const float> accumulators, DType dtype);  // -> [head_size]

// Stage partition_reduce (v2): merge the partitions of one (seq, head). M = max_p m_p, each sum is
// rescaled to M (s_p * exp(m_p - M)), and out = sum_p o_p * s^_p / (sum_p s^_p + epsilon), rounded to
// the dtype. With a single partition the kernel copies o_0 unchanged, and so does this.
struct PartitionReduce {
  int num_partitions = 0;
  bool plain_copy = false;            // true for one partition: the reduce kernel only copies
                                      //   (it then records no max/sums; the values below are still
                                      //   filled in, for teaching and for the merge view)
  float max_logit = 0.0f;             // M
  std::vector<float> rescaled_exp_sums;  // [num_partitions] s_p * exp(m_p - M)
  float global_exp_sum = 0.0f;        // sum of the rescaled sums
  std::vector<float> output;          // [head_size] rounded to the dtype
};
PartitionReduce partition_reduce(std::span<const SoftmaxState> states /* [num_partitions] */,
                                 std::span<const std::vector<float>> partial_outputs,  // [num_partitions][head_size]
                                 DType dtype);

// ---- The whole kernel, every stage kept -----------------------------------------------------------

// Everything one thread_block computes. Token-indexed vectors have num_tokens() entries (slot t is
// token range.start_token_idx + t); masked slots of a partial last kv_block are not part of it.
struct ThreadBlockStages {
  int seq_idx = 0;
  int head_idx = 0;
  int partition_idx = 0;
  int kv_head_idx = 0;
  bool active = false;  // v2: false when the partition starts at or past seq_len (the kernel returns)
  TokenRange range{0, 0, 0, 0};
  std::vector<float> q_vecs;      // [head_size] in q_vecs memory order (query_load)
  std::vector<float> logits;      // [num_tokens] (qk_logits)
  float qk_max = 0.0f;            // (qk_max)
  std::vector<float> exp_values;  // [num_tokens] (exp_sum)
  float exp_sum = 0.0f;           // raw sum, no epsilon (exp_sum)
  std::vector<float> probs;       // [num_tokens] fp32 probabilities (softmax)
  std::vector<float> accumulators;  // [head_size] fp32 before the final rounding (value_accumulation)
  std::vector<float> out;         // [head_size] rounded to the dtype (output); v2: the partial o_p

  int num_tokens() const { return range.num_tokens(); }
  SoftmaxState state() const { return {qk_max, exp_sum}; }  // (partition_states)
};

struct ReferenceRun {
  KernelVersion version = KernelVersion::v1;  // v1 or v2, never automatic
  ProbabilityPrecision precision = ProbabilityPrecision::rounded_to_dtype;
  DType dtype = DType::fp32;
  int num_seqs = 0;
  int num_heads = 0;
  int head_size = 0;
  int max_num_partitions = 1;  // 1 for v1
  int partition_size = 0;      // 0 for v1
  KernelGeometry geometry{};

  std::vector<ThreadBlockStages> thread_blocks;  // [tb], tb = (seq*num_heads + head)*max_num_partitions + partition
  std::vector<PartitionReduce> reduces;          // [sh], sh = seq*num_heads + head (v2 only; empty for v1)
  Tensor output;                                 // [num_seqs, num_heads, head_size] dtype

  std::int64_t tb_index(int seq_idx, int head_idx, int partition_idx = 0) const {
    return (std::int64_t(seq_idx) * num_heads + head_idx) * max_num_partitions + partition_idx;
  }
  std::int64_t sh_index(int seq_idx, int head_idx) const {
    return std::int64_t(seq_idx) * num_heads + head_idx;
  }
  const ThreadBlockStages& thread_block(int seq_idx, int head_idx, int partition_idx = 0) const {
    return thread_blocks.at(static_cast<std::size_t>(tb_index(seq_idx, head_idx, partition_idx)));
  }
  const PartitionReduce& reduce(int seq_idx, int head_idx) const {
    return reduces.at(static_cast<std::size_t>(sh_index(seq_idx, head_idx)));
  }
  // Stage "partition_states" of one (seq, head): {max_logit, exp_sum} of each active partition.
  std::vector<SoftmaxState> partition_states(int seq_idx, int head_idx) const;
  // Final output element as float.
  float output_at(int seq_idx, int head_idx, int dim) const;
};

// Host memory reference_attention keeps for this scenario run as `version` (v1 or v2): every
// thread_block's stages (three [head_size] and three [num_tokens] float vectors, and the struct),
// v2's reduces and the output. An estimate from the token counts, computed without running, so a
// front end can refuse a run whose stages would not fit before it allocates (run/recorded_run.h).
std::uint64_t reference_run_bytes(const Scenario& scenario, KernelVersion version);

// Runs every stage for every (seq, head[, partition]). `version` may be automatic (then the
// scenario's resolved_version() decides). The first form validates the scenario and inputs first and
// throws ScenarioError naming the problem.
ReferenceRun reference_attention(const Scenario& scenario, const Inputs& inputs, KernelVersion version,
                                 ProbabilityPrecision precision = ProbabilityPrecision::rounded_to_dtype);
// The same for a scenario and inputs validated already (core/inputs.h), as the run layer passes them.
ReferenceRun reference_attention(const CheckedInputs& checked, KernelVersion version,
                                 ProbabilityPrecision precision = ProbabilityPrecision::rounded_to_dtype);

}  // namespace pal
