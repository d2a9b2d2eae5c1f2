// Block-sparse attention (Phi-3-small's "local + vertical stride" pattern), the rule upstream's
// kernel applies per kv_block, written once for the kernel, the reference and every view.
//
// Vocabulary: a *sparse block* is blocksparse_block_size consecutive tokens of a sequence (64 for
// Phi-3-small); it is a whole number of kv_blocks (validation requires the multiple), so every
// kv_block lies inside exactly one sparse block. The query is the sequence's last token, in sparse
// block q_bs = (seq_len - 1) / blocksparse_block_size. A kv_block in sparse block k_bs is attended
// when it is
//   local:  k_bs > q_bs - local_blocks             (the local_blocks most recent sparse blocks), or
//   remote: (k_bs + head_offset) % vert_stride == 0 (one sparse block in every vert_stride),
// where head_offset shifts the remote pattern per head so that different heads read different
// remote blocks:
//   head_sliding_step >= 0: (tp_rank * num_heads    + head_idx   ) * head_sliding_step    + 1
//   head_sliding_step <  0: (tp_rank * num_kv_heads + kv_head_idx) * (-head_sliding_step) + 1
// tp_rank turns the per-GPU head index into the model's global one under tensor parallelism.
// Block sparsity is on when vert_stride > 1 (upstream's IS_BLOCK_SPARSE); with vert_stride <= 1
// every kv_block is attended. A skipped kv_block is never read: the kernel writes -FLT_MAX for its
// logits (exp gives 0) and skips it in the value loop.
//
// All offsets are non-negative by construction (head_offset >= 1 and k_bs >= 0), so `%` never sees
// a negative operand; validation keeps head_offset + k_bs within int.
#pragma once

#include "core/host_device.h"

namespace pal {

struct BlockSparseParams {
  int local_blocks = 0;       // blocksparse_local_blocks: most recent sparse blocks always attended
  int vert_stride = 0;        // blocksparse_vert_stride: one remote sparse block per vert_stride; sparse when > 1
  int block_size = 64;        // blocksparse_block_size: tokens per sparse block
  int head_sliding_step = 0;  // blocksparse_head_sliding_step: per-head shift of the remote pattern
  int tp_rank = 0;            // tensor-parallel rank of this GPU's heads

  PAL_HOST_DEVICE constexpr bool enabled() const { return vert_stride > 1; }
  constexpr bool operator==(const BlockSparseParams&) const = default;
};

// The rule for one thread_block, with its per-(sequence, head) constants computed once, as the
// kernel does in its prologue.
struct BlockSparseMask {
  bool enabled;
  int query_sparse_block;  // q_bs
  int head_offset;
  int local_blocks;
  int vert_stride;
  int sparse_block_size;

  // Sparse block of a kv_block: its first token's, which is every token's (whole kv_blocks).
  PAL_HOST_DEVICE constexpr int sparse_block_of(int kv_block_idx, int kv_block_size) const {
    return kv_block_idx * kv_block_size / sparse_block_size;
  }
  PAL_HOST_DEVICE constexpr bool is_local(int sparse_block_idx) const {
    return sparse_block_idx > query_sparse_block - local_blocks;
  }
  PAL_HOST_DEVICE constexpr bool is_remote(int sparse_block_idx) const {
    return (sparse_block_idx + head_offset) % vert_stride == 0;
  }
  PAL_HOST_DEVICE constexpr bool attends(int kv_block_idx, int kv_block_size) const {
    if (!enabled) return true;
    const int sparse_block_idx = sparse_block_of(kv_block_idx, kv_block_size);
    return is_remote(sparse_block_idx) || is_local(sparse_block_idx);
  }
};

PAL_HOST_DEVICE constexpr BlockSparseMask block_sparse_mask(const BlockSparseParams& params, int seq_len, int num_heads,
                                                            int head_idx, int num_kv_heads, int kv_head_idx) {
  BlockSparseMask mask{params.enabled(), 0, 1, params.local_blocks, params.vert_stride, params.block_size};
  if (!mask.enabled) return mask;
  mask.query_sparse_block = (seq_len - 1) / params.block_size;
  mask.head_offset = params.head_sliding_step >= 0
                         ? (params.tp_rank * num_heads + head_idx) * params.head_sliding_step + 1
                         : (params.tp_rank * num_kv_heads + kv_head_idx) * (-params.head_sliding_step) + 1;
  return mask;
}

}  // namespace pal
