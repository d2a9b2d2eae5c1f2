// Block sparsity as the views show it: which sparse blocks each query head attends (the heads x
// sparse-blocks map) and whether a kv_block of the focused (seq, head) was skipped. The rule itself
// is core/block_sparse.h's, the one the kernel and the reference apply; nothing here re-derives it.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/scenario.h"

namespace pal::viz {

// Why a sparse block is read, or that it is not. A block that is both local and remote counts as
// local (the local window is read whatever the stride says).
enum class SparseCell : unsigned char { skipped, remote, local };
std::string_view sparse_cell_name(SparseCell cell);  // "skipped", "remote (vertical stride)", "local"

// One sequence's pattern for every query head of this GPU (tp_rank is in the head offsets).
struct SparsePattern {
  bool enabled = false;          // blocksparse_vert_stride > 1; otherwise every cell is local
  int seq_len = 0;
  int num_heads = 0;
  int num_sparse_blocks = 0;     // ceil(seq_len / blocksparse_block_size)
  int sparse_block_size = 0;     // tokens per sparse block
  int query_sparse_block = 0;    // q_bs, the sparse block holding the query (the last token)
  std::vector<int> head_offsets;  // per head: the offset the remote rule adds ((global head) * step + 1)
  std::vector<SparseCell> cells;  // [head][sparse_block]

  SparseCell at(int head_idx, int sparse_block_idx) const {
    return cells[static_cast<std::size_t>(head_idx) * static_cast<std::size_t>(num_sparse_blocks) +
                 static_cast<std::size_t>(sparse_block_idx)];
  }
  int num_attended(int head_idx) const;  // sparse blocks of the head that are read
};

// The pattern of a sequence of `seq_len` tokens under the scenario's block-sparse parameters.
// With sparsity off, sparse blocks are still counted in blocksparse_block_size tokens (all local).
SparsePattern sparse_pattern(const Scenario& scenario, int seq_len);

// Whether block sparsity skips logical kv_block `kv_block_idx` of sequence `seq_idx` for query head
// `head_idx` (its logits are -FLT_MAX, its keys and values never read).
bool kv_block_skipped(const Scenario& scenario, int seq_len, int head_idx, int kv_block_idx);

}  // namespace pal::viz
