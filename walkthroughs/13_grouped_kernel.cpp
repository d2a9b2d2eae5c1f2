// Chapter 13: this project's grouped decode kernel (issue 11). The chapter runs the faithful kernel
// (v1 or v2) and the grouped kernel on the same inputs, counts from both recordings the bytes each
// read per KV head, then follows the grouped kernel: how one thread_block copies a tile of kv_blocks
// into shared memory for its whole query group (cp.async stages), how each warp keeps an online
// softmax, how the split planner cut the context and split_merge put the splits back together.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/softmax_state.h"
#include "kernels/grouped_launch.h"
#include "run/version_compare.h"
#include "walkthroughs/harness.h"

namespace pal::walkthrough {
namespace {

// The grouped run of the chapter's inputs, recorded on the emulator (the grouped kernel records
// there only).
RecordedRun grouped_run_of(const Walkthrough& w) {
  CheckedInputs checked = w.recorded_run().checked_inputs();
  checked.set_version(KernelVersion::grouped);
  RecordedRunOptions options;
  options.backend = Backend::emulator;
  options.record = true;
  return RecordedRun::from_checked(std::move(checked), options, "chapter 13: the chapter's inputs, grouped kernel");
}

// The grouped thread_block that computes (seq, head) in split `split_idx`, and the head's row in it.
struct GroupedFocus {
  std::int64_t gb = 0;
  int row = 0;
};
GroupedFocus grouped_focus(const RecordedRun& grouped, int seq, int head, int split_idx) {
  const RecordDims& d = grouped.dims();
  const int group = d.num_heads / d.num_kv_heads;
  const int kv_head = head / group;
  const int chunk = (head % group) / d.heads_per_chunk;
  return {d.gb_index(seq, kv_head, chunk, split_idx), (head % group) % d.heads_per_chunk};
}

void show_bytes(Walkthrough& w, const RecordedRun& grouped, const VersionComparison& c) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const int group = s.num_heads / s.num_kv_heads;
  const std::string faithful(version_name(c.a.version));
  out.heading("13.1 One thread_block per query head reads a shared KV head " + std::to_string(group) + " times");
  out.paragraph("Chapters 11 and 12 counted it: " + faithful + " gives every query head its own thread_block, so the " +
                std::to_string(group) + " query heads of a group each load the KV head they share. On a GPU the second "
                "to " + std::to_string(group) + "th reads come from L2 at best, and L2 delivers about 5 TB/s on an H200 "
                "however often a byte is asked for: divided by " + std::to_string(group) +
                ", that caps the unique KV a per-query-head kernel can read (about 28 % of the HBM peak at group 4, "
                "measured). The grouped kernel gives one thread_block the whole group: it loads each kv_block of its "
                "KV head once and every query head of the group computes on that copy. Both kernels ran on this "
                "chapter's inputs; the bytes below are the recorded loads (" + faithful + ": its vector loads; "
                "grouped: its 16-byte cp.async copies) added up per KV head, not a formula:");
  Table table({{"KV head", Table::Align::left},
               {faithful + " loaded"},
               {"distinct"},
               {"reads/byte"},
               {"grouped loaded"},
               {"distinct"},
               {"reads/byte"}});
  bool faithful_rereads = true, grouped_once = true;
  for (std::size_t h = 0; h < c.a.kv_heads.size(); ++h) {
    const KvHeadTraffic& x = c.a.kv_heads[h];
    const KvHeadTraffic& y = c.b.kv_heads[h];
    table.row({std::to_string(h), std::to_string(x.loaded_bytes), std::to_string(x.unique_bytes),
               fixed(x.reads_per_byte(), 2), std::to_string(y.loaded_bytes), std::to_string(y.unique_bytes),
               fixed(y.reads_per_byte(), 2)});
    faithful_rereads = faithful_rereads && x.loaded_bytes == std::int64_t(group) * x.unique_bytes;
    grouped_once = grouped_once && y.loaded_bytes == y.unique_bytes && y.unique_bytes <= x.unique_bytes;
  }
  out.print(table);
  out.line();
  out.paragraph("The grouped kernel's distinct bytes are fewer too: it copies only the slots a sequence fills in its "
                "last kv_block, where " + faithful + " loads the whole kv_block and masks. Loads per lane (mean / max): " +
                faithful + " " + fixed(c.a.mean_loads_per_lane, 1) + " / " + std::to_string(c.a.max_loads_per_lane) +
                " over " + std::to_string(c.a.num_thread_blocks) + " thread_blocks; grouped " +
                fixed(c.b.mean_loads_per_lane, 1) + " / " + std::to_string(c.b.max_loads_per_lane) + " over " +
                std::to_string(c.b.num_thread_blocks) + " (" + std::to_string(grouped.kernel().grouped_plan.num_splits) +
                " splits). Shared memory per thread_block: " + std::to_string(c.a.shared_memory_bytes) + " bytes against " +
                std::to_string(c.b.shared_memory_bytes) + ", the price of the copy pipeline (next section).");
  w.check("faithful_rereads", faithful_rereads,
          "every KV head's recorded " + faithful + " loads total num_heads / num_kv_heads = " + std::to_string(group) +
              " times its distinct bytes");
  w.check("grouped_reads_once", grouped_once,
          "every KV head's recorded grouped copies total exactly its distinct bytes (each byte copied once), and no "
          "more distinct bytes than " + faithful + " touched");
}

void show_tile_copies(Walkthrough& w, const RecordedRun& grouped) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const GroupedPlan& plan = grouped.kernel().grouped_plan;
  const GroupedGeometry& g = plan.geometry;
  const RecordDims& d = grouped.dims();
  const RecordPointers& p = grouped.recording().ptr();
  const GroupedFocus focus = grouped_focus(grouped, w.seq(), w.head(), 0);
  out.heading("13.2 Sharing a kv_block: a tile through shared memory, in cp.async stages");
  out.paragraph("A tile is " + std::to_string(g.tile_tokens()) + " tokens: " + std::to_string(g.tile_blocks()) +
                " kv_blocks of " + std::to_string(s.block_size) + ", K and V, " + std::to_string(g.tile_bytes()) +
                " bytes. Each kv_block of the tile is copied by " + std::to_string(g.threads_per_kv_block()) +
                " threads, " + std::to_string(g.copies_per_thread()) + " 16-byte cp.async copies each, in consecutive "
                "units, so a warp's copies read 512 contiguous bytes. The copies are asynchronous: the thread_block "
                "keeps " + std::to_string(g.num_stages()) + " tiles in shared memory (" +
                std::to_string(g.pipeline_bytes()) + " bytes), issues the copies of tile t + " +
                std::to_string(g.num_stages() - 1) + " and computes tile t while they are in flight "
                "(cp.async.commit_group / wait_group), which keeps the bytes in flight an H200 needs to approach its "
                "bandwidth. All " + std::to_string(d.heads_per_chunk) + " query heads of the block then read K and V "
                "from shared memory. What the thread_block of " + w.focus_name() + ", split 0, copied (recorded):");
  // Per tile and kv_block: how many threads copied it, and the K and V bytes.
  struct Cell {
    std::set<int> threads;
    std::int64_t key_bytes = 0, value_bytes = 0;
  };
  std::map<std::pair<int, std::int64_t>, Cell> cells;  // (tile, physical block)
  const KvCacheLayout& layout = grouped.kv_layout();
  std::int64_t total = 0;
  for (int thread = 0; thread < d.num_threads; ++thread) {
    const int count = std::min(p.grouped_copy_counts_at(focus.gb, thread), d.max_loads_per_thread);
    for (int i = 0; i < count; ++i) {
      const LoadRecord& copy = p.grouped_copies_at(focus.gb, thread, i);
      const bool key = copy.kind == LoadKind::key;
      const std::int64_t block = key ? layout.key_coordinates(copy.element_offset).physical_block
                                     : layout.value_coordinates(copy.element_offset).physical_block;
      Cell& cell = cells[{copy.iteration, block}];
      cell.threads.insert(thread);
      (key ? cell.key_bytes : cell.value_bytes) += copy.vec_idx;
      total += copy.vec_idx;
    }
  }
  Table table({{"tile"}, {"logical kv_block"}, {"physical"}, {"threads"}, {"K bytes"}, {"V bytes"}});
  int shown = 0;
  std::int64_t expected = 0;
  const int split_tokens = std::min(w.seq_len(w.seq()), plan.split_tokens(s.block_size));
  for (const auto& [key, cell] : cells) {
    const BlockOwner& owner = grouped.block_owners().at(std::size_t(key.second));
    if (shown++ < 10)
      table.row({std::to_string(key.first), std::to_string(owner.logical_block_idx), std::to_string(key.second),
                 ranges(std::vector<int>(cell.threads.begin(), cell.threads.end())), std::to_string(cell.key_bytes),
                 std::to_string(cell.value_bytes)});
  }
  out.print(table);
  if (shown > 10) out.line("  ... " + std::to_string(shown - 10) + " more kv_blocks");
  out.line();
  // The split's tokens, K and V, each once: head_size x tokens x element bytes, twice.
  expected = 2 * std::int64_t(split_tokens) * s.head_size * grouped.cache_element_size();
  out.paragraph("In all " + std::to_string(total) + " bytes for the split's " + std::to_string(split_tokens) +
                " tokens: K and V of each token once, 2 x " + std::to_string(split_tokens) + " x " +
                std::to_string(s.head_size) + " x " + std::to_string(grouped.cache_element_size()) + " = " +
                std::to_string(expected) + ". Copies past the split's end are issued with 0 source bytes "
                "(zero fill) and read nothing, so they are not recorded.");
  w.check("tile_copies", total == expected,
          "the focus thread_block's recorded copies of split 0 total 2 x tokens x head_size x element bytes: each "
          "token's key and value copied once for the whole query group");
}

