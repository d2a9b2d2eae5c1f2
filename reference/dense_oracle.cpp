// Dense double-precision attention over K/V gathered out of the pages. Written independently of the
// paged reference: its own walk over the block table, its own offset formulas, its own layout
// constants (taken from element sizes and tensor shapes rather than from KernelGeometry/key_x).
#include "reference/dense_oracle.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace pal {

namespace {

std::int64_t extent(const Tensor& tensor, std::size_t axis) { return tensor.shape.at(axis); }

// An fp8 code's exact value, from the format's definition: sign, exponent field, mantissa field;
// a zero exponent field means a subnormal (no implicit one). E4M3 has no infinity and one NaN per
// sign (all seven magnitude bits set); E5M2 reserves the top exponent as IEEE does.
double decode_fp8_exactly(std::uint8_t code, ElementType type) {
  const bool e4m3 = type == ElementType::f8_e4m3;
  const int mantissa_bits = e4m3 ? 3 : 2;
  const int exponent_bits = e4m3 ? 4 : 5;
  const int bias = e4m3 ? 7 : 15;
  const int mantissa = code & ((1 << mantissa_bits) - 1);
  const int exponent = (code >> mantissa_bits) & ((1 << exponent_bits) - 1);
  const double sign = (code & 0x80) ? -1.0 : 1.0;
  if (e4m3 && (code & 0x7F) == 0x7F) return std::numeric_limits<double>::quiet_NaN();
  if (!e4m3 && exponent == (1 << exponent_bits) - 1)
    return mantissa == 0 ? sign * std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  if (exponent == 0) return sign * std::ldexp(double(mantissa), 1 - bias - mantissa_bits);
  return sign * std::ldexp(double((1 << mantissa_bits) + mantissa), exponent - bias - mantissa_bits);
}

// A cache element as the number it stands for: fp8 codes decoded and scaled, others as stored.
double cache_value(const Tensor& cache, std::int64_t flat, double cache_scale) {
  if (cache.type == ElementType::f8_e4m3 || cache.type == ElementType::f8_e5m2)
    return decode_fp8_exactly(cache.data<std::uint8_t>()[flat], cache.type) * cache_scale;
  return cache.get_float(flat);
}

}  // namespace

DenseSequence gather_dense_sequence(const Inputs& inputs, int seq_idx, int kv_head_idx) {
  // Cache geometry. The key cache packs each token's key in 16-byte chunks, so the chunk length in
  // elements follows from the element size alone.
  const std::int64_t pool_blocks = extent(inputs.value_cache, 0);
  const std::int64_t kv_heads = extent(inputs.value_cache, 1);
  const std::int64_t dims = extent(inputs.value_cache, 2);
  const std::int64_t tokens_per_block = extent(inputs.value_cache, 3);
  const std::int64_t chunk = 16 / element_size_bytes(inputs.key_cache.type);
  const std::int64_t table_width = extent(inputs.block_tables, 1);

  DenseSequence dense;
  dense.seq_len = inputs.seq_lens.data<std::int32_t>()[seq_idx];
  dense.head_size = static_cast<int>(dims);
  dense.keys.assign(static_cast<std::size_t>(dense.seq_len * dims), 0.0);
  dense.values.assign(static_cast<std::size_t>(dense.seq_len * dims), 0.0);

  // Walk the sequence's pages in order; `position` is the token index in the sequence.
  const std::int32_t* table_row = inputs.block_tables.data<std::int32_t>() + seq_idx * table_width;
  std::int64_t position = 0;
  for (std::int64_t page = 0; position < dense.seq_len; ++page) {
    const std::int64_t pool_slot = table_row[page];
    if (pool_slot < 0 || pool_slot >= pool_blocks)
      throw ScenarioError("dense oracle: block_tables[" + std::to_string(seq_idx) + "][" + std::to_string(page) +
                          "] = " + std::to_string(pool_slot) + " is outside the KV-cache pool of " +
                          std::to_string(pool_blocks) + " blocks");
    for (std::int64_t slot = 0; slot < tokens_per_block && position < dense.seq_len; ++slot, ++position) {
      for (std::int64_t e = 0; e < dims; ++e) {
        // K as [pool][kv_head][e / chunk][slot][e % chunk], flattened by hand.
        const std::int64_t key_flat =
            pool_slot * (kv_heads * dims * tokens_per_block) + kv_head_idx * (dims * tokens_per_block) +
            (e / chunk) * (tokens_per_block * chunk) + slot * chunk + (e % chunk);
        // V as [pool][kv_head][e][slot].
        const std::int64_t value_flat = ((pool_slot * kv_heads + kv_head_idx) * dims + e) * tokens_per_block + slot;
        const std::size_t dense_at = static_cast<std::size_t>(position * dims + e);
        dense.keys[dense_at] = cache_value(inputs.key_cache, key_flat, inputs.k_scale);
        dense.values[dense_at] = cache_value(inputs.value_cache, value_flat, inputs.v_scale);
      }
    }
  }
  return dense;
}

