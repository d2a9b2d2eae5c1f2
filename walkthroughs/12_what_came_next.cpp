// Chapter 12: where the kernel's ideas went. It has no kernel stage of its own; instead it computes,
// on this run's numbers, the three things later decode kernels do differently: merge arbitrary
// splits of the context with the {max, exp_sum} state (split-KV, flash-decoding), read each kv_block
// once per kv head instead of once per query head (GQA-aware), and take the block table in the forms
// FlashAttention and FlashInfer use.
#include <algorithm>
#include <cmath>

#include "core/softmax_state.h"
#include "walkthroughs/harness.h"

namespace pal::walkthrough {
namespace {

// One split of the context: its softmax state and its output normalised by its own sum (fp32).
struct Split {
  int begin = 0, end = 0;  // token slots, [begin, end)
  SoftmaxState state = SoftmaxState::empty();
  std::vector<double> out;
};

Split compute_split(const Walkthrough& w, const std::vector<std::vector<float>>& values, int begin, int end) {
  const ThreadBlockStages& tb = w.focus();
  Split split;
  split.begin = begin;
  split.end = end;
  split.out.assign(std::size_t(w.scenario().head_size), 0.0);
  float max_logit = -INFINITY;
  for (int t = begin; t < end; ++t) max_logit = std::max(max_logit, tb.logits[std::size_t(t)]);
  float sum = 0.0f;
  for (int t = begin; t < end; ++t) {
    const float e = std::exp(tb.logits[std::size_t(t)] - max_logit);
    sum += e;
    for (std::size_t d = 0; d < split.out.size(); ++d) split.out[d] += double(e) * double(values[std::size_t(t)][d]);
  }
  for (double& o : split.out) o /= double(sum);
  split.state = {max_logit, sum};
  return split;
}

void show_split_kv(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const ThreadBlockStages& tb = w.focus();
  const int n = tb.num_tokens();
  out.heading("12.1 Split-KV: any cut of the context, merged by its softmax states");
  out.paragraph("v2 (chapter 10) cut the context at fixed 512-token boundaries and merged the pieces. Split-KV "
                "decoding, popularised as flash-decoding, generalises it: split the keys and values however suits the "
                "GPU (into as many pieces as it takes to fill the SMs), let each piece compute {max_logit, exp_sum} "
                "and an output normalised by its own sum, and merge. The merge is SoftmaxState::merged_with, the "
                "type the reference, the v2 reduce and the visualizer share. Here it runs on the " + std::to_string(n) +
                " logits of " + w.focus_name() + " (fp32 probabilities, no rounding), cut five ways:");
  std::vector<std::vector<float>> values;
  for (int t = 0; t < n; ++t) values.push_back(value_gather(w.inputs(), w.seq(), w.kv_head(), tb.range.start_token_idx + t));

  // The reference's one-pass answer with fp32 probabilities, to compare against.
  const ReferenceRun exact = reference_attention(s, w.inputs(), w.run().version, ProbabilityPrecision::exact_fp32);
  const ThreadBlockStages& one_pass = exact.thread_block(w.seq(), w.head());
  const StageTolerance state_tol = stage_tolerance(Check::partition_state, s.dtype, 1.0);
  const StageTolerance out_tol = stage_tolerance(Stage::cross_warp_tree, s.dtype, value_scale_of(s, w.inputs()));

  std::vector<std::pair<std::string, std::vector<int>>> cuts = {
      {"one piece", {0, n}},
      {"two halves", {0, n / 2, n}},
      {"uneven (7, rest split at 2/3)", {0, std::min(7, n), std::max(std::min(7, n), 2 * n / 3), n}},
      {"one per kv_block", {}},
      {"one per token", {}},
  };
  for (int t = 0; t <= n; t += s.block_size) cuts[3].second.push_back(t);
  if (cuts[3].second.back() != n) cuts[3].second.push_back(n);
  for (int t = 0; t <= n; ++t) cuts[4].second.push_back(t);

  Table table({{"cut", Table::Align::left}, {"pieces"}, {"merged max"}, {"merged exp_sum"}, {"max |out - one pass|"}});
  bool all_ok = true;
  for (auto& [name, bounds] : cuts) {
    bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
    std::vector<Split> splits;
    for (std::size_t i = 0; i + 1 < bounds.size(); ++i) splits.push_back(compute_split(w, values, bounds[i], bounds[i + 1]));
    SoftmaxState merged = SoftmaxState::empty();
    for (const Split& split : splits) merged = merged.merged_with(split.state);
    double worst = 0.0;
    bool ok = std::fabs(double(merged.max_logit) - double(tb.qk_max)) <= state_tol.atol + state_tol.rtol * std::fabs(double(tb.qk_max)) &&
              std::fabs(double(merged.exp_sum) - double(tb.exp_sum)) <= state_tol.atol + state_tol.rtol * double(tb.exp_sum);
    for (int d = 0; d < s.head_size; ++d) {
      double value = 0.0;
      for (const Split& split : splits)
        value += split.out[std::size_t(d)] * double(split.state.rescaled_exp_sum(merged.max_logit)) / double(merged.exp_sum);
      const double want = one_pass.accumulators[std::size_t(d)];
      worst = std::max(worst, std::fabs(value - want));
      ok = ok && std::fabs(value - want) <= out_tol.atol + out_tol.rtol * std::fabs(want);
    }
    all_ok = all_ok && ok;
    table.row({name, std::to_string(splits.size()), signed_fixed(merged.max_logit, 6), fixed(merged.exp_sum, 6),
               general(worst, 3)},
              ok ? Colour::none : Colour::red);
  }
  out.print(table);
  out.line();
  out.formula("one pass (reference): max " + signed_fixed(tb.qk_max, 6) + ", exp_sum " + fixed(tb.exp_sum, 6));
  out.line();
  out.paragraph("Every cut gives the same state and the same output, up to fp32 rounding: the merge does not care "
                "where the cuts are or how many there are. That freedom is what lets split-KV kernels choose the "
                "number of splits at run time from the batch size and the number of SMs, where v2 fixed it at 512 "
                "tokens.");
  w.check("split_kv_merge", all_ok,
          "for all five cuts, the merged {max, exp_sum} equals the reference's one-pass state (partition_state "
          "tolerance) and the merged output equals the reference's fp32 accumulators (cross_warp_tree tolerance)");
}

void show_gqa_bytes(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  const RecordDims& d = w.dims();
  Terminal& out = w.out();
  out.heading("12.2 Reading each kv_block once per kv head");
  std::int64_t blocks = 0;
  for (int seq = 0; seq < s.num_seqs; ++seq) blocks += divide_round_up(w.seq_len(seq), s.block_size);
  const std::int64_t kv_block_bytes = 2 * std::int64_t(s.head_size) * s.block_size * g.cache_element_size;  // K + V, one kv head
  std::int64_t recorded = 0;
  for (std::int64_t tb = 0; tb < d.num_thread_blocks(); ++tb)
    for (int thread = 0; thread < d.num_threads; ++thread)
      for (const LoadRecord& load : w.record_of(tb).loads(thread)) {
        if (load.kind == LoadKind::key) recorded += std::int64_t(g.key_load_bytes());
        if (load.kind == LoadKind::value) recorded += std::int64_t(g.value_load_bytes());
      }
  const std::int64_t per_query_head = std::int64_t(s.num_heads) * blocks * kv_block_bytes;
  const std::int64_t per_kv_head = std::int64_t(s.num_kv_heads) * blocks * kv_block_bytes;
  out.paragraph("Chapter 11 showed this kernel reading every kv_block once per query head. A GQA-aware kernel gives "
                "one thread_block all " + std::to_string(s.num_heads / s.num_kv_heads) +
                " query heads of a group: it loads a kv_block once and multiplies it with the group's queries "
                "together, a small matrix product [heads in group x head_size] x [head_size x tokens] that tensor "
                "cores can run. For this run's block table (" + std::to_string(blocks) + " kv_blocks over " +
                counted(s.num_seqs, "sequence") + ", " + std::to_string(kv_block_bytes) +
                " bytes of K and V per kv_block and kv head):");
  Table table({{"", Table::Align::left}, {"bytes of K and V read"}});
  table.row({"this kernel, recorded", std::to_string(recorded)});
  table.row({"this kernel, predicted: num_heads x kv_blocks x bytes", std::to_string(per_query_head)});
  table.row({"GQA-aware: num_kv_heads x kv_blocks x bytes", std::to_string(per_kv_head)});
  out.print(table);
  out.line();
  out.paragraph("That is " + fixed(double(per_query_head) / double(per_kv_head), 1) +
                " times less traffic for the same answer, and decode time is mostly this traffic. Chapter 13 runs "
                "this project's grouped kernel, which reads each kv_block once per kv head, on the same inputs.");
  w.check("kv_bytes_read", recorded == per_query_head,
          "the recorded K and V loads of all thread_blocks add up to num_heads x kv_blocks x bytes per kv_block, "
          "the figure the GQA-aware count divides by num_queries_per_kv");
}

void show_block_table_apis(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  out.heading("12.3 The block table in FlashAttention and FlashInfer");
  out.paragraph("Both libraries take the same idea, a per-sequence list of pool slots, in their own forms. "
                "FlashAttention's flash_attn_with_kvcache accepts block_table, an int32 tensor [batch, "
                "max_num_blocks_per_seq] exactly like this kernel's, with cache_seqlens [batch] for the lengths; its "
                "caches are [num_blocks, page_block_size, num_kv_heads, head_size]: token-major inside a page and "
                "without the x-split, because it copies whole tiles of tokens into shared memory for its tensor-core "
                "products instead of reading keys 16 bytes per thread_group. Its num_splits argument is split-KV: 0 "
                "lets a heuristic choose. This run's table, as it would be passed (one caveat: upstream FlashAttention 2 "
                "asks for a page_block_size that is a multiple of 256; vLLM builds its own copy, which accepts the "
                "block sizes vLLM uses):");
  const int columns = std::min(s.max_num_blocks_per_seq(), 14);
  for (int seq = 0; seq < s.num_seqs && seq < 6; ++seq) {
    std::string row = "  block_table[" + std::to_string(seq) + "] = [";
    const int blocks = divide_round_up(w.seq_len(seq), s.block_size);
    for (int b = 0; b < columns; ++b) row += (b ? ", " : "") + (b < blocks ? std::to_string(w.physical_block(seq, b)) : std::string("-"));
    if (s.max_num_blocks_per_seq() > columns) row += ", ...";
    out.line(row + "]");
  }
  std::vector<int> lens;
  for (int seq = 0; seq < s.num_seqs; ++seq) lens.push_back(w.seq_len(seq));
  out.line("  cache_seqlens  = [" + join(lens, ", ") + "]");
  out.line();
  out.paragraph("(\"-\" marks entries past a sequence's last kv_block; like this kernel, FlashAttention never reads "
                "them.)");
  out.paragraph("FlashInfer stores the same lists without padding, in compressed sparse row form: kv_indices is "
                "every sequence's pages one after another, kv_indptr [batch + 1] says where each sequence's run "
                "starts and ends, and kv_last_page_len [batch] says how many slots of its last page are used "
                "(1..page_size), which together with the page count gives the length. Its paged cache is [max_num_pages, 2, "
                "page_size, num_kv_heads, head_dim] (\"NHD\") or with num_kv_heads before page_size (\"HND\"). The "
                "decode wrapper is planned once per batch from these arrays and then run for every layer. For this "
                "run:");
  std::vector<int> indptr{0}, indices, last_page_len;
  for (int seq = 0; seq < s.num_seqs; ++seq) {
    const int blocks = divide_round_up(w.seq_len(seq), s.block_size);
    for (int b = 0; b < blocks; ++b) indices.push_back(w.physical_block(seq, b));
    indptr.push_back(indptr.back() + blocks);
    last_page_len.push_back(w.seq_len(seq) - (blocks - 1) * s.block_size);
  }
  auto list = [](const std::vector<int>& v) {
    std::string text;
    for (std::size_t i = 0; i < v.size() && i < 24; ++i) text += (i ? ", " : "") + std::to_string(v[i]);
    if (v.size() > 24) text += ", ... (" + std::to_string(v.size()) + " in all)";
    return "[" + text + "]";
  };
  for (const std::string& l : {"kv_indptr        = " + list(indptr), "kv_indices       = " + list(indices),
                               "kv_last_page_len = " + list(last_page_len)})
    out.bullet(l);
  out.line();
  out.paragraph("In vLLM today the attention backends built on these kernels (FlashAttention, FlashInfer) receive "
                "the scheduler's block tables in one of these forms every step; the paged-attention kernel of this "
                "walkthrough is no longer on that path. The docs' chapter 12 page says why, and what each of those "
                "kernels took from it.");
}

}  // namespace
}  // namespace pal::walkthrough

int main(int argc, char** argv) {
  using namespace pal::walkthrough;
  ChapterInfo chapter;
  chapter.number = 12;
  chapter.teaches = "Where the ideas went: split-KV merging of softmax states, GQA-aware reading of the cache, and "
                    "the block tables of FlashAttention and FlashInfer, each computed on this run.";
  chapter.scenario = teaching_scenario();
  chapter.scenario.num_seqs = 2;
  chapter.scenario.seq_lens = {300, 70};
  chapter.scenario.num_heads = 8;
  chapter.scenario.num_kv_heads = 2;
  chapter.focus_seq = 0;
  return run_chapter(argc, argv, chapter, [](Walkthrough& w) {
    show_split_kv(w);
    show_gqa_bytes(w);
    show_block_table_apis(w);
    w.out().heading("12.4 Checks");
    w.check_stage(pal::Check::final_output);
  });
}