void show_online_softmax(Walkthrough& w, const RecordedRun& grouped) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const RecordDims& d = grouped.dims();
  const RecordPointers& p = grouped.recording().ptr();
  const GroupedPlan& plan = grouped.kernel().grouped_plan;
  const GroupedFocus focus = grouped_focus(grouped, w.seq(), w.head(), 0);
  out.heading("13.3 The online softmax: a running max, rescaled as it grows");
  out.paragraph("v1 keeps every logit of the thread_block in shared memory, takes their max, then their exp sum "
                "(chapters 5 and 6). The grouped kernel never holds more than one 16-token step of logits: each warp "
                "keeps, per query head, a running max m, a running sum l and an unnormalised output o. For each step "
                "it computes the step's logits (q.k on tensor cores for fp16/bf16: the group's heads are the rows of "
                "an mma.sync), and if the step's max exceeds m it multiplies l and o by exp(m_old - m_new) before "
                "adding the step's exp(logit - m_new). Recorded for " + w.focus_name() +
                ", split 0 (the warps take the steps in turn; each warp's state starts empty):");
  Table table({{"step"}, {"tokens"}, {"step max"}, {"running max"}, {"rescale"}, {"exp(prev - new)"}});
  const int steps_in_split = std::min(d.num_split_steps, divide_round_up(std::min(w.seq_len(w.seq()),
                                                                                  plan.split_tokens(s.block_size)),
                                                                         kRecordStepTokens));
  const int num_warps = d.num_warps;
  const int token_slices = plan.num_token_slices;
  bool ok = true;
  std::vector<float> previous(std::size_t(num_warps), -INFINITY);
  const StageTolerance tol = stage_tolerance(Check::partition_state, s.dtype, 1.0);
  float split_max = -INFINITY;
  for (int step = 0; step < steps_in_split; ++step) {
    const float step_max = p.grouped_step_max_at(focus.gb, step, focus.row);
    const float running = p.grouped_running_max_at(focus.gb, step, focus.row);
    const float rescale = p.grouped_rescale_at(focus.gb, step, focus.row);
    // Which warp took the step: steps are dealt over the token slices in turn.
    const std::size_t slice = std::size_t(step % std::max(token_slices, 1));
    const float prev = previous[slice];
    const float want_running = std::max(prev, step_max);
    const float want_rescale = std::isinf(prev) ? 0.0f : std::exp(prev - want_running);
    float logits_max = -INFINITY;
    for (int t = 0; t < kRecordStepTokens; ++t) logits_max = std::max(logits_max, p.grouped_logits_at(focus.gb, step, focus.row, t));
    ok = ok && step_max == logits_max && running == want_running &&
         std::fabs(double(rescale) - double(want_rescale)) <= tol.atol + tol.rtol * double(want_rescale);
    previous[slice] = running;
    split_max = std::max(split_max, running);
    if (step < 8)
      table.row({std::to_string(step), std::to_string(step * kRecordStepTokens) + "-" +
                                           std::to_string(step * kRecordStepTokens + kRecordStepTokens - 1),
                 signed_fixed(step_max, 4), signed_fixed(running, 4), fixed(rescale, 4), fixed(want_rescale, 4)});
  }
  out.print(table);
  if (steps_in_split > 8) out.line("  ... " + std::to_string(steps_in_split - 8) + " more steps");
  out.line();
  out.paragraph("With " + counted(token_slices, "token slice") + " (warps that split the steps of one row tile), each "
                "warp's state covers every " + std::to_string(token_slices) + "th step; block_merge then combines the "
                "warps' {max, sum, o} with the same rule, and the split's state is {" + signed_fixed(split_max, 4) +
                ", ...}. Nothing here grows with the context: no logits buffer, so no limit like v1's.");
  w.check("online_softmax", ok,
          "each recorded step max is the max of that step's recorded logits, each running max is max(previous, step "
          "max) of the warp that took the step, and each rescale is exp(previous - running) (partition_state "
          "tolerance)");
}

