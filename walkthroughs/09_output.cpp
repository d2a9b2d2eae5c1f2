// Chapter 9: the output. Warp 0 holds the thread_block's fp32 result row by row; one lane per row
// rounds it to the dtype and writes it to out[seq][head] (v1) or to this partition's slot of tmp_out
// (v2). The dense double-precision oracle shows what the kernel's roundings cost.
#include <algorithm>
#include <cmath>

#include "reference/dense_oracle.h"
#include "walkthroughs/harness.h"
#include "kernels/thread_mapping.h"

namespace pal::walkthrough {
namespace {

void show_pointer(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const int partitions = w.dims().max_num_partitions;
  const std::int64_t offset = ((std::int64_t(w.seq()) * s.num_heads + w.head()) * partitions) * s.head_size;
  out.heading("9.1 Where the result goes");
  out.paragraph("The main kernel's output has the shape [num_seqs, num_heads, max_num_partitions, head_size]; in v1 "
                "max_num_partitions is 1, so that is simply out[seq][head]. For " + w.focus_name() + ":");
  out.formula("out_offset = ((seq * num_heads + head) * max_num_partitions + partition) * head_size");
  out.formula("           = ((" + std::to_string(w.seq()) + " * " + std::to_string(s.num_heads) + " + " +
              std::to_string(w.head()) + ") * " + std::to_string(partitions) + " + 0) * " + std::to_string(s.head_size) +
              " = " + std::to_string(offset));
}

void show_writers(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  out.heading("9.2 Who writes which element");
  out.paragraph("Only warp 0, and in it only the lanes with lane % NUM_V_VECS_PER_ROW == 0, write: lane l writes the "
                "rows l / NUM_V_VECS_PER_ROW + i * NUM_ROWS_PER_ITER it accumulated. Each cell is the writer of one "
                "head dim:");
  std::vector<std::string> columns;
  for (int c = 0; c < 8; ++c) columns.push_back("+" + std::to_string(c));
  Grid grid("dim", columns);
  for (int d0 = 0; d0 < s.head_size && d0 < 64; d0 += 8) {
    std::vector<std::string> cells;
    std::vector<Colour> colours;
    for (int c = 0; c < 8; ++c) {
      const int d = d0 + c;
      const int lane = ThreadMapping{g}.row_writer_lane(d);
      cells.push_back("l" + std::to_string(lane));
      colours.push_back(palette(ThreadMapping{g}.row_slot(d)));
    }
    grid.row(std::to_string(d0), cells, colours);
  }
  out.print(grid);
  if (s.head_size > 64) out.line("  (" + std::to_string(s.head_size - 64) + " more dims not shown)");
  out.line();
  out.paragraph("So " + std::to_string(kWarpSize / g.num_v_vecs_per_row()) + " lanes each write " +
                std::to_string(g.num_rows_per_thread()) + " elements; the other " +
                std::to_string(s.num_threads - kWarpSize / g.num_v_vecs_per_row()) +
                " threads of the thread_block are already finished.");
}

void show_values(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const RecordDims& d = w.dims();
  const DenseOutput oracle = dense_attention_oracle(w.inputs());
  const bool narrow = s.dtype != DType::fp32;  // fp32 output: nothing is rounded to a narrower type
  out.heading(narrow ? "9.3 The values: fp32 accumulators, rounded to " + std::string(dtype_name(s.dtype))
                     : std::string("9.3 The values: fp32 accumulators, stored as they are"));
  out.paragraph(std::string(narrow ? "The lane converts its fp32 sum to the output dtype (round to nearest even) and stores it. "
                                   : "The output dtype is fp32, so the lane stores its sum as it is. ") +
                "Below, the "
                "recorded accumulator, the stored value, the reference's value, and the exact answer from the dense "
                "oracle (double precision, no paging, no rounding of probabilities):");
  Table table({{"dim"}, {"writer"}, {"fp32 acc"}, {"stored"}, {"reference"}, {"dense oracle"}});
  const int last_level = d.num_acc_levels - 1;
  double worst = 0.0;
  int worst_dim = 0;
  for (int dim = 0; dim < s.head_size; ++dim) {
    const int lane = ThreadMapping{g}.row_writer_lane(dim);
    const int i = ThreadMapping{g}.row_slot(dim);
    const float acc = w.record().acc(last_level, lane, i);
    const float stored = w.record().out(dim);
    const double exact = oracle.at(w.seq(), w.head(), dim);
    const double error = std::fabs(double(w.run().output.get_float((std::int64_t(w.seq()) * s.num_heads + w.head()) * s.head_size + dim)) - exact);
    if (error > worst) {
      worst = error;
      worst_dim = dim;
    }
    if (dim < 12)
      table.row({std::to_string(dim), "lane " + std::to_string(lane), signed_fixed(acc, 7), signed_fixed(stored, 7),
                 signed_fixed(w.focus().out[std::size_t(dim)], 7), signed_fixed(exact, 7)});
  }
  out.print(table);
  if (s.head_size > 12) out.line("  (" + std::to_string(s.head_size - 12) + " more dims not shown)");
  out.line();
  // The same reference with fp32 probabilities: what is left is the final rounding (and fp32 sums).
  const ReferenceRun exact_probs =
      reference_attention(w.scenario(), w.inputs(), w.run().version, ProbabilityPrecision::exact_fp32);
  double worst_exact = 0.0;
  for (int dim = 0; dim < s.head_size; ++dim)
    worst_exact = std::max(worst_exact, std::fabs(double(exact_probs.output_at(w.seq(), w.head(), dim)) -
                                                  oracle.at(w.seq(), w.head(), dim)));
  const bool mostly_final = worst_exact >= 0.5 * worst;
  if (!narrow) {
    out.paragraph("Over the whole head the kernel's output is at most " + general(worst, 3) + " from the exact answer "
                  "(at dim " + std::to_string(worst_dim) + "). In fp32 no value is rounded to a narrower type: the gap "
                  "is fp32 arithmetic (the exponentials and the sums) against the oracle's double precision. The "
                  "reference follows the kernel's stages on purpose: that is why it is the yardstick for the kernel's stages, "
                  "and the oracle only for the reference.");
    return;
  }
  out.paragraph("Over the whole head the kernel's output is at most " + general(worst, 3) + " from the exact answer "
                "(at dim " + std::to_string(worst_dim) + "). Two roundings make it: each probability is rounded to " +
                std::string(dtype_name(s.dtype)) + " before it meets V (chapter 7), and the result is rounded once "
                "more here. The reference with fp32 probabilities (pal-run --exact-fp32-probabilities) stays within " +
                general(worst_exact, 3) + " of the exact answer, so in this run " +
                (mostly_final ? "the final rounding is most of the gap." : "rounding the probabilities is most of the gap.") +
                " The reference makes the kernel's roundings on purpose: that is why it is the yardstick for the "
                "kernel's stages, and the oracle only for the reference.");
}

void show_all(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  out.heading("9.4 The whole output");
  out.paragraph("Every thread_block did the same for its (head, seq). The first four dims of each output row:");
  Table table({{"seq"}, {"head"}, {"kv head"}, {"out[0]"}, {"out[1]"}, {"out[2]"}, {"out[3]"}});
  for (int seq = 0; seq < s.num_seqs && seq < 8; ++seq)
    for (int head = 0; head < s.num_heads && head < 8; ++head) {
      std::vector<std::string> cells{std::to_string(seq), std::to_string(head),
                                     std::to_string(kv_head_for(head, s.num_heads, s.num_kv_heads))};
      for (int dim = 0; dim < 4 && dim < s.head_size; ++dim)
        cells.push_back(signed_fixed(w.run().output.get_float((std::int64_t(seq) * s.num_heads + head) * s.head_size + dim), 5));
      table.row(cells, seq == w.seq() && head == w.head() ? Colour::bold : Colour::none);
    }
  out.print(table);
}

}  // namespace
}  // namespace pal::walkthrough

int main(int argc, char** argv) {
  using namespace pal::walkthrough;
  ChapterInfo chapter;
  chapter.number = 9;
  chapter.teaches = "The output: warp 0 rounds its fp32 sums to the dtype and writes the head's row; how far that "
                    "is from the exact answer, and why.";
  chapter.scenario = teaching_scenario();
  chapter.focus_seq = 2;
  return run_chapter(argc, argv, chapter, [](Walkthrough& w) {
    show_pointer(w);
    show_writers(w);
    show_values(w);
    show_all(w);
    w.out().heading("9.5 Checks");
    w.check_stage(pal::Stage::output);
    w.check_stage(pal::Check::final_output);
  });
}
