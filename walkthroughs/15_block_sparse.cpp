// Chapter 15: block-sparse attention, the last part of upstream's kernel signature. Phi-3-small
// attended, per head, the most recent sparse blocks and one remote sparse block in every
// vert_stride, with the remote ones shifted from head to head. The kernel applies the rule per
// kv_block: a skipped kv_block gets -FLT_MAX logits and is never read.
#include <algorithm>
#include <cfloat>
#include <set>

#include "core/block_sparse.h"
#include "reference/dense_oracle.h"
#include "walkthroughs/harness.h"

namespace pal::walkthrough {
namespace {

// One row of the pattern: for each sparse block of a sequence, L (local), R (remote, the vertical
// stride) or '.' (skipped); a block both local and remote shows L.
std::vector<std::string> pattern_row(const BlockSparseMask& mask, int num_sparse_blocks, std::vector<Colour>& colours,
                                     int& num_attended) {
  std::vector<std::string> cells;
  num_attended = 0;
  for (int b = 0; b < num_sparse_blocks; ++b) {
    const bool local = mask.is_local(b);
    const bool remote = mask.is_remote(b);
    cells.push_back(local ? "L" : remote ? "R" : ".");
    colours.push_back(local ? Colour::green : remote ? Colour::blue : Colour::grey);
    num_attended += (local || remote) ? 1 : 0;
  }
  return cells;
}

void print_pattern(Walkthrough& w, const BlockSparseParams& params, int seq_len, const std::string& caption) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const int num_sparse_blocks = (seq_len - 1) / params.block_size + 1;
  std::vector<std::string> columns;
  const int shown = std::min(num_sparse_blocks, 40);
  for (int b = 0; b < shown; ++b) columns.push_back(std::to_string(b % 10));
  out.paragraph(caption);
  Grid grid("head (kv) \\ sparse block", columns);
  for (int head = 0; head < s.num_heads && head < 16; ++head) {
    const int kv_head = kv_head_for(head, s.num_heads, s.num_kv_heads);
    const BlockSparseMask mask = block_sparse_mask(params, seq_len, s.num_heads, head, s.num_kv_heads, kv_head);
    std::vector<Colour> colours;
    int attended = 0;
    std::vector<std::string> cells = pattern_row(mask, num_sparse_blocks, colours, attended);
    cells.resize(std::size_t(shown));
    colours.resize(std::size_t(shown));
    grid.row(std::to_string(head) + " (" + std::to_string(kv_head) + "): " + std::to_string(attended) + "/" +
                 std::to_string(num_sparse_blocks),
             cells, colours);
  }
  out.print(grid);
  out.line();
}

void show_rule(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const BlockSparseParams& p = s.block_sparse;
  Terminal& out = w.out();
  out.heading("15.1 The pattern: local blocks and a vertical stride");
  out.paragraph("Block sparsity (upstream's IS_BLOCK_SPARSE, on when --blocksparse-vert-stride > 1) cuts each "
                "sequence into sparse blocks of blocksparse_block_size tokens, a whole number of kv_blocks. The query "
                "is the last token, in sparse block q_bs. A head attends the local_blocks most recent sparse blocks "
                "and, further back, one sparse block in every vert_stride, at a phase that moves from head to head:");
  out.formula("q_bs   = (seq_len - 1) / blocksparse_block_size");
  out.formula("k_bs   = kv_block_idx * BLOCK_SIZE / blocksparse_block_size");
  out.formula("offset = (tp_rank * num_heads + head) * sliding_step + 1            (sliding_step >= 0)");
  out.formula("       = (tp_rank * num_kv_heads + kv_head) * (-sliding_step) + 1   (sliding_step < 0)");
  out.formula("attend = (k_bs + offset) % vert_stride == 0  or  k_bs > q_bs - local_blocks");
  out.line();
  out.paragraph("This run: sparse blocks of " + std::to_string(p.block_size) + " tokens (" +
                std::to_string(p.block_size / s.block_size) + " kv_blocks each), local_blocks " +
                std::to_string(p.local_blocks) + ", vert_stride " + std::to_string(p.vert_stride) + ", sliding_step " +
                std::to_string(p.head_sliding_step) + ", tp_rank " + std::to_string(p.tp_rank) + ".");
  print_pattern(w, p, w.seq_len(w.seq()),
                "The pattern of sequence " + std::to_string(w.seq()) + " (" + std::to_string(w.seq_len(w.seq())) +
                    " tokens), per query head: L local, R remote (the stride), . skipped; columns are sparse blocks "
                    "(their index mod 10), rows end with the attended count:");

  // The rule as core/block_sparse.h states it against the dense oracle's own statement, per token.
  std::int64_t disagreements = 0;
  for (int seq = 0; seq < s.num_seqs; ++seq) {
    const int len = w.seq_len(seq);
    for (int head = 0; head < s.num_heads; ++head) {
      const int kv_head = kv_head_for(head, s.num_heads, s.num_kv_heads);
      const BlockSparseMask mask = block_sparse_mask(p, len, s.num_heads, head, s.num_kv_heads, kv_head);
      for (int token = 0; token < len; ++token)
        if (mask.attends(token / s.block_size, s.block_size) != oracle_attends_token(w.inputs(), len, head, token))
          ++disagreements;
    }
  }
  w.check("two_statements_of_the_rule_agree", disagreements == 0,
          "for every sequence, head and token, the kernel's per-kv_block rule (core/block_sparse.h) and the dense "
          "oracle's own per-token statement of it agree");
}

void show_upstream_example(Walkthrough& w) {
  Terminal& out = w.out();
  out.heading("15.2 Phi-3-small's numbers");
  out.paragraph("Phi-3-small, the model this was built for, used sparse blocks of 64 tokens, 16 local blocks and "
                "vert_stride 8, and a sliding step of max(1, vert_stride / heads). Computed with the same rule for "
                "a 4000-token sequence and 32 heads (step 1, tp_rank 0):");
  BlockSparseParams phi3;
  phi3.block_size = 64;
  phi3.local_blocks = 16;
  phi3.vert_stride = 8;
  phi3.head_sliding_step = 1;
  const int seq_len = 4000;
  const int num_sparse_blocks = (seq_len - 1) / phi3.block_size + 1;
  Table table({{"head"}, {"remote sparse blocks", Table::Align::left}, {"local"}, {"attended"}, {"of the context"}});
  for (int head : {0, 1, 7}) {
    const BlockSparseMask mask = block_sparse_mask(phi3, seq_len, 32, head, 32, head);
    std::vector<int> remote, local;
    for (int b = 0; b < num_sparse_blocks; ++b) {
      if (mask.is_local(b)) local.push_back(b);
      else if (mask.is_remote(b)) remote.push_back(b);
    }
    const int attended = int(remote.size() + local.size());
    table.row({std::to_string(head), ranges(remote), ranges(local), std::to_string(attended) + " of " +
               std::to_string(num_sparse_blocks), fixed(100.0 * attended / num_sparse_blocks, 0) + "%"});
  }
  out.print(table);
  out.line();
  out.paragraph("About a third of the context per head, and different thirds for different heads, so that the "
                "heads together still see every remote block.");
}

void show_skipping(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const RecordDims& d = w.dims();
  out.heading("15.3 What the kernel does with a skipped kv_block");
  out.paragraph("The rule is applied per kv_block, once per warp iteration, before any key is loaded. A skipped "
                "kv_block's logits are set to -FLT_MAX (its exponentials are then exactly 0) and the value loop "
                "passes over it: neither its keys nor its values are read. The kv_blocks are still dealt to the "
                "warps round-robin as in the dense kernel, so a warp whose kv_blocks are skipped simply has less "
                "to do. For " + w.focus_name() + ", from the recording:");
  const int len = w.seq_len(w.seq());
  const int num_kv_blocks = divide_round_up(len, s.block_size);
  const std::int64_t elements_per_physical_block = std::int64_t(s.num_kv_heads) * s.head_size * s.block_size;
  std::set<std::int64_t> skipped_physical;
  std::set<int> skipped_blocks;
  std::vector<std::set<int>> attended_per_warp(std::size_t(g.num_warps())), skipped_per_warp(std::size_t(g.num_warps()));
  bool logits_ok = true;
  std::int64_t key_bytes = 0, value_bytes = 0;
  // v2 splits the tokens over partitions: every partition's thread_block, its token records by their
  // token_idx, and its loads.
  const int num_partitions = w.paged().num_partitions(w.seq());
  for (int p = 0; p < num_partitions; ++p) {
    const ThreadBlockRecord record = w.record(p);
    const int first_token = w.is_v2() ? p * s.partition_size : 0;
    const int num_tokens = std::min(len - first_token, w.is_v2() ? s.partition_size : len);
    for (int slot = 0; slot < num_tokens; ++slot) {
      const TokenRecord& token = record.token(slot);
      const int block = token.token_idx / s.block_size;
      if (token.skipped) {
        skipped_blocks.insert(block);
        skipped_physical.insert(w.physical_block(w.seq(), block));
        skipped_per_warp[std::size_t(token.warp)].insert(block);
        logits_ok = logits_ok && token.logit == -FLT_MAX;
      } else {
        attended_per_warp[std::size_t(token.warp)].insert(block);
      }
    }
  }
  std::int64_t skipped_reads = 0;
  for (int p = 0; p < num_partitions; ++p)
    for (int t = 0; t < d.num_threads; ++t)
      for (const LoadRecord& load : w.loads(t, p)) {
        if (load.kind != LoadKind::key && load.kind != LoadKind::value) continue;
        if (load.kind == LoadKind::key) key_bytes += g.key_load_bytes();
        else value_bytes += g.value_load_bytes();
        if (skipped_physical.count(load.element_offset / elements_per_physical_block)) ++skipped_reads;
      }
  const std::vector<int> skipped_logical(skipped_blocks.begin(), skipped_blocks.end());
  const std::int64_t dense_bytes = std::int64_t(num_kv_blocks) * 2 * s.head_size * s.block_size * g.cache_element_size;
  Table table({{"kv_blocks"}, {"skipped"}, {"skipped kv_blocks", Table::Align::left}, {"K+V bytes read"},
               {"dense would read"}});
  table.row({std::to_string(num_kv_blocks), std::to_string(skipped_logical.size()), ranges(skipped_logical),
             std::to_string(key_bytes + value_bytes), std::to_string(dense_bytes)});
  out.print(table);
  out.line();
  std::vector<std::string> warps, attended, skipped;
  for (int warp = 0; warp < g.num_warps(); ++warp) {
    warps.push_back(std::to_string(warp));
    attended.push_back(std::to_string(attended_per_warp[std::size_t(warp)].size()));
    skipped.push_back(std::to_string(skipped_per_warp[std::size_t(warp)].size()));
  }
  Grid grid("warp", warps);
  grid.row("kv_blocks read", attended);
  grid.row("skipped", skipped);
  out.print(grid);
  out.line();
  out.paragraph("(Whole kv_blocks are read, so a partial last kv_block counts in full.) How evenly the attended "
                "kv_blocks fall on the warps depends on the pattern against the round-robin deal: here a sparse "
                "block is " + std::to_string(s.block_sparse.block_size / s.block_size) + " kv_blocks and there are " +
                std::to_string(g.num_warps()) + " warps.");
  w.check("skipped_kv_blocks_never_read", skipped_reads == 0 && logits_ok,
          "no recorded key or value load of the focus thread_block touches a skipped kv_block, and every token of "
          "a skipped kv_block has the logit -FLT_MAX");
}

void show_sliding(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  out.heading("15.4 Sliding by kv head, and tp_rank");
  out.paragraph("A negative sliding step shifts the remote blocks per kv head instead of per query head, so the "
                "query heads of a GQA group read the same remote kv_blocks (the 'homo_head_group' setting). tp_rank "
                "makes the head index global under tensor parallelism: the GPU of rank 1 holds heads num_heads .. "
                "2 num_heads - 1 of the model, and their phases continue where rank 0's stop.");
  BlockSparseParams by_kv_head = s.block_sparse;
  by_kv_head.head_sliding_step = -std::max(1, std::abs(s.block_sparse.head_sliding_step));
  print_pattern(w, by_kv_head, w.seq_len(w.seq()),
                "sliding_step " + std::to_string(by_kv_head.head_sliding_step) + " (by kv head), tp_rank " +
                    std::to_string(by_kv_head.tp_rank) + ":");
  BlockSparseParams next_rank = s.block_sparse;
  next_rank.tp_rank = s.block_sparse.tp_rank + 1;
  print_pattern(w, next_rank, w.seq_len(w.seq()),
                "sliding_step " + std::to_string(next_rank.head_sliding_step) + ", tp_rank " +
                    std::to_string(next_rank.tp_rank) + ":");
}

void show_history(Walkthrough& w) {
  Terminal& out = w.out();
  out.heading("15.5 Why it was in this kernel, and where it went");
  out.paragraph("vLLM added block-sparse attention in May 2024 (pull request 4799) for Phi-3-small: a Triton kernel "
                "for the prompt and these few lines in the paged decode kernel, where skipping whole kv_blocks costs "
                "one test per kv_block. The doubled template argument (IS_BLOCK_SPARSE) doubled the kernel "
                "instances. In July 2025 vLLM removed the block-sparse backend together with Phi-3-small (pull "
                "request 21217); the arguments stayed in the kernel's signature. This project implements them "
                "because they are part of the signature it teaches.");
}

}  // namespace
}  // namespace pal::walkthrough