void show_splits(Walkthrough& w, const RecordedRun& grouped) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const RecordDims& d = grouped.dims();
  const RecordPointers& p = grouped.recording().ptr();
  const GroupedPlan& plan = grouped.kernel().grouped_plan;
  out.heading("13.4 The split planner and split_merge");
  out.paragraph("One thread_block per (KV head, sequence) leaves most of a GPU idle at small batches: " +
                std::to_string(s.num_seqs * s.num_kv_heads) + " thread_blocks here, against the 132 SMs x " +
                "2 blocks of an H200. The split planner (kernels/split_planner.h, after FlashInfer's) cuts each "
                "sequence into KV splits of whole 64-token tiles, as many as keep the grid within one full GPU (on "
                "a small grid, one block per SM where splits would be shorter than " +
                std::to_string(kMinTilesPerSharedSmSplit) +
                " tiles); each split writes its {max, sum} and its normalised output, and a second "
                "kernel, split_merge, merges them with the softmax-state rule of chapter 12 (launched with "
                "programmatic dependent launch on sm_90). This run's plan: " + plan.reason);
  Table table({{"split"}, {"tokens"}, {"max"}, {"exp sum"}});
  const GroupedFocus first = grouped_focus(grouped, w.seq(), w.head(), 0);
  (void)first;
  SoftmaxState merged = SoftmaxState::empty();
  const int seq_len = w.seq_len(w.seq());
  const int split_tokens = plan.split_tokens(s.block_size);
  int used = 0;
  for (int split = 0; split < d.num_splits && split * split_tokens < seq_len; ++split) {
    const GroupedFocus f = grouped_focus(grouped, w.seq(), w.head(), split);
    const SoftmaxState state{p.split_max_logit_at(f.gb, f.row), p.split_exp_sum_at(f.gb, f.row)};
    merged = merged.merged_with(state);
    ++used;
    table.row({std::to_string(split), std::to_string(split * split_tokens) + "-" +
                                          std::to_string(std::min(seq_len, (split + 1) * split_tokens) - 1),
               signed_fixed(state.max_logit, 4), fixed(state.exp_sum, 4)});
  }
  out.print(table);
  out.line();
  bool ok = true;
  std::string merged_text = "one split: nothing to merge";
  if (used > 1) {
    const std::int64_t sh = std::int64_t(w.seq()) * s.num_heads + w.head();
    const float max_logit = p.merge_max_logit_at(sh), exp_sum = p.merge_exp_sum_at(sh);
    const StageTolerance tol = stage_tolerance(Check::partition_state, s.dtype, 1.0);
    ok = std::fabs(double(max_logit) - double(merged.max_logit)) <= tol.atol + tol.rtol * std::fabs(double(merged.max_logit)) &&
         std::fabs(double(exp_sum) - double(merged.exp_sum)) <= tol.atol + tol.rtol * double(merged.exp_sum);
    merged_text = "split_merge recorded {" + signed_fixed(max_logit, 4) + ", " + fixed(exp_sum, 4) +
                  "}; the splits' states merged here: {" + signed_fixed(merged.max_logit, 4) + ", " +
                  fixed(merged.exp_sum, 4) + "}";
  }
  out.formula(merged_text);
  out.line();
  out.paragraph("On the H200 the planner gives batch 1 x 32k tokens (32/8 heads) 32 splits of 1024 tokens, batch 8 x "
                "8k 4 splits, and from batch 32 one split. The measured times (docs page of this chapter, "
                "docs/device-runs/2026-11-29-h200-run31-output-merge): 0.45-0.58 of the faster of v1 and v2 on "
                "the GQA 32/8 shapes of batch 8 or more and 2k tokens or more, 95.6 % of the 4.8 TB/s peak at batch 128 x "
                "32k; this project's `auto` picks the grouped kernel where it was measured faster "
                "(kernels/auto_version.h).");
  w.check("split_merge_state", ok,
          "split_merge's recorded {max, sum} of the focus (seq, head) equals the merge of its splits' recorded "
          "states (partition_state tolerance)");
}

}  // namespace
}  // namespace pal::walkthrough

