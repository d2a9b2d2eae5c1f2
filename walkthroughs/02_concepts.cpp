// Chapter 2: the words the rest of the walkthrough uses (vec, thread_group, warp, thread_block,
// grid, x), each with the value it takes in this run, and who does what in one thread_block.
#include <map>

#include "walkthroughs/harness.h"

namespace pal::walkthrough {
namespace {

void show_words(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  const int element = g.query_element_size;
  Terminal& out = w.out();
  out.heading("2.1 The words, and their values in this run");
  out.paragraph("\"Block\" means two things here, so the walkthrough never says it alone: a kv_block is " +
                std::to_string(s.block_size) +
                " consecutive tokens of one sequence's cache, a thread_block is a CUDA thread block. Everything "
                "else is derived from four numbers: the element size (" + std::to_string(element) +
                " bytes for " + std::string(dtype_name(s.dtype)) + "), head_size = " + std::to_string(s.head_size) +
                ", block_size = " + std::to_string(s.block_size) + " and NUM_THREADS = " +
                std::to_string(s.num_threads) + ".");
  Table table({{"word", Table::Align::left}, {"rule", Table::Align::left}, {"here"}, {"what it is", Table::Align::left}});
  table.row({"warp", "32 threads", std::to_string(kWarpSize), "threads that execute in lockstep"});
  table.row({"thread_block", "NUM_THREADS", std::to_string(s.num_threads), "one (head, seq[, partition])"});
  table.row({"NUM_WARPS", "NUM_THREADS / 32", std::to_string(g.num_warps()), "warps per thread_block"});
  table.row({"THREAD_GROUP_SIZE", "max(32 / block_size, 1)", std::to_string(g.thread_group_size()),
             "lanes that share one token"});
  table.row({"NUM_THREAD_GROUPS", "NUM_THREADS / TGS", std::to_string(g.num_thread_groups()),
             "thread_groups per thread_block"});
  table.row({"VEC_SIZE", "max(16 / (TGS * elem), 1)", std::to_string(g.vec_size()), "q/k elements one lane loads"});
  table.row({"x", "16 / elem", std::to_string(g.x()), "elements in a 16-byte key chunk"});
  table.row({"NUM_VECS_PER_THREAD", "head_size / TGS / VEC", std::to_string(g.num_vecs_per_thread()),
             "q/k vecs each lane holds"});
  table.row({"V_VEC_SIZE", "min(16 / elem, block_size)", std::to_string(g.v_vec_size()), "tokens of a V row per load"});
  table.row({"NUM_V_VECS_PER_ROW", "block_size / V_VEC_SIZE", std::to_string(g.num_v_vecs_per_row()),
             "lanes that share a V row"});
  table.row({"NUM_ROWS_PER_ITER", "32 / NUM_V_VECS_PER_ROW", std::to_string(g.num_rows_per_iter()),
             "V rows a warp covers at once"});
  table.row({"NUM_ROWS_PER_THREAD", "ceil(head_size / ROWS_PER_ITER)", std::to_string(g.num_rows_per_thread()),
             "accumulators per lane"});
  out.print(table);
  out.line();
  out.paragraph("Two products hold for every configuration the kernel compiles: THREAD_GROUP_SIZE x block_size = " +
                std::to_string(g.thread_group_size() * s.block_size) +
                " = one warp, so a warp covers exactly one kv_block with one thread_group per token; and "
                "THREAD_GROUP_SIZE x VEC_SIZE = " +
                std::to_string(g.thread_group_size() * g.vec_size()) + " = x, so one step of a thread_group is one "
                "16-byte chunk of a key.");
}

void show_grid(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const int partitions = w.dims().max_num_partitions;
  out.heading("2.2 The grid: one thread_block per (head, sequence" + std::string(w.is_v2() ? ", partition)" : ")"));
  out.paragraph("The launch has gridDim = (num_heads, num_seqs, max_num_partitions) = (" + std::to_string(s.num_heads) +
                ", " + std::to_string(s.num_seqs) + ", " + std::to_string(partitions) + "): blockIdx.x is the query "
                "head, blockIdx.y the sequence" + (w.is_v2() ? ", blockIdx.z the partition" : std::string()) +
                ". Each cell below is one thread_block and the number of context tokens it attends over.");
  std::vector<std::string> heads;
  for (int h = 0; h < s.num_heads && h < 8; ++h) heads.push_back("head " + std::to_string(h));
  Grid grid("", heads);
  for (int seq = 0; seq < s.num_seqs && seq < 16; ++seq) {
    std::vector<std::string> cells;
    std::vector<Colour> colours;
    for (int h = 0; h < int(heads.size()); ++h) {
      cells.push_back(std::to_string(w.seq_len(seq)) + " tok");
      colours.push_back(seq == w.seq() && h == w.head() ? Colour::bold : Colour::none);
    }
    grid.row("seq " + std::to_string(seq), cells, colours);
  }
  out.print(grid);
  if (s.num_heads > int(heads.size()) || s.num_seqs > 16) out.line("  (the first 8 heads and 16 sequences shown)");
  out.line();
  out.paragraph("So " + std::to_string(s.num_heads * s.num_seqs * partitions) +
                " thread_blocks of " + std::to_string(s.num_threads) +
                " threads run side by side, and none of them talks to another. The rest of this chapter, and of the "
                "walkthrough, looks inside one of them: " + w.focus_name() + ".");
}

void show_thread_groups(Walkthrough& w) {
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const int tgs = g.thread_group_size();
  out.heading("2.3 Inside a warp: thread_groups and the tokens of a kv_block");
  out.paragraph("threadIdx.x t belongs to warp t / 32 (at lane t % 32) and to thread_group t / THREAD_GROUP_SIZE, in "
                "which it is lane t % THREAD_GROUP_SIZE. In the QK loop, thread_group G takes token slot G % block_size "
                "of its warp's current kv_block. For warp 0:");
  for (int half = 0; half < 2; ++half) {
    std::vector<std::string> lanes;
    for (int l = half * 16; l < half * 16 + 16; ++l) lanes.push_back(std::to_string(l));
    Grid grid("lane", lanes);
    std::vector<std::string> group, offset, slot;
    std::vector<Colour> colours;
    for (int l = half * 16; l < half * 16 + 16; ++l) {
      group.push_back(std::to_string(l / tgs));
      offset.push_back(std::to_string(l % tgs));
      slot.push_back(std::to_string((l / tgs) % w.scenario().block_size));
      colours.push_back(palette(l / tgs));
    }
    grid.row("thread_group", group, colours);
    grid.row("lane in group", offset, colours);
    grid.row("token slot", slot, colours);
    out.print(grid);
    out.line();
  }
  out.paragraph("Warp 1 is the same picture shifted: its lanes form thread_groups " +
                std::to_string(kWarpSize / tgs) + "-" + std::to_string(2 * kWarpSize / tgs - 1) +
                ", again one per token slot. Within a thread_group the lanes split the head: lane r holds the vecs r, "
                "r + THREAD_GROUP_SIZE, ... of the query and of every key it meets (chapters 3 and 4).");
}

void show_warps(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const ThreadBlockStages& tb = w.focus();
  const ThreadBlockRecord r = w.record();
  out.heading("2.4 Across warps: kv_blocks dealt round-robin, as recorded");
  out.paragraph("The thread_block's kv_blocks are dealt to its warps like cards: warp w takes kv_blocks w, w + " +
                std::to_string(w.geometry().num_warps()) + ", ... in successive iterations. This is what the kernel "
                "recorded for " + w.focus_name() + " (" + std::to_string(tb.range.num_blocks()) +
                " kv_blocks; each entry is logical -> physical):");
  // warp -> iteration -> (logical, physical), from the first token of each kv_block.
  std::map<int, std::map<int, std::string>> seen;
  int max_iteration = 0;
  for (int b = 0; b < tb.range.num_blocks(); ++b) {
    const TokenRecord& token = r.token(b * s.block_size);
    seen[token.warp][token.iteration] =
        std::to_string(token.token_idx / s.block_size) + " -> " + std::to_string(token.physical_block);
    max_iteration = std::max(max_iteration, token.iteration);
  }
  constexpr int kMaxIterationsShown = 6;
  std::vector<Table::Column> columns{{"warp"}};
  for (int it = 0; it <= max_iteration && it < kMaxIterationsShown; ++it)
    columns.push_back({"iteration " + std::to_string(it)});
  Table table(columns);
  for (int warp = 0; warp < w.geometry().num_warps(); ++warp) {
    std::vector<std::string> cells{std::to_string(warp)};
    for (int it = 0; it <= max_iteration && it < kMaxIterationsShown; ++it)
      cells.push_back(seen[warp].count(it) ? seen[warp][it] : "(idle)");
    table.row(cells, palette(warp));
  }
  out.print(table);
  if (max_iteration >= kMaxIterationsShown)
    out.line("  (iterations " + std::to_string(kMaxIterationsShown) + "-" + std::to_string(max_iteration) + " not shown)");
  out.line();
  out.paragraph("An idle warp still takes part in every barrier and every reduction of the thread_block; it simply "
                "contributes nothing (a max of -FLT_MAX, a sum of 0).");
}

void check_assignment(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  const ThreadMapping map = w.mapping();
  std::int64_t checked = 0, wrong = 0;
  for (const ThreadBlockStages& tb : w.reference().thread_blocks) {
    if (!tb.active) continue;
    const ThreadBlockRecord r = w.paged().thread_block(tb.seq_idx, tb.head_idx, tb.partition_idx);
    for (int t = 0; t < tb.range.num_blocks() * s.block_size; ++t) {
      const TokenRecord& token = r.token(t);
      const int block_in_range = t / s.block_size;
      const int slot = t % s.block_size;
      const int warp = map.warp_of_block(block_in_range);
      // Group g of a warp takes slot g of its kv_block (one token per group when block_size <= 32).
      const int group = warp * (kWarpSize / g.thread_group_size()) + slot;
      ++checked;
      if (token.warp != warp || token.iteration != map.iteration_of_block(block_in_range) || token.thread_group != group ||
          token.lane != (group * g.thread_group_size()) % kWarpSize)
        ++wrong;
    }
  }
  w.out().heading("2.5 Checks");
  w.check(std::string(check_name(Check::token_assignment)), wrong == 0 && checked > 0,
          "for all " + std::to_string(checked) +
              " token slots of every thread_block, the recorded warp, iteration, thread_group and leader lane follow "
              "the rules above (warp = kv_block % NUM_WARPS, iteration = kv_block / NUM_WARPS, one thread_group per "
              "slot)" + (wrong ? "; " + std::to_string(wrong) + " do not" : std::string()));
  w.check_stage(pal::Stage::qk_logits);
}

}  // namespace
}  // namespace pal::walkthrough

int main(int argc, char** argv) {
  using namespace pal::walkthrough;
  ChapterInfo chapter;
  chapter.number = 2;
  chapter.teaches = "The vocabulary (vec, thread_group, warp, thread_block, grid, x) with the values this run gives "
                    "them, and who does what inside one thread_block.";
  chapter.scenario = teaching_scenario();
  chapter.focus_seq = 2;
  return run_chapter(argc, argv, chapter, [](Walkthrough& w) {
    show_words(w);
    show_grid(w);
    show_thread_groups(w);
    show_warps(w);
    check_assignment(w);
  });
}
