// The dense oracle: textbook attention in double precision, for judging the paged reference (and,
// through it, the kernel).
//
// It shares no indexing code with reference/paged_reference.cpp on purpose: it first copies each
// (seq, kv_head)'s keys and values out of the paged caches into contiguous [seq_len, head_size]
// arrays, walking the block table with its own loop and its own flat-offset formulas, and then
// computes softmax(scale * q.K^T + alibi) . V over those arrays with no paging in sight. A wrong
// stride or block lookup in either implementation therefore shows up as a disagreement instead of
// being repeated on both sides. It reads only the tensors (shapes, scale, slopes), not the Scenario.
//
// No epsilon in the softmax denominator and no rounding anywhere: this is the exact answer for the
// stored (already dtype-rounded) inputs, up to double rounding. An fp8 cache is decoded by this
// file's own bit-level decoder and multiplied by k_scale / v_scale in double: the exact values the
// codes stand for, without the kernel's rounding of the dequantised product. Block sparsity is
// applied by this file's own statement of the rule (per token, from its sparse block), not by
// core/block_sparse.h: masked tokens simply leave the softmax.
#pragma once

#include <cstdint>
#include <vector>

#include "core/inputs.h"

namespace pal {

struct DenseOutput {
  int num_seqs = 0;
  int num_heads = 0;
  int head_size = 0;
  std::vector<double> values;  // [num_seqs, num_heads, head_size]

  double at(int seq_idx, int head_idx, int dim_idx) const {
    return values[static_cast<std::size_t>((std::int64_t(seq_idx) * num_heads + head_idx) * head_size + dim_idx)];
  }
};

// Keys or values of one (seq, kv_head), contiguous: element [token][dim].
struct DenseSequence {
  int seq_len = 0;
  int head_size = 0;
  std::vector<double> keys;    // [seq_len, head_size]
  std::vector<double> values;  // [seq_len, head_size]
};

// Gathers one (seq, kv_head) out of the paged caches (fp8: the exact dequantised values). Throws
// ScenarioError for a block-table entry outside the pool.
DenseSequence gather_dense_sequence(const Inputs& inputs, int seq_idx, int kv_head_idx);

// Whether query head head_idx of a sequence of seq_len tokens attends token token_idx under
// inputs.block_sparse (always true when block sparsity is off). The oracle's own statement of
// the rule, exposed so that a test can hold it against core/block_sparse.h.
bool oracle_attends_token(const Inputs& inputs, int seq_len, int head_idx, int token_idx);

// Attention for every (seq, head) over the gathered sequences.
DenseOutput dense_attention_oracle(const Inputs& inputs);

}  // namespace pal