int main(int argc, char** argv) {
  using namespace pal::walkthrough;
  ChapterInfo chapter;
  chapter.number = 13;
  chapter.teaches = "This project's grouped kernel: one read of each KV head for its query group (counted from both "
                    "recordings), the cp.async tile pipeline, the online softmax, the split planner and split_merge.";
  chapter.scenario = teaching_scenario();
  chapter.scenario.num_seqs = 2;
  chapter.scenario.seq_lens = {300, 70};
  chapter.scenario.num_heads = 8;
  chapter.scenario.num_kv_heads = 2;
  chapter.scenario.version = pal::KernelVersion::v1;
  chapter.focus_seq = 0;
  return run_chapter(argc, argv, chapter, [](Walkthrough& w) {
    if (w.run().version == pal::KernelVersion::grouped)
      throw pal::ScenarioError("chapter 13 compares the grouped kernel with v1 or v2 on the same inputs: give "
                               "--version v1, v2 or auto");
    const pal::RecordedRun grouped = grouped_run_of(w);
    const pal::VersionComparison comparison = pal::compare_versions(w.recorded_run(), grouped);
    show_bytes(w, grouped, comparison);
    show_tile_copies(w, grouped);
    show_online_softmax(w, grouped);
    show_splits(w, grouped);
    w.out().heading("13.5 Checks");
    w.check("grouped_stages", grouped.report().passed(),
            "every recorded stage of the grouped kernel within tolerance of the grouped reference, and its output of "
            "the dense oracle (pal-run --version grouped --record prints the table)");
    w.check_stage(pal::Check::final_output);
  });
}
