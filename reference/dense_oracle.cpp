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
        dense.keys[dense_at] = inputs.key_cache.get_float(key_flat);
        dense.values[dense_at] = inputs.value_cache.get_float(value_flat);
      }
    }
  }
  return dense;
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

        // scores[j] = scale * q . k_j + slope * (j - (n - 1))
        std::vector<double> scores(static_cast<std::size_t>(n));
        double largest = -std::numeric_limits<double>::infinity();
        for (int j = 0; j < n; ++j) {
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