bool oracle_attends_token(const Inputs& inputs, int seq_len, int head_idx, int token_idx) {
  const BlockSparseParams& rule = inputs.block_sparse;
  if (rule.vert_stride <= 1) return true;
  // Sparse blocks are counted in tokens directly: token t lies in sparse block t / sparse_block_size
  // (the kernel goes through the token's kv_block, which lands in the same one because a sparse
  // block holds whole kv_blocks).
  const std::int64_t token_block = token_idx / rule.block_size;
  const std::int64_t query_block = (seq_len - 1) / rule.block_size;
  // The `local_blocks` newest sparse blocks, the query's own included.
  if (token_block >= query_block - rule.local_blocks + 1) return true;
  // Remote: every vert_stride-th sparse block, the phase shifted per head (by query head for a
  // non-negative step, by kv head for a negative one) and made global by the tensor-parallel rank.
  const std::int64_t heads = extent(inputs.query, 1);
  const std::int64_t kv_heads = extent(inputs.value_cache, 1);
  const bool by_kv_head = rule.head_sliding_step < 0;
  const std::int64_t head_in_model = by_kv_head ? rule.tp_rank * kv_heads + head_idx / (heads / kv_heads)
                                                : rule.tp_rank * heads + head_idx;
  const std::int64_t phase = head_in_model * std::abs(std::int64_t{rule.head_sliding_step}) + 1;
  return (token_block + phase) % rule.vert_stride == 0;
}

DenseOutput dense_attention_oracle(const Inputs& inputs) {
  DenseOutput result;
  result.num_seqs = static_cast<int>(extent(inputs.query, 0));
  result.num_heads = static_cast<int>(extent(inputs.query, 1));
  result.head_size = static_cast<int>(extent(inputs.query, 2));
  const int kv_heads = static_cast<int>(extent(inputs.value_cache, 1));
  const int heads_per_kv_head = result.num_heads / kv_heads;  // repeat-interleave of K/V over query heads
  const bool has_alibi = inputs.alibi_slopes.numel() > 0;
  const double scale = inputs.scale;
  result.values.assign(static_cast<std::size_t>(result.num_seqs) * result.num_heads * result.head_size, 0.0);

  for (int s = 0; s < result.num_seqs; ++s) {
    for (int kv = 0; kv < kv_heads; ++kv) {
      const DenseSequence dense = gather_dense_sequence(inputs, s, kv);
      const int n = dense.seq_len;
      const int hs = dense.head_size;
      for (int h = kv * heads_per_kv_head; h < (kv + 1) * heads_per_kv_head; ++h) {
        std::vector<double> q(static_cast<std::size_t>(hs));
        for (int e = 0; e < hs; ++e)
          q[static_cast<std::size_t>(e)] = inputs.query.get_float((std::int64_t(s) * result.num_heads + h) * hs + e);
        const double slope = has_alibi ? double(inputs.alibi_slopes.get_float(h)) : 0.0;

        // scores[j] = scale * q . k_j + slope * (j - (n - 1)); a token the head does not attend gets
        // -inf, so its weight is exactly 0 (the query's own token is always attended).
        std::vector<double> scores(static_cast<std::size_t>(n));
        double largest = -std::numeric_limits<double>::infinity();
        for (int j = 0; j < n; ++j) {
          if (!oracle_attends_token(inputs, n, h, j)) {
            scores[static_cast<std::size_t>(j)] = -std::numeric_limits<double>::infinity();
            continue;
          }
          double dot = 0.0;
          for (int e = 0; e < hs; ++e) dot += q[static_cast<std::size_t>(e)] * dense.keys[static_cast<std::size_t>(j) * hs + e];
          const double score = scale * dot + slope * double(j - (n - 1));
          scores[static_cast<std::size_t>(j)] = score;
          largest = std::max(largest, score);
        }
        double denominator = 0.0;
        for (double& score : scores) {
          score = std::exp(score - largest);
          denominator += score;
        }
        double* out = &result.values[(static_cast<std::size_t>(s) * result.num_heads + h) * hs];
        for (int j = 0; j < n; ++j) {
          const double weight = scores[static_cast<std::size_t>(j)] / denominator;
          for (int e = 0; e < hs; ++e) out[e] += weight * dense.values[static_cast<std::size_t>(j) * hs + e];
        }
      }
    }
  }
  return result;
}

}  // namespace pal
