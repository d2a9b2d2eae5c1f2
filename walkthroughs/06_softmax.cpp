// Chapter 6: softmax over the thread_block's logits, in two block-wide reductions. The maximum goes
// butterfly-inside-each-warp, then through red_smem across warps; exp(logit - max) is summed the
// same way; one reciprocal then normalises every logit in shared memory into a probability.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "walkthroughs/harness.h"

namespace pal::walkthrough {
namespace {

void show_warp_max(Walkthrough& w) {
  const KernelGeometry g = w.geometry();
  const RecordDims& d = w.dims();
  Terminal& out = w.out();
  const int tgs = g.thread_group_size();
  const int steps = d.num_qk_max_warp_steps;
  out.heading("6.1 The maximum inside a warp: a butterfly over the group leaders");
  out.paragraph("Subtracting the largest logit before exponentiating keeps exp() from overflowing, so the thread_block "
                "first needs max(logits). After the QK loop each group leader holds the max of the tokens it computed "
                "(-FLT_MAX if none); the other lanes hold -FLT_MAX. In step k every lane takes the max of its value "
                "and the value of the lane whose number differs in one bit (xor mask 16, 8, ...). The masks stop at "
                "THREAD_GROUP_SIZE = " + std::to_string(tgs) +
                ", because only leaders carry logits. Warp 0, leaders only, as recorded:");
  std::vector<Table::Column> columns{{"lane"}, {"before"}};
  for (int k = 0, mask = kWarpSize / 2; k < steps; ++k, mask /= 2) columns.push_back({"xor " + std::to_string(mask)});
  Table table(columns);
  for (int lane = 0; lane < kWarpSize; lane += tgs) {
    std::vector<std::string> cells{std::to_string(lane)};
    for (int k = 0; k <= steps; ++k) cells.push_back(signed_fixed(w.record().qk_max_warp(k, lane), 4));
    table.row(cells);
  }
  out.print(table);
  out.line();
  out.paragraph("After the last step every leader of the warp holds the warp's maximum, and lane 0 writes it to "
                "red_smem[warp] (the first NUM_WARPS floats of a small shared array).");
}

void show_block_max(Walkthrough& w) {
  const KernelGeometry g = w.geometry();
  const RecordDims& d = w.dims();
  Terminal& out = w.out();
  const int warps = g.num_warps();
  const int steps = d.num_cross_warp_steps;
  out.heading("6.2 The maximum across warps: red_smem, a small butterfly, a broadcast");
  std::string red;
  for (int i = 0; i < warps; ++i) red += (i ? "  " : "") + signed_fixed(w.record().red_smem_max(i), 4);
  out.paragraph("After a barrier, lane l < NUM_WARPS of every warp loads red_smem[l] and the other lanes load "
                "-FLT_MAX; a butterfly over masks NUM_WARPS/2 ... 1 leaves the block maximum in lane 0, and a shuffle "
                "from lane 0 gives it to all 32 lanes. red_smem (max half) = [" + red + "]. Lanes of warp 0:");
  std::vector<Table::Column> columns{{"lane"}, {"loaded"}};
  for (int k = 0, mask = warps / 2; k < steps; ++k, mask /= 2) columns.push_back({"xor " + std::to_string(mask)});
  Table table(columns);
  for (int lane = 0; lane < warps; ++lane) {
    std::vector<std::string> cells{std::to_string(lane)};
    for (int k = 0; k <= steps; ++k)
      cells.push_back(signed_fixed(w.record().qk_max_cross_warp(k, lane), 4));
    table.row(cells);
  }
  out.print(table);
  out.line();
  out.formula("qk_max = " + signed_fixed(w.record().qk_max_block(), 6) + "   (the reference's max: " +
              signed_fixed(w.focus().qk_max, 6) + ")");
  out.line();
  out.paragraph("Every warp does the same on its own lanes, so all " + std::to_string(w.scenario().num_threads) +
                " threads end with the same qk_max. The barrier before the loads also guarantees that every logit "
                "written in the QK loop is visible to every thread from now on.");
}

void show_exp_sum(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  const RecordDims& d = w.dims();
  Terminal& out = w.out();
  const ThreadBlockStages& tb = w.focus();
  const int warps = g.num_warps();
  out.heading("6.3 exp(logit - max), and its sum over the thread_block");
  out.paragraph("Now the threads stride over the logits: thread t handles tokens t, t + " + std::to_string(s.num_threads) +
                ", ..., replaces each logit by exp(logit - qk_max) in place, and keeps a private sum. (On the GPU "
                "exp is the fast __expf intrinsic.) The sum then goes through the same two-level reduction as the "
                "maximum, with + instead of max, a full warp butterfly (masks 16 ... 1, every lane holds a value), "
                "and the second half of red_smem. Per warp, as recorded:");
  Table table({{"warp"}, {"tokens it exponentiated", Table::Align::left}, {"sum (red_smem)"}});
  for (int warp = 0; warp < warps; ++warp) {
    std::vector<int> tokens;
    for (int t = warp * kWarpSize; t < tb.num_tokens(); t += s.num_threads)
      for (int l = 0; l < kWarpSize && t + l < tb.num_tokens(); ++l) tokens.push_back(tb.range.start_token_idx + t + l);
    table.row({std::to_string(warp), tokens.empty() ? "(none)" : ranges(tokens),
               fixed(w.record().red_smem_sum(warp), 5)},
              palette(warp));
  }
  out.print(table);
  out.line();
  out.formula("exp_sum = " + fixed(w.record().exp_sum_block(), 6) + "   (the reference's sum: " +
              fixed(tb.exp_sum, 6) + ")");
  (void)d;
  out.line();
  out.paragraph("Note that the warps that exponentiate are not the warps that computed the logits: the QK loop "
                "dealt whole kv_blocks to warps, this loop deals single tokens to threads. Shared memory is what "
                "lets the work be re-cut between the two.");
}

// A bar chart of probabilities, one column per token (tokens bucketed by max when there are many).
void show_probabilities(Walkthrough& w) {
  const ThreadBlockStages& tb = w.focus();
  Terminal& out = w.out();
  out.heading("6.4 Normalise: one reciprocal, then a multiply per token");
  const float exp_sum = w.record().exp_sum_block();
  out.paragraph("inv_sum = 1 / (exp_sum + 1e-6), and every thread multiplies its tokens' values by it. The epsilon "
                "only guards the division: the largest logit contributes exp(0) = 1 to the sum, so exp_sum >= 1 and "
                "the epsilon changes the result by at most one part in a million. A barrier follows, since the V "
                "loop reads probabilities written by other threads.");
  out.formula("inv_sum = 1 / (" + fixed(exp_sum, 6) + " + 1e-6) = " + fixed(1.0 / (double(exp_sum) + 1e-6), 8));
  out.line();
  const int n = tb.num_tokens();
  const int width = 80;
  const int bucket = divide_round_up(n, width);
  const int columns = divide_round_up(n, bucket);
  std::vector<double> heights(std::size_t(columns), 0.0);
  double top = 0.0;
  for (int t = 0; t < n; ++t) {
    const double p = w.record().prob(t);
    heights[std::size_t(t / bucket)] = std::max(heights[std::size_t(t / bucket)], p);
    top = std::max(top, p);
  }
  out.paragraph("The recorded probabilities of " + w.focus_name() + ", one column per token" +
                (bucket > 1 ? " (each column the largest of " + std::to_string(bucket) + " tokens)" : std::string()) +
                "; the tallest bar is " + fixed(top, 4) + ":");
  const int rows = 8;
  for (int r = rows; r >= 1; --r) {
    std::string line = "  |";
    for (int c = 0; c < columns; ++c) line += heights[std::size_t(c)] >= top * (r - 0.5) / rows ? '#' : ' ';
    while (line.back() == ' ') line.pop_back();
    out.line(line);
  }
  std::string axis = "  +", labels = "   ";
  for (int c = 0; c < columns; ++c) {
    axis += (c % 10 == 0) ? '+' : '-';
    if (c % 10 == 0) {
      const std::string label = std::to_string(tb.range.start_token_idx + c * bucket);
      if (labels.size() < std::size_t(3 + c)) labels.resize(std::size_t(3 + c), ' ');
      labels += label;
    }
  }
  out.line(axis);
  out.line(labels + "  (token)");
  out.line();
  double sum = 0.0;
  for (int t = 0; t < n; ++t) sum += w.record().prob(t);
  out.paragraph("The probabilities add up to " + fixed(sum, 7) + ". The padding slots were never part of this loop "
                "(it runs to num_tokens), so they still hold the 0 the QK loop wrote.");
}

}  // namespace
}  // namespace pal::walkthrough

int main(int argc, char** argv) {
  using namespace pal::walkthrough;
  ChapterInfo chapter;
  chapter.number = 6;
  chapter.teaches = "Softmax: the block-wide maximum and sum, each a butterfly inside every warp plus a round "
                    "through shared memory across warps, and the normalised probabilities.";
  chapter.scenario = teaching_scenario();
  chapter.focus_seq = 2;
  return run_chapter(argc, argv, chapter, [](Walkthrough& w) {
    show_warp_max(w);
    show_block_max(w);
    show_exp_sum(w);
    show_probabilities(w);
    w.out().heading("6.5 Checks");
    w.check_stage(pal::Stage::qk_max);
    w.check_stage(pal::Stage::exp_sum);
    w.check_stage(pal::Stage::softmax);
  });
}
