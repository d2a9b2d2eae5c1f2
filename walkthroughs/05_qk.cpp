// Chapter 5: QK. Each thread_group multiplies its lanes' shares of the query and of one key, adds the
// shares with a butterfly inside the group, scales, and its leader writes the logit into shared
// memory. Padding slots of the last kv_block are written as 0 and kept out of the maximum.
#include <algorithm>
#include <cmath>

#include "walkthroughs/harness.h"

namespace pal::walkthrough {
namespace {

void show_dot(Walkthrough& w) {
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const int tgs = g.thread_group_size();
  const int vec = g.vec_size();
  const TokenRecord& token = w.token(0);
  const std::vector<float> query = query_from_q_vecs(w.focus().q_vecs, g);
  const std::vector<float> key = key_gather(w.inputs(), w.seq(), w.kv_head(), token.token_idx);
  out.heading("5.1 One logit: shares, a butterfly, a scale");
  out.paragraph("Thread_group " + std::to_string(token.thread_group) + " computes token " + std::to_string(token.token_idx) +
                ". Each lane multiplies the dims it holds (q_vecs[r] with its k_vecs) and sums them in fp32; then the "
                "lanes swap partial sums with xor-shuffles (mask " + std::to_string(tgs / 2) +
                (tgs > 2 ? ", ..., 1" : "") + ") until every lane of the group has the whole dot product. The recording "
                "keeps the finished logit; the lanes' shares below are recomputed from the same loaded values:");
  std::vector<double> partial(std::size_t(tgs), 0.0);
  Table table({{"lane r"}, {"dims", Table::Align::left}, {"share of q.k"}});
  for (int r = 0; r < tgs; ++r) {
    std::vector<int> dims;
    for (int j = 0; j < g.num_vecs_per_thread(); ++j)
      for (int e = 0; e < vec; ++e) {
        const int d = (r + j * tgs) * vec + e;
        partial[std::size_t(r)] += double(query[std::size_t(d)]) * double(key[std::size_t(d)]);
        dims.push_back(d);
      }
    std::string dims_text = ranges(dims);
    if (dims_text.size() > 40) dims_text = dims_text.substr(0, 37) + "...";
    table.row({std::to_string(r), dims_text, signed_fixed(partial[std::size_t(r)], 6)}, palette(r));
  }
  out.print(table);
  out.line();
  std::vector<double> values = partial;
  for (int mask = tgs / 2; mask >= 1; mask /= 2) {
    std::vector<double> next = values;
    for (int r = 0; r < tgs; ++r) next[std::size_t(r)] = values[std::size_t(r)] + values[std::size_t(r ^ mask)];
    values = next;
    std::string line = "after xor " + std::to_string(mask) + ":";
    for (int r = 0; r < tgs; ++r) line += "  lane " + std::to_string(r) + " = " + signed_fixed(values[std::size_t(r)], 6);
    out.formula(line);
  }
  const double scale = double(w.scenario().effective_scale());
  out.formula("logit = scale * q.k = " + fixed(scale, 6) + " * " + signed_fixed(values[0], 6) + " = " +
              signed_fixed(scale * values[0], 7) + "   (recorded: " + signed_fixed(token.logit, 7) + ")");
  out.line();
  out.paragraph("Only the group's leader (lane 0 of the group, thread " + std::to_string(token.thread_group * tgs) +
                ") writes the logit; the other lanes hold the same number and drop it.");
}

void show_logits(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const ThreadBlockStages& tb = w.focus();
  out.heading("5.2 Every logit of the thread_block, as recorded");
  out.paragraph("One row per kv_block of " + w.focus_name() + ", in the order of the block table, with the warp and "
                "iteration that computed it; one column per token slot. \"pad\" marks a slot past seq_len = " +
                std::to_string(w.seq_len(w.seq())) + ".");
  // As many slots to a row as fit in the terminal with the widest logit of this run.
  std::size_t widest = 4;
  for (int t = 0; t < tb.range.num_blocks() * s.block_size; ++t)
    widest = std::max(widest, signed_fixed(w.token(t).logit, 4).size());
  const int per_grid = std::clamp(int((kTerminalWidth - 24) / (widest + 2)), 2, 8);
  for (int first = 0; first < s.block_size; first += per_grid) {
    std::vector<std::string> columns;
    for (int o = first; o < first + per_grid && o < s.block_size; ++o) columns.push_back("slot " + std::to_string(o));
    Grid grid("kv_block (warp, iter)", columns);
    for (int b = 0; b < tb.range.num_blocks() && b < 12; ++b) {
      const TokenRecord& head = w.token(b * s.block_size);
      std::vector<std::string> cells;
      std::vector<Colour> colours;
      for (int o = first; o < first + per_grid && o < s.block_size; ++o) {
        const TokenRecord& t = w.token(b * s.block_size + o);
        cells.push_back(t.masked ? "pad" : signed_fixed(t.logit, 4));
        colours.push_back(t.masked ? Colour::grey : palette(t.warp));
      }
      grid.row(std::to_string(head.token_idx / s.block_size) + " (w" + std::to_string(head.warp) + ", i" +
                   std::to_string(head.iteration) + ")",
               cells, colours);
    }
    out.print(grid);
    out.line();
  }
  if (tb.range.num_blocks() > 12) out.line("  (" + std::to_string(tb.range.num_blocks() - 12) + " more kv_blocks not shown)");
  if (s.input_preset == InputPreset::uniform && !s.scale)
    out.paragraph("These inputs are upstream's test draws (--input-preset uniform: every element uniform in "
                  "+-1/sqrt(head_size)), far smaller than a real model's, so at the scale 1/sqrt(head_size) = " +
                  fixed(1.0 / std::sqrt(double(s.head_size)), 4) +
                  " every logit is near 0 and the softmax is almost flat. The other presets shape the queries and "
                  "keys so that the logits have a trained model's spread at the same scale.");
  else if (s.scale)
    out.paragraph("This run passes scale = " + general(double(*s.scale)) + " instead of 1/sqrt(head_size) = " +
                  fixed(1.0 / std::sqrt(double(s.head_size)), 4) +
                  ". The kernel does not care: the scale is one multiplication after the dot product.");
  else
    out.paragraph("The scale is the true 1/sqrt(head_size) = " + fixed(1.0 / std::sqrt(double(s.head_size)), 4) +
                  "; the inputs (--input-preset " + std::string(input_preset_name(s.input_preset)) +
                  ") shape the queries and keys so that the logits spread by a few units, as a trained model's do. "
                  "The kernel does not care: the scale is one multiplication after the dot product.");
}

void show_padding(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const ThreadBlockStages& tb = w.focus();
  out.heading("5.3 Padding slots");
  const int slots = tb.range.num_blocks() * s.block_size;
  int padded = 0, nan_raw = 0, first_pad = -1;
  for (int t = 0; t < slots; ++t) {
    const TokenRecord& token = w.token(t);
    if (!token.masked) continue;
    if (first_pad < 0) first_pad = t;
    ++padded;
    nan_raw += std::isnan(token.logit);
  }
  if (padded == 0) {
    out.paragraph("This sequence fills its last kv_block exactly, so no slot is padding. (Try --seq 0.)");
    return;
  }
  out.paragraph("The last kv_block has " + std::to_string(padded) +
                " slots past seq_len. Their thread_groups compute a dot product anyway (a warp works on whole "
                "kv_blocks), from key slots that hold whatever the pool holds there; in this run that is NaN, and " +
                std::to_string(nan_raw) + " of the " + std::to_string(padded) +
                " raw products are NaN. The leader therefore writes 0 instead of the logit, and leaves qk_max "
                "alone. The 0 matters later: the V loop (chapter 7) reads these slots again as probabilities.");
  out.formula("logits[token - start_token] = token >= seq_len ? 0 : qk");
  out.formula("qk_max = token >= seq_len ? qk_max : max(qk_max, qk)");
}

void show_shared_memory(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  out.heading("5.4 Where the logits live: shared memory that grows with the context");
  const int padded = divide_round_up(s.max_seq_len(), s.block_size) * s.block_size;
  out.paragraph("The logits buffer is dynamic shared memory with one float per token slot of the longest sequence: "
                "v1 asks for max(" + std::to_string(padded) + " slots x 4 bytes, NUM_WARPS/2 x head_size x 4 bytes) = " +
                std::to_string(v1_shared_memory_bytes(s)) +
                " bytes per thread_block in this run. It grows with the context: an H100 allows a thread_block "
                "232,448 bytes, room for about 58,000 logits; a T4's 48 KB hold about 12,000. Chapter 10 shows how v2 "
                "caps the buffer.");
}

}  // namespace
}  // namespace pal::walkthrough

int main(int argc, char** argv) {
  using namespace pal::walkthrough;
  ChapterInfo chapter;
  chapter.number = 5;
  chapter.teaches = "QK: each thread_group turns its lanes' shares into one scaled logit per token, the leader "
                    "stores it in shared memory, and padding slots are stored as 0.";
  chapter.scenario = teaching_scenario();
  chapter.focus_seq = 2;
  return run_chapter(argc, argv, chapter, [](Walkthrough& w) {
    show_dot(w);
    show_logits(w);
    show_padding(w);
    show_shared_memory(w);
    w.out().heading("5.5 Checks");
    w.check_stage(pal::Stage::qk_logits);
  });
}
