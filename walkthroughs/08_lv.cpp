// Chapter 8: adding up the accumulators. After the V loop a row's sum is spread over the lanes that
// read different token slices of it (within a warp) and over the warps that took different kv_blocks
// (across warps). A butterfly joins the first; a tree through shared memory joins the second.
#include <algorithm>

#include "walkthroughs/harness.h"
#include "kernels/thread_mapping.h"

namespace pal::walkthrough {
namespace {

float acc_at(const Walkthrough& w, int level, int thread, int row) { return w.record().acc(level, thread, row); }

void show_warp_butterfly(Walkthrough& w) {
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const int per_row = g.num_v_vecs_per_row();
  out.heading("8.1 Inside a warp: the lanes of a row");
  if (per_row == 1) {
    out.paragraph("In this configuration one lane reads a whole row of a kv_block (NUM_V_VECS_PER_ROW = 1), so "
                  "its accumulators are already complete for its warp: there is nothing to exchange.");
    return;
  }
  out.paragraph("A row of a kv_block was read by NUM_V_VECS_PER_ROW = " + std::to_string(per_row) +
                " neighbouring lanes, each over different token slots, so each holds a part of the row's sum. An "
                "xor butterfly over those lanes (" + (per_row > 2 ? "masks " + std::to_string(per_row / 2) + " ... 1"
                                                                  : std::string("mask 1")) + ") adds the parts; afterwards every one of them holds the warp's "
                "whole sum for the row. Warp 0, the first rows, as recorded:");
  std::vector<Table::Column> columns{{"row"}};
  for (int l = 0; l < per_row && l < 8; ++l) columns.push_back({"lane +" + std::to_string(l) + " before"});
  columns.push_back({"after (every lane)"});
  Table table(columns);
  for (int r = 0; r < 6 && r < g.num_rows_per_iter(); ++r) {
    std::vector<std::string> cells{std::to_string(r)};
    for (int l = 0; l < per_row && l < 8; ++l) cells.push_back(signed_fixed(acc_at(w, 0, r * per_row + l, 0), 6));
    cells.push_back(signed_fixed(acc_at(w, 1, r * per_row, 0), 6));
    table.row(cells);
  }
  out.print(table);
  out.line();
  out.paragraph("(\"lane +k\" is lane row * NUM_V_VECS_PER_ROW + k; these are each lane's accs[0].) Every lane does "
                "this for all " + std::to_string(g.num_rows_per_thread()) + " of its rows.");
}

void show_tree(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const int warps = g.num_warps();
  out.heading("8.2 Across warps: a tree through shared memory");
  out.paragraph("Each warp's sums cover only its own kv_blocks. There is no shuffle between warps, so shared memory "
                "carries the values: in each level the upper half of the remaining warps writes its rows to "
                "out_smem, a barrier, the lower half adds them, another barrier. out_smem reuses the logits buffer "
                "(a barrier first makes sure nobody still reads probabilities) and needs NUM_WARPS/2 x head_size = " +
                std::to_string(warps / 2 * s.head_size) + " floats. With " + std::to_string(warps) +
                " warps that is " + std::to_string(g.num_tree_levels()) + " levels. Row 0 and row 1, as recorded:");
  for (int row_idx = 0; row_idx < 2 && row_idx < s.head_size; ++row_idx) {
    // The lane holding row_idx, and the accs[i] it keeps it in.
    const int lane = ThreadMapping{g}.row_writer_lane(row_idx);
    const int i = ThreadMapping{g}.row_slot(row_idx);
    std::string line = "row " + std::to_string(row_idx) + "   ";
    for (int warp = 0; warp < warps; ++warp)
      line += "  warp " + std::to_string(warp) + ": " + signed_fixed(acc_at(w, 1, warp * kWarpSize + lane, i), 6);
    out.line("  " + line);
    int level = 2;
    for (int active = warps; active > 1; active /= 2, ++level) {
      const int mid = active / 2;
      auto warps_text = [](int first, int last) {
        return first == last ? "warp " + std::to_string(first) : "warps " + std::to_string(first) + "-" + std::to_string(last);
      };
      const std::string text = "    level " + std::to_string(level - 1) + ": " + warps_text(mid, active - 1) +
                               " write" + (active - mid == 1 ? "s" : "") + ", " + warps_text(0, mid - 1) +
                               (mid == 1 ? " adds:" : " add:");
      out.line(text);
      for (int warp = 0; warp < mid; ++warp) {
        const float before = acc_at(w, level - 1, warp * kWarpSize + lane, i);
        const float added = acc_at(w, level - 1, (warp + mid) * kWarpSize + lane, i);
        const float after = acc_at(w, level, warp * kWarpSize + lane, i);
        out.line("      warp " + std::to_string(warp) + ": " + signed_fixed(before, 6) + " + " + signed_fixed(added, 6) +
                 " = " + signed_fixed(after, 6));
      }
    }
    out.line();
  }
  out.paragraph("Only the first lane of each row's group (lane % NUM_V_VECS_PER_ROW == 0) writes and adds, since its "
                "neighbours hold the same value. At the end warp 0 holds the thread_block's result for every row; "
                "the other warps are done.");
}

}  // namespace
}  // namespace pal::walkthrough

int main(int argc, char** argv) {
  using namespace pal::walkthrough;
  ChapterInfo chapter;
  chapter.number = 8;
  chapter.teaches = "LV: the per-lane sums of p * v are joined, first across the lanes that share a row (a "
                    "butterfly), then across warps (a tree through shared memory), until warp 0 holds the result.";
  chapter.scenario = teaching_scenario();
  chapter.focus_seq = 2;
  return run_chapter(argc, argv, chapter, [](Walkthrough& w) {
    show_warp_butterfly(w);
    show_tree(w);
    w.out().heading("8.3 Checks");
    w.check_stage(pal::Stage::lv_warp_reduction);
    w.check_stage(pal::Stage::cross_warp_tree);
  });
}
