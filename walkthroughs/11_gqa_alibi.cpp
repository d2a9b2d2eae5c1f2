// Chapter 11: two variations the kernel handles in its prologue and QK loop. GQA/MQA: several query
// heads share one kv head, and each of their thread_blocks reads that kv head's kv_blocks on its
// own. ALiBi: a per-head linear penalty on distance is added to every logit.
#include <algorithm>
#include <cmath>
#include <map>

#include "walkthroughs/harness.h"

namespace pal::walkthrough {
namespace {

void show_mapping(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const int per_kv = s.num_heads / s.num_kv_heads;
  out.heading("11.1 Grouped-query attention: query heads share kv heads");
  out.paragraph("Models with grouped-query attention (GQA) keep fewer kv heads than query heads, to shrink the KV "
                "cache; multi-query attention (MQA) is the extreme of one kv head. This run has " +
                std::to_string(s.num_heads) + " query heads and " + std::to_string(s.num_kv_heads) +
                " kv heads, so num_queries_per_kv = " + std::to_string(per_kv) +
                " consecutive query heads share each kv head. The prologue maps its head once:");
  out.formula("kv_head = head / (num_heads / num_kv_heads)");
  out.line();
  std::vector<std::string> heads;
  for (int h = 0; h < s.num_heads && h < 16; ++h) heads.push_back(std::to_string(h));
  Grid grid("query head", heads);
  std::vector<std::string> cells;
  std::vector<Colour> colours;
  for (int h = 0; h < int(heads.size()); ++h) {
    const int kv = kv_head_for(h, s.num_heads, s.num_kv_heads);
    cells.push_back(std::to_string(kv));
    colours.push_back(palette(kv));
  }
  grid.row("kv head", cells, colours);
  out.print(grid);
}

void show_rereads(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const RecordDims& d = w.dims();
  out.heading("11.2 ... but every query head reads them again");
  out.paragraph("The grid still has one thread_block per query head, and nothing is shared between thread_blocks, "
                "so each of them loads its kv head's keys and values from global memory itself. Bytes of K and V "
                "loaded, summed from the recording over the query heads of each (seq, kv head), against the bytes "
                "those kv_blocks occupy:");
  // Bytes of one key load and one value load.
  const std::int64_t key_load = std::int64_t(g.key_load_bytes());
  const std::int64_t value_load = std::int64_t(g.value_load_bytes());
  Table table({{"seq"}, {"kv head"}, {"query heads", Table::Align::left}, {"kv_blocks"}, {"bytes in cache"},
               {"bytes loaded"}, {"ratio"}});
  bool all_match = true;
  for (int seq = 0; seq < s.num_seqs; ++seq) {
    const std::int64_t blocks = divide_round_up(w.seq_len(seq), s.block_size);
    const std::int64_t block_bytes = 2 * std::int64_t(s.head_size) * s.block_size * g.cache_element_size;  // K + V
    for (int kv = 0; kv < s.num_kv_heads; ++kv) {
      std::vector<int> heads;
      std::int64_t loaded = 0;
      for (int h = 0; h < s.num_heads; ++h) {
        if (kv_head_for(h, s.num_heads, s.num_kv_heads) != kv) continue;
        heads.push_back(h);
        for (int p = 0; p < d.max_num_partitions; ++p) {
          const ThreadBlockRecord record = w.paged().thread_block(seq, h, p);
          for (int t = 0; t < d.num_threads; ++t)
            for (const LoadRecord& load : record.loads(t))
              loaded += load.kind == LoadKind::key ? key_load : load.kind == LoadKind::value ? value_load : 0;
        }
      }
      const std::int64_t in_cache = blocks * block_bytes;
      all_match = all_match && loaded == std::int64_t(heads.size()) * in_cache;
      table.row({std::to_string(seq), std::to_string(kv), ranges(heads), std::to_string(blocks), std::to_string(in_cache),
                 std::to_string(loaded), fixed(double(loaded) / double(in_cache), 2)},
                palette(kv));
    }
  }
  out.print(table);
  out.line();
  out.paragraph("Every kv_block is read num_queries_per_kv times, padding slots included (warps read whole "
                "kv_blocks). Decoding is limited by memory bandwidth, so this is the kernel's largest waste under "
                "GQA; chapter 12 shows what later kernels do instead.");
  w.check("gqa_rereads", all_match,
          "for every (seq, kv head), the recorded K and V bytes loaded equal num_queries_per_kv x the bytes of its "
          "kv_blocks");
}

void show_alibi(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  out.heading("11.3 ALiBi: a penalty that grows with distance");
  if (!s.alibi) {
    out.paragraph("This run has no ALiBi (it was turned off with --no-alibi or by the scenario file).");
    return;
  }
  const std::vector<float> slopes = alibi_slopes_for(s.num_heads);
  out.paragraph("Models trained with ALiBi use no position embeddings; instead each head adds slope * (token - seq_len "
                "+ 1) to its logits: 0 for the newest token, more negative the further back. The slopes form a "
                "geometric series over the heads (2^(-8/n), 2^(-16/n), ... for n heads), so some heads look far back "
                "and others mostly at recent tokens:");
  for (int first = 0; first < s.num_heads && first < 32; first += 8) {
    std::vector<std::string> heads, cells;
    for (int h = first; h < s.num_heads && h < first + 8; ++h) {
      heads.push_back(std::to_string(h));
      cells.push_back(fixed(slopes[std::size_t(h)], 5));
    }
    Grid grid("head", heads);
    grid.row("slope", cells);
    out.print(grid);
  }
  out.line();

  // The same run without ALiBi, through the reference, to separate the bias from q.k.
  Scenario plain_scenario = s;
  plain_scenario.alibi = false;
  Inputs plain_inputs = w.inputs();
  plain_inputs.alibi_slopes = Tensor();
  const ReferenceRun plain = reference_attention(plain_scenario, plain_inputs, w.run().version);
  const ThreadBlockStages& with = w.focus();
  const ThreadBlockStages& without = plain.thread_block(w.seq(), w.head());
  const int len = w.seq_len(w.seq());
  const float slope = slopes[std::size_t(w.head())];
  out.paragraph("For " + w.focus_name() + " (slope " + fixed(slope, 5) + ", seq_len " + std::to_string(len) +
                "): the recorded logit, the logit the reference computes without ALiBi, and their difference:");
  Table table({{"token"}, {"token - seq_len + 1"}, {"slope * that"}, {"logit (recorded)"}, {"without ALiBi"}, {"difference"}});
  std::vector<int> tokens = {0, 1, 2, len / 2, len - 3, len - 2, len - 1};
  tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
  for (int t : tokens) {
    if (t < 0 || t >= with.num_tokens()) continue;
    const float recorded = w.token(t).logit;
    table.row({std::to_string(t), std::to_string(t - len + 1), signed_fixed(slope * float(t - len + 1), 5),
               signed_fixed(recorded, 5), signed_fixed(without.logits[std::size_t(t)], 5),
               signed_fixed(double(recorded) - double(without.logits[std::size_t(t)]), 5)});
  }
  out.print(table);
  out.line();
  // How much probability the newest kv_block gets, with and without the bias.
  const int last_block_start = (divide_round_up(len, s.block_size) - 1) * s.block_size;
  double with_mass = 0.0, without_mass = 0.0;
  for (int t = last_block_start; t < len; ++t) {
    with_mass += with.probs[std::size_t(t)];
    without_mass += without.probs[std::size_t(t)];
  }
  out.paragraph("The bias is one multiply-add per token in the QK loop, after the scale. Its effect on this head: the "
                "newest kv_block (tokens " + std::to_string(last_block_start) + "-" + std::to_string(len - 1) +
                ") gets " + fixed(100.0 * with_mass, 1) + "% of the probability with ALiBi and " +
                fixed(100.0 * without_mass, 1) + "% without.");
  const StageTolerance tol = stage_tolerance(Stage::qk_logits, s.dtype, 1.0);
  std::int64_t failed = 0;
  for (int t = 0; t < with.num_tokens(); ++t) {
    const double bias = double(slope) * double(t - len + 1);
    const double diff = double(w.token(t).logit) - double(without.logits[std::size_t(t)]);
    if (!(std::fabs(diff - bias) <= tol.atol + tol.rtol * std::fabs(double(w.token(t).logit)))) ++failed;
  }
  w.check("alibi_bias", failed == 0,
          "for all " + std::to_string(with.num_tokens()) + " tokens of the focus thread_block, recorded logit minus "
          "the reference's logit without ALiBi equals slope * (token - seq_len + 1)");
}

}  // namespace
}  // namespace pal::walkthrough

int main(int argc, char** argv) {
  using namespace pal::walkthrough;
  ChapterInfo chapter;
  chapter.number = 11;
  chapter.teaches = "GQA and ALiBi: query heads that share a kv head (and still each read it), and a per-head "
                    "penalty on distance added to every logit.";
  chapter.scenario = teaching_scenario();
  chapter.scenario.num_seqs = 2;
  chapter.scenario.seq_lens = {37, 70};
  chapter.scenario.num_heads = 8;
  chapter.scenario.num_kv_heads = 2;
  chapter.scenario.alibi = true;
  chapter.focus_seq = 1;
  chapter.focus_head = 2;
  return run_chapter(argc, argv, chapter, [](Walkthrough& w) {
    show_mapping(w);
    show_rereads(w);
    show_alibi(w);
    w.out().heading("11.4 Checks");
    w.check_stage(pal::Stage::qk_logits);
    w.check_stage(pal::Check::final_output);
  });
}