int main(int argc, char** argv) {
  using namespace pal::walkthrough;
  ChapterInfo chapter;
  chapter.number = 15;
  chapter.teaches = "Block-sparse attention: local blocks plus a per-head vertical stride, applied per kv_block; "
                    "skipped kv_blocks are never read.";
  chapter.scenario = teaching_scenario();
  chapter.scenario.num_seqs = 2;
  // Head size 128: the fp8 and block-sparse kernels every build compiles for the emulator are the
  // fp16-query, head-128, block-16 ones (kernels/CMakeLists.txt, the reduced set).
  chapter.scenario.head_size = 128;
  chapter.scenario.seq_lens = {1000, 300};
  chapter.scenario.block_sparse.block_size = 64;
  chapter.scenario.block_sparse.local_blocks = 2;
  chapter.scenario.block_sparse.vert_stride = 4;
  chapter.scenario.block_sparse.head_sliding_step = 1;
  chapter.focus_seq = 0;
  chapter.focus_head = 1;
  return run_chapter(argc, argv, chapter, [](Walkthrough& w) {
    if (!w.scenario().block_sparse.enabled()) {
      w.out().paragraph("This chapter is about block sparsity, which this run has off (vert_stride <= 1). Run it "
                        "with --blocksparse-vert-stride 4 or more (or without the flag).");
      w.check_stage(pal::Check::final_output);
      return;
    }
    show_rule(w);
    show_upstream_example(w);
    show_skipping(w);
    show_sliding(w);
    show_history(w);
    w.out().heading("15.6 Checks");
    w.check_stage(pal::Stage::qk_logits);
    w.check_stage(pal::Stage::softmax);
    w.check_stage(pal::Check::final_output);
  });
}
