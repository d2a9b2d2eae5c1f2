// The scalar reference, stage by stage. See paged_reference.h for the conventions; each function
// below is the plain-loop statement of one kernel stage, without threads, warps or shared memory.
//
// The reference reads the caches with its own gather (key_gather_into, value_gather_into below),
// on purpose: it does not use core/kv_cache_layout.h or kernels/thread_mapping.h, which the kernel
// and the views share. It is the check, so a wrong layout formula or lane mapping there shows up as
// a disagreement here instead of being repeated on both sides.
#include "reference/paged_reference.h"

#include "core/cancellation.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/block_sparse.h"
#include "core/fp8.h"

namespace pal {

namespace {

// Reads `count` elements of a q / k / v tensor as floats: element i is at flat index
// first + i * stride. Every read of the reference goes through here: a 16-byte key chunk is
// (first, stride 1, count x), a value column is (first, stride block_size, count head_size). The dtype
// is resolved once per call, not per element.
void read_elements(const Tensor& tensor, std::int64_t first, std::int64_t stride, int count, float* out) {
  auto copy = [&](const auto* base) {
    for (int i = 0; i < count; ++i) out[i] = to_float(base[first + i * stride]);
  };
  switch (tensor.type) {
    case ElementType::f16: return copy(tensor.data<fp16_t>());
    case ElementType::bf16: return copy(tensor.data<bf16_t>());
    case ElementType::f32: return copy(tensor.data<float>());
    default: break;  // integer tensors never reach here: check_float_tensor() rejects them first
  }
}

void check_float_tensor(const Tensor& tensor, const char* name, bool fp8_allowed = false) {
  if (tensor.type != ElementType::f32 && tensor.type != ElementType::f16 && tensor.type != ElementType::bf16 &&
      !(fp8_allowed && is_fp8(tensor.type)))
    throw ScenarioError(std::string("reference: tensor '") + name + "' holds " +
                        std::string(element_type_name(tensor.type)) + " elements; expected F32, F16 or BF16" +
                        (fp8_allowed ? " (or F8_E4M3 / F8_E5M2)" : ""));
}

int dim(const Tensor& tensor, std::size_t axis) { return static_cast<int>(tensor.shape.at(axis)); }

DType query_dtype_of(const Inputs& inputs) {
  switch (inputs.query.type) {
    case ElementType::f16: return DType::fp16;
    case ElementType::bf16: return DType::bf16;
    default: break;
  }
  return DType::fp32;
}

// Reads `count` cached keys or values as the floats the kernel computes with, like read_elements.
// An auto cache's elements are read as stored. An fp8 cache's codes are dequantised as upstream's
// load does it (core/fp8.h): fp8 -> fp16 -> fp32, times the cache's scale, rounded to the query
// dtype; for fp32 queries, how many codes the kernel converts at once (VEC_SIZE for keys,
// V_VEC_SIZE for values) decides whether the product is rounded through fp16.
void read_cache_elements(const Inputs& inputs, const Tensor& cache, float cache_scale, int codes_per_load,
                         std::int64_t first, std::int64_t stride, int count, float* out) {
  if (!is_fp8(cache.type)) return read_elements(cache, first, stride, count, out);
  const Fp8Format format = fp8_format_of(cache.type);
  const DType query_dtype = query_dtype_of(inputs);
  const std::uint8_t* codes = cache.data<std::uint8_t>();
  for (int i = 0; i < count; ++i)
    out[i] = dequantize_fp8_as_float(codes[first + i * stride], format, cache_scale, query_dtype, codes_per_load);
}

// The kernel's vector widths, which follow the query dtype (not the cache's): VEC_SIZE elements per
// key load, V_VEC_SIZE per value load.
KernelGeometry load_geometry(const Inputs& inputs) {
  return KernelGeometry{element_size_bytes(inputs.query.type), dim(inputs.query, 2), dim(inputs.value_cache, 3),
                        kNumThreads, element_size_bytes(inputs.value_cache.type)};
}

// The block-sparse rule for one (seq, head): every kv_block attended unless block sparsity is on.
BlockSparseMask sparse_mask_for(const Inputs& inputs, int seq_idx, int head_idx) {
  const int num_heads = dim(inputs.query, 1);
  const int num_kv_heads = dim(inputs.key_cache, 1);
  return block_sparse_mask(inputs.block_sparse, inputs.seq_lens.data<std::int32_t>()[seq_idx], num_heads, head_idx,
                           num_kv_heads, kv_head_for(head_idx, num_heads, num_kv_heads));
}

int seq_len_of(const Inputs& inputs, int seq_idx) { return inputs.seq_lens.data<std::int32_t>()[seq_idx]; }

// Logical kv_block -> physical pool slot, widened to 64 bits before any stride is applied (the
// kernel does the same since upstream PR #1514: block * stride overflows int32 on large pools).
std::int64_t physical_block_number(const Inputs& inputs, int seq_idx, int logical_block_idx) {
  const int max_num_blocks_per_seq = dim(inputs.block_tables, 1);
  if (seq_idx < 0 || seq_idx >= dim(inputs.block_tables, 0) || logical_block_idx < 0 ||
      logical_block_idx >= max_num_blocks_per_seq)
    throw ScenarioError("reference: (seq " + std::to_string(seq_idx) + ", logical block " +
                        std::to_string(logical_block_idx) + ") is outside block_tables " +
                        inputs.block_tables.shape_string() + "; ask only for tokens below the sequence's seq_len");
  const std::int64_t number = inputs.block_tables.data<std::int32_t>()[std::int64_t(seq_idx) * max_num_blocks_per_seq +
                                                                       logical_block_idx];
  const std::int64_t num_blocks = inputs.key_cache.shape.at(0);
  if (number < 0 || number >= num_blocks) {
    std::ostringstream message;
    message << "reference: block_tables[" << seq_idx << "][" << logical_block_idx << "] = " << number
            << " is not a KV-cache block; valid physical block numbers are 0.." << num_blocks - 1;
    throw ScenarioError(message.str());
  }
  return number;
}

}  // namespace

std::string_view probability_precision_name(ProbabilityPrecision precision) {
  return precision == ProbabilityPrecision::exact_fp32 ? "fp32" : "rounded";
}

// ---- query_load ----------------------------------------------------------------------------------

std::vector<float> query_load(const Inputs& inputs, const KernelGeometry& geometry, int seq_idx, int head_idx) {
  const int thread_group_size = geometry.thread_group_size();
  const int num_vecs_per_thread = geometry.num_vecs_per_thread();
  const int vec_size = geometry.vec_size();
  const int num_heads = dim(inputs.query, 1);
  // q_ptr: the (seq, head) row of q [num_seqs, num_heads, head_size].
  const std::int64_t q_row_offset = (std::int64_t(seq_idx) * num_heads + head_idx) * geometry.head_size;

  std::vector<float> q_vecs(static_cast<std::size_t>(geometry.head_size));  // [TGS][VECS_PER_THREAD][VEC_SIZE]
  for (int thread_group_offset = 0; thread_group_offset < thread_group_size; ++thread_group_offset) {
    for (int i = 0; i < num_vecs_per_thread; ++i) {
      // Lane `thread_group_offset` owns every THREAD_GROUP_SIZE-th vec of the query.
      const int vec_idx = thread_group_offset + i * thread_group_size;
      const std::size_t slot = (static_cast<std::size_t>(thread_group_offset) * num_vecs_per_thread + i) * vec_size;
      read_elements(inputs.query, q_row_offset + vec_idx * vec_size, 1, vec_size, &q_vecs[slot]);
    }
  }
  return q_vecs;
}

std::vector<float> query_from_q_vecs(std::span<const float> q_vecs, const KernelGeometry& geometry) {
  const int thread_group_size = geometry.thread_group_size();
  const int num_vecs_per_thread = geometry.num_vecs_per_thread();
  const int vec_size = geometry.vec_size();
  std::vector<float> query(static_cast<std::size_t>(geometry.head_size));
  for (int thread_group_offset = 0; thread_group_offset < thread_group_size; ++thread_group_offset)
    for (int i = 0; i < num_vecs_per_thread; ++i)
      for (int v = 0; v < vec_size; ++v) {
        const int vec_idx = thread_group_offset + i * thread_group_size;
        query[static_cast<std::size_t>(vec_idx * vec_size + v)] =
            q_vecs[(static_cast<std::size_t>(thread_group_offset) * num_vecs_per_thread + i) * vec_size + v];
      }
  return query;
}

int kv_head_for(int head_idx, int num_heads, int num_kv_heads) {
  const int num_queries_per_kv = num_heads / num_kv_heads;
  return head_idx / num_queries_per_kv;
}

// ---- key_gather ----------------------------------------------------------------------------------

namespace {

void key_gather_into(const Inputs& inputs, int seq_idx, int kv_head_idx, int token_idx, std::span<float> key) {
  // k_cache: [num_blocks, num_kv_heads, head_size/x, block_size, x]
  const int num_kv_heads = dim(inputs.key_cache, 1);
  const int num_x_chunks = dim(inputs.key_cache, 2);  // head_size / x
  const int block_size = dim(inputs.key_cache, 3);
  const int x = dim(inputs.key_cache, 4);

  const int logical_block_idx = token_idx / block_size;
  const int block_offset = token_idx % block_size;
  const std::int64_t physical_block = physical_block_number(inputs, seq_idx, logical_block_idx);
  // Stride of one step along each dimension, in elements.
  const std::int64_t chunk_stride = std::int64_t(block_size) * x;
  const std::int64_t head_stride = std::int64_t(num_x_chunks) * chunk_stride;
  const std::int64_t block_stride = std::int64_t(num_kv_heads) * head_stride;
  const std::int64_t token_base = physical_block * block_stride + kv_head_idx * head_stride + block_offset * x;
  // The key arrives in 16-byte chunks of x dims; chunk c holds dims [c*x, (c+1)*x).
  const int codes_per_load = load_geometry(inputs).vec_size();
  for (int chunk = 0; chunk < num_x_chunks; ++chunk)
    read_cache_elements(inputs, inputs.key_cache, inputs.k_scale, codes_per_load, token_base + chunk * chunk_stride, 1,
                        x, &key[static_cast<std::size_t>(chunk * x)]);
}

void value_gather_into(const Inputs& inputs, int seq_idx, int kv_head_idx, int token_idx, std::span<float> value) {
  // v_cache: [num_blocks, num_kv_heads, head_size, block_size]
  const int num_kv_heads = dim(inputs.value_cache, 1);
  const int head_size = dim(inputs.value_cache, 2);
  const int block_size = dim(inputs.value_cache, 3);

  const int logical_block_idx = token_idx / block_size;
  const int block_offset = token_idx % block_size;
  const std::int64_t physical_block = physical_block_number(inputs, seq_idx, logical_block_idx);
  const std::int64_t head_stride = std::int64_t(head_size) * block_size;
  const std::int64_t block_stride = std::int64_t(num_kv_heads) * head_stride;
  const std::int64_t token_base = physical_block * block_stride + kv_head_idx * head_stride + block_offset;
  // One head-dim row holds block_size consecutive tokens, so a token's value is strided by block_size.
  read_cache_elements(inputs, inputs.value_cache, inputs.v_scale, load_geometry(inputs).v_vec_size(), token_base,
                      block_size, head_size, value.data());
}

}  // namespace

std::vector<float> key_gather(const Inputs& inputs, int seq_idx, int kv_head_idx, int token_idx) {
  std::vector<float> key(static_cast<std::size_t>(dim(inputs.key_cache, 2) * dim(inputs.key_cache, 4)));
  key_gather_into(inputs, seq_idx, kv_head_idx, token_idx, key);
  return key;
}

// ---- qk_logits -----------------------------------------------------------------------------------

std::vector<float> qk_logits(const Inputs& inputs, std::span<const float> query, int seq_idx, int head_idx,
                             const TokenRange& range) {
  const int num_heads = dim(inputs.query, 1);
  const int num_kv_heads = dim(inputs.key_cache, 1);
  const int kv_head_idx = kv_head_for(head_idx, num_heads, num_kv_heads);
  const int seq_len = seq_len_of(inputs, seq_idx);
  const float alibi_slope = inputs.alibi_slopes.numel() > 0 ? inputs.alibi_slopes.data<float>()[head_idx] : 0.0f;

  const BlockSparseMask sparse_mask = sparse_mask_for(inputs, seq_idx, head_idx);
  const int block_size = dim(inputs.key_cache, 3);

  std::vector<float> logits(static_cast<std::size_t>(range.num_tokens()));
  std::vector<float> key(query.size());
  for (int token_idx = range.start_token_idx; token_idx < range.end_token_idx; ++token_idx) {
    // Block-sparse: a skipped kv_block's keys are never read. NOTE: -FLT_MAX, not -inf, as the
    // kernel writes it: exp(-FLT_MAX - max) is 0 whenever the thread_block attends any token, and a
    // v2 partition that attends none keeps qk_max = -FLT_MAX (its exp values become 1, its sum the
    // token count, and the partition reduce weights it by exp(-FLT_MAX - M) = 0).
    if (!sparse_mask.attends(token_idx / block_size, block_size)) {
      logits[static_cast<std::size_t>(token_idx - range.start_token_idx)] = -FLT_MAX;
      continue;
    }
    key_gather_into(inputs, seq_idx, kv_head_idx, token_idx, key);
    // NOTE: fp32 products and sum, as the kernel's Qk_dot (only the order of the additions differs).
    float dot = 0.0f;
    for (std::size_t d = 0; d < query.size(); ++d) dot += query[d] * key[d];
    float logit = inputs.scale * dot;
    // ALiBi: a linear penalty on distance to the newest token, by query head.
    if (alibi_slope != 0.0f) logit += alibi_slope * static_cast<float>(token_idx - seq_len + 1);
    logits[static_cast<std::size_t>(token_idx - range.start_token_idx)] = logit;
  }
  return logits;
}

// ---- qk_max, exp_sum, softmax --------------------------------------------------------

float qk_max(std::span<const float> logits) {
  float max_logit = -std::numeric_limits<float>::infinity();
  for (float logit : logits) max_logit = std::fmax(max_logit, logit);
  return max_logit;
}

ExpSum exp_sum(std::span<const float> logits, float max_logit) {
  ExpSum result;
  result.exp_values.resize(logits.size());
  for (std::size_t t = 0; t < logits.size(); ++t) {
    // Subtracting the max keeps every exp in (0, 1]: no overflow, and the max itself gives exactly 1.
    const float value = std::exp(logits[t] - max_logit);
    result.exp_values[t] = value;
    result.exp_sum += value;
  }
  return result;
}

std::vector<float> softmax(std::span<const float> exp_values, float exp_sum) {
  // The kernel takes one reciprocal and multiplies (cheaper than a division per token).
  const float inv_sum = 1.0f / (exp_sum + kSoftmaxEpsilon);
  std::vector<float> probs(exp_values.size());
  for (std::size_t t = 0; t < exp_values.size(); ++t) probs[t] = exp_values[t] * inv_sum;
  return probs;
}

// ---- value_gather, value_accumulation, output ------------------------------------------------------------

std::vector<float> value_gather(const Inputs& inputs, int seq_idx, int kv_head_idx, int token_idx) {
  std::vector<float> value(static_cast<std::size_t>(dim(inputs.value_cache, 2)));
  value_gather_into(inputs, seq_idx, kv_head_idx, token_idx, value);
  return value;
}

std::vector<float> value_accumulation(const Inputs& inputs, std::span<const float> probs, int seq_idx, int head_idx,
                                      const TokenRange& range, DType dtype, ProbabilityPrecision precision) {
  const int head_size = dim(inputs.value_cache, 2);
  const int block_size = dim(inputs.value_cache, 3);
  const int kv_head_idx = kv_head_for(head_idx, dim(inputs.query, 1), dim(inputs.value_cache, 1));
  const BlockSparseMask sparse_mask = sparse_mask_for(inputs, seq_idx, head_idx);
  std::vector<float> accumulators(static_cast<std::size_t>(head_size), 0.0f);
  std::vector<float> value(static_cast<std::size_t>(head_size));
  // Only tokens < seq_len take part: the kernel zeroes the V of a partial last block's unused slots
  // (upstream #641: 0 * stale NaN = NaN), which is the same as never reading them.
  for (int token_idx = range.start_token_idx; token_idx < range.end_token_idx; ++token_idx) {
    // Block-sparse: the kernel skips a kv_block it did not attend, whatever its probabilities say
    // (they are 1/num_tokens in a v2 partition that attends nothing, see qk_logits).
    if (!sparse_mask.attends(token_idx / block_size, block_size)) continue;
    value_gather_into(inputs, seq_idx, kv_head_idx, token_idx, value);
    const float prob = probs[static_cast<std::size_t>(token_idx - range.start_token_idx)];
    // NOTE: the kernel converts the fp32 probability to the q dtype for its P.V product.
    const float p = precision == ProbabilityPrecision::rounded_to_dtype ? round_to_dtype(prob, dtype) : prob;
    for (int d = 0; d < head_size; ++d) accumulators[static_cast<std::size_t>(d)] += p * value[static_cast<std::size_t>(d)];
  }
  return accumulators;
}

std::vector<float> output(std::span<const float> accumulators, DType dtype) {
  std::vector<float> out(accumulators.size());
  for (std::size_t d = 0; d < accumulators.size(); ++d) out[d] = round_to_dtype(accumulators[d], dtype);
  return out;
}

// ---- partition_reduce (v2) -----------------------------------------------------------------------

PartitionReduce partition_reduce(std::span<const SoftmaxState> states, std::span<const std::vector<float>> partial_outputs,
                                 DType dtype) {
  if (states.empty() || states.size() != partial_outputs.size())
    throw ScenarioError("reference: partition_reduce needs one partial output per partition state and at least one "
                        "partition; got " + std::to_string(states.size()) + " states and " +
                        std::to_string(partial_outputs.size()) + " partial outputs");
  PartitionReduce reduce;
  reduce.num_partitions = static_cast<int>(states.size());
  reduce.plain_copy = states.size() == 1;

  // The global maximum M, then every partition's sum moved onto M.
  reduce.max_logit = -std::numeric_limits<float>::infinity();
  for (const SoftmaxState& state : states) reduce.max_logit = std::fmax(reduce.max_logit, state.max_logit);
  reduce.rescaled_exp_sums.resize(states.size());
  for (std::size_t p = 0; p < states.size(); ++p) {
    reduce.rescaled_exp_sums[p] = states[p].rescaled_exp_sum(reduce.max_logit);
    reduce.global_exp_sum += reduce.rescaled_exp_sums[p];
  }

  const std::size_t head_size = partial_outputs[0].size();
  if (reduce.plain_copy) {
    // One partition: its partial output already is the answer; the kernel copies it bit for bit.
    reduce.output = partial_outputs[0];
    return reduce;
  }
  // Each partial o_p was normalised by its own sum s_p; weighting by s^_p / sum(s^) re-normalises it
  // to the whole sequence's softmax.
  const float inv_global_exp_sum = 1.0f / (reduce.global_exp_sum + kSoftmaxEpsilon);
  std::vector<float> accumulators(head_size, 0.0f);
  for (std::size_t d = 0; d < head_size; ++d)
    for (std::size_t p = 0; p < states.size(); ++p)
      accumulators[d] += SoftmaxState::weighted_output(partial_outputs[p][d], reduce.rescaled_exp_sums[p], inv_global_exp_sum);
  reduce.output = output(accumulators, dtype);
  return reduce;
}

// ---- the whole kernel ----------------------------------------------------------------------------

std::vector<SoftmaxState> ReferenceRun::partition_states(int seq_idx, int head_idx) const {
  std::vector<SoftmaxState> states;
  for (int partition_idx = 0; partition_idx < max_num_partitions; ++partition_idx) {
    const ThreadBlockStages& block = thread_block(seq_idx, head_idx, partition_idx);
    if (block.active) states.push_back(block.state());
  }
  return states;
}

float ReferenceRun::output_at(int seq_idx, int head_idx, int dim_idx) const {
  return output.get_float((std::int64_t(seq_idx) * num_heads + head_idx) * head_size + dim_idx);
}

namespace {

// The scenario and inputs are valid (validate_inputs also fixes the tensors' float dtypes).
ReferenceRun reference_of_valid(const Scenario& scenario, const Inputs& inputs, KernelVersion version,
                                ProbabilityPrecision precision) {
  ReferenceRun run;
  run.version = version == KernelVersion::automatic ? scenario.resolved_version() : version;
  run.precision = precision;
  run.dtype = scenario.dtype;
  run.num_seqs = scenario.num_seqs;
  run.num_heads = scenario.num_heads;
  run.head_size = scenario.head_size;
  const bool partitioned = run.version == KernelVersion::v2;
  run.partition_size = partitioned ? scenario.partition_size : 0;
  run.max_num_partitions = partitioned ? scenario.max_num_partitions() : 1;
  run.geometry = KernelGeometry{dtype_size_bytes(scenario.dtype), scenario.head_size, scenario.block_size,
                                scenario.num_threads, scenario.kv_cache_element_size()};

  run.thread_blocks.resize(static_cast<std::size_t>(run.num_seqs) * run.num_heads * run.max_num_partitions);
  for (int seq_idx = 0; seq_idx < run.num_seqs; ++seq_idx) {
    const int seq_len = seq_len_of(inputs, seq_idx);
    for (int head_idx = 0; head_idx < run.num_heads; ++head_idx) {
      throw_if_cancelled("in the reference");  // a run cancelled from another thread (core/cancellation.h)
      const int kv_head_idx = kv_head_for(head_idx, run.num_heads, scenario.num_kv_heads);
      const std::vector<float> q_vecs = query_load(inputs, run.geometry, seq_idx, head_idx);
      const std::vector<float> query = query_from_q_vecs(q_vecs, run.geometry);
      for (int partition_idx = 0; partition_idx < run.max_num_partitions; ++partition_idx) {
        ThreadBlockStages& block = run.thread_blocks[static_cast<std::size_t>(run.tb_index(seq_idx, head_idx, partition_idx))];
        block.seq_idx = seq_idx;
        block.head_idx = head_idx;
        block.partition_idx = partition_idx;
        block.kv_head_idx = kv_head_idx;
        // v2: a partition that starts at or past the end of this sequence has nothing to do.
        block.active = partition_idx * run.partition_size < seq_len;
        if (!block.active) continue;
        block.range = token_range(seq_len, scenario.block_size, run.partition_size, partition_idx);
        block.q_vecs = q_vecs;
        block.logits = qk_logits(inputs, query, seq_idx, head_idx, block.range);
        block.qk_max = qk_max(block.logits);
        ExpSum exps = exp_sum(block.logits, block.qk_max);
        block.exp_values = std::move(exps.exp_values);
        block.exp_sum = exps.exp_sum;
        block.probs = softmax(block.exp_values, block.exp_sum);
        block.accumulators = value_accumulation(inputs, block.probs, seq_idx, head_idx, block.range, run.dtype, precision);
        block.out = output(block.accumulators, run.dtype);
      }
    }
  }

  run.output = Tensor(element_type_of(run.dtype), {run.num_seqs, run.num_heads, run.head_size});
  if (partitioned) run.reduces.resize(static_cast<std::size_t>(run.num_seqs) * run.num_heads);
  for (int seq_idx = 0; seq_idx < run.num_seqs; ++seq_idx) {
    for (int head_idx = 0; head_idx < run.num_heads; ++head_idx) {
      const std::vector<float>* final_out = &run.thread_block(seq_idx, head_idx).out;
      if (partitioned) {
        std::vector<std::vector<float>> partial_outputs;
        for (int partition_idx = 0; partition_idx < run.max_num_partitions; ++partition_idx) {
          const ThreadBlockStages& block = run.thread_block(seq_idx, head_idx, partition_idx);
          if (block.active) partial_outputs.push_back(block.out);
        }
        const std::vector<SoftmaxState> states = run.partition_states(seq_idx, head_idx);
        PartitionReduce& reduce = run.reduces[static_cast<std::size_t>(run.sh_index(seq_idx, head_idx))];
        reduce = partition_reduce(states, partial_outputs, run.dtype);
        final_out = &reduce.output;
      }
      const std::int64_t row_offset = (std::int64_t(seq_idx) * run.num_heads + head_idx) * run.head_size;
      for (int d = 0; d < run.head_size; ++d)
        run.output.set_float(row_offset + d, (*final_out)[static_cast<std::size_t>(d)]);
    }
  }
  return run;
}

}  // namespace

ReferenceRun reference_attention(const Scenario& scenario, const Inputs& inputs, KernelVersion version,
                                 ProbabilityPrecision precision) {
  validate_inputs(scenario, inputs);  // the scenario first, then the tensors against it
  check_float_tensor(inputs.query, "query");
  check_float_tensor(inputs.key_cache, "key_cache", true);
  check_float_tensor(inputs.value_cache, "value_cache", true);
  return reference_of_valid(scenario, inputs, version, precision);
}

ReferenceRun reference_attention(const CheckedInputs& checked, KernelVersion version, ProbabilityPrecision precision) {
  return reference_of_valid(checked.scenario(), checked.inputs(), version, precision);
}

std::uint64_t reference_run_bytes(const Scenario& s, KernelVersion version) {
  std::uint64_t total_tokens = 0;
  for (const int seq_len : s.seq_lens) total_tokens += static_cast<std::uint64_t>(std::max(seq_len, 0));
  const auto seqs = static_cast<std::uint64_t>(std::max(s.num_seqs, 0));
  const auto heads = static_cast<std::uint64_t>(std::max(s.num_heads, 0));
  const auto head_size = static_cast<std::uint64_t>(std::max(s.head_size, 0));
  const bool v2 = version == KernelVersion::v2;
  const std::uint64_t partitions =
      v2 && s.partition_size > 0
          ? (static_cast<std::uint64_t>(std::max(s.max_seq_len(), 0)) + std::uint64_t(s.partition_size) - 1) /
                std::uint64_t(s.partition_size)
          : 1;
  const std::uint64_t thread_blocks = seqs * heads * partitions;
  // Each (seq, head) covers the sequence's tokens once, over its partitions.
  const std::uint64_t token_floats = 3 * heads * total_tokens;
  const std::uint64_t stages = thread_blocks * (sizeof(ThreadBlockStages) + 3 * head_size * sizeof(float));
  const std::uint64_t reduces =
      v2 ? seqs * heads * (sizeof(PartitionReduce) + (partitions + head_size) * sizeof(float)) : 0;
  const std::uint64_t output = seqs * heads * head_size * sizeof(float);
  return stages + token_floats * sizeof(float) + reduces + output;
}

}  // namespace pal
