#include "visualizer/model/sparsity.h"

#include <algorithm>

#include "core/block_sparse.h"

namespace pal::viz {

namespace {

BlockSparseMask mask_for(const Scenario& scenario, int seq_len, int head_idx) {
  // Consecutive query heads share a kv head (GQA), as the kernel's kv_head_idx does.
  const int num_queries_per_kv = scenario.num_heads / scenario.num_kv_heads;
  return block_sparse_mask(scenario.block_sparse, seq_len, scenario.num_heads, head_idx, scenario.num_kv_heads,
                           head_idx / num_queries_per_kv);
}

}  // namespace

std::string_view sparse_cell_name(SparseCell cell) {
  switch (cell) {
    case SparseCell::skipped: return "skipped";
    case SparseCell::remote: return "remote (vertical stride)";
    case SparseCell::local: return "local";
  }
  return "?";
}

int SparsePattern::num_attended(int head_idx) const {
  int count = 0;
  for (int block = 0; block < num_sparse_blocks; ++block) count += at(head_idx, block) != SparseCell::skipped;
  return count;
}

SparsePattern sparse_pattern(const Scenario& scenario, int seq_len) {
  SparsePattern pattern;
  pattern.enabled = scenario.block_sparse.enabled();
  pattern.seq_len = seq_len;
  pattern.num_heads = scenario.num_heads;
  pattern.sparse_block_size = std::max(1, scenario.block_sparse.block_size);
  pattern.num_sparse_blocks = (seq_len + pattern.sparse_block_size - 1) / pattern.sparse_block_size;
  pattern.query_sparse_block = seq_len > 0 ? (seq_len - 1) / pattern.sparse_block_size : 0;
  pattern.cells.assign(static_cast<std::size_t>(pattern.num_heads) * static_cast<std::size_t>(pattern.num_sparse_blocks),
                       SparseCell::local);
  for (int head = 0; head < pattern.num_heads; ++head) {
    const BlockSparseMask mask = mask_for(scenario, seq_len, head);
    pattern.head_offsets.push_back(mask.head_offset);
    if (!mask.enabled) continue;
    for (int block = 0; block < pattern.num_sparse_blocks; ++block) {
      const SparseCell cell = mask.is_local(block)    ? SparseCell::local
                              : mask.is_remote(block) ? SparseCell::remote
                                                      : SparseCell::skipped;
      pattern.cells[static_cast<std::size_t>(head) * static_cast<std::size_t>(pattern.num_sparse_blocks) +
                    static_cast<std::size_t>(block)] = cell;
    }
  }
  return pattern;
}

bool kv_block_skipped(const Scenario& scenario, int seq_len, int head_idx, int kv_block_idx) {
  return !mask_for(scenario, seq_len, head_idx).attends(kv_block_idx, scenario.block_size);
}

}  // namespace pal::viz
