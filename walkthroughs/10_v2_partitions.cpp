// Chapter 10: v2. Long sequences are cut into PARTITION_SIZE-token partitions, each a thread_block of
// its own (grid z), each a complete small softmax-and-sum that publishes its max and exp sum. A
// second kernel rescales the partitions onto a common maximum and merges their outputs.
#include <algorithm>
#include <cmath>

#include "walkthroughs/harness.h"

namespace pal::walkthrough {
namespace {

float tensor_at(const Tensor& t, std::int64_t index) { return t.get_float(index); }

void show_why(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  out.heading("10.1 Why a second version");
  out.paragraph("v1 has two limits, met in chapters 2 and 5. Its logits buffer holds the whole context "
                "(4 bytes per token of the longest sequence), and it runs one thread_block per (head, seq), which "
                "for a small batch is too few to fill a GPU with a hundred or more SMs. v2 cuts every sequence into "
                "partitions of PARTITION_SIZE = " + std::to_string(s.partition_size) +
                " tokens and gives each its own thread_block along grid z.");
  Table table({{"", Table::Align::left}, {"v1"}, {"v2"}});
  table.row({"thread_blocks", std::to_string(s.num_seqs * s.num_heads),
             std::to_string(s.num_seqs * s.num_heads * s.max_num_partitions())});
  table.row({"dynamic shared memory per thread_block (bytes)", std::to_string(v1_shared_memory_bytes(s)),
             std::to_string(v2_shared_memory_bytes(s))});
  out.print(table);
  out.line();
  const int pairs = s.num_seqs * s.num_heads;
  out.paragraph("Which one runs is upstream's rule (the \"auto\" version): v1 when max_seq_len <= 8192 and (there is "
                "only one partition, or num_seqs * num_heads > 512, enough thread_blocks already). Here max_seq_len = " +
                std::to_string(s.max_seq_len()) + ", " + counted(s.max_num_partitions(), "partition") +
                ", and num_seqs * num_heads = " + std::to_string(pairs) + ", so the rule picks " +
                std::string(version_name(Scenario{s}.resolved_version())) + "; this run used " +
                std::string(version_name(w.run().version)) + ".");
}

void show_partitions(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const int partitions = w.dims().max_num_partitions;
  out.heading("10.2 The partitions of head " + std::to_string(w.head()) + ", each a small v1");
  out.paragraph("Partition p covers kv_blocks [p * PARTITION_SIZE / block_size, ...) of its sequence. Its "
                "thread_block runs chapters 3-9 on that slice alone: its own qk_max, its own exp_sum, probabilities "
                "normalised by that local sum, and an output row normalised the same way. Thread 0 also writes the "
                "two numbers to max_logits and exp_sums. A partition that starts at or past seq_len returns at once "
                "and writes nothing (its slots keep whatever they held; the reduce never reads them).");
  Table table({{"seq"}, {"part"}, {"tokens", Table::Align::left}, {"kv_blocks", Table::Align::left}, {"max_logit"},
               {"exp_sum"}, {"tmp_out[0..2]", Table::Align::left}});
  for (int seq = 0; seq < s.num_seqs && seq < 4; ++seq) {
    for (int p = 0; p < partitions; ++p) {
      const TokenRange range = token_range(w.seq_len(seq), s.block_size, s.partition_size, p);
      const std::int64_t slot = w.paged().tb_index(seq, w.head(), p);  // [num_seqs, num_heads, max_num_partitions]
      if (range.num_tokens() <= 0) {
        table.row({std::to_string(seq), std::to_string(p), "(starts past seq_len " + std::to_string(w.seq_len(seq)) + ")",
                   "-", "-", "-", "returned at once"},
                  Colour::grey);
        continue;
      }
      std::string partial;
      for (int d = 0; d < 3; ++d) partial += (d ? " " : "") + signed_fixed(tensor_at(w.run().tmp_out, slot * s.head_size + d), 4);
      table.row({std::to_string(seq), std::to_string(p),
                 std::to_string(range.start_token_idx) + "-" + std::to_string(range.end_token_idx - 1),
                 std::to_string(range.start_block_idx) + "-" + std::to_string(range.end_block_idx - 1),
                 signed_fixed(tensor_at(w.run().max_logits, slot), 4), fixed(tensor_at(w.run().exp_sums, slot), 4), partial},
                palette(p));
    }
    table.separator();
  }
  out.print(table);
  out.line();
  out.paragraph("The logits buffer of a v2 thread_block never holds more than PARTITION_SIZE floats, whatever the "
                "context length.");
}

void show_reduce(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const std::int64_t sh = w.paged().sh_index(w.seq(), w.head());
  const PartitionReduce& ref = w.reference().reduce(w.seq(), w.head());
  out.heading("10.3 The reduce kernel: one common maximum, then weights");
  out.paragraph("A second kernel, one thread_block per (head, seq), merges the partitions of " + w.focus_name() +
                ". The partial outputs cannot simply be averaged: each was normalised by its own exp_sum, relative to "
                "its own maximum. With M the largest partition maximum, partition p's sum expressed relative to M is "
                "s_p * exp(m_p - M), and its share of the total is that over the sum of all of them:");
  out.formula("M    = max over p of m_p");
  out.formula("s^_p = s_p * exp(m_p - M)");
  out.formula("out  = sum over p of o_p * s^_p / (sum over p of s^_p + 1e-6)");
  out.line();
  const ReduceRecord reduce = w.reduce_record();
  const float max_logit = reduce.max_logit();
  const float global = reduce.global_exp_sum();
  Table table({{"part"}, {"m_p"}, {"s_p"}, {"exp(m_p - M)"}, {"s^_p (recorded)"}, {"weight"}});
  for (int p = 0; p < ref.num_partitions; ++p) {
    const std::int64_t slot = w.paged().tb_index(w.seq(), w.head(), p);
    const float m = tensor_at(w.run().max_logits, slot);
    const float sum = tensor_at(w.run().exp_sums, slot);
    const float rescaled = reduce.rescaled_exp_sum(p);
    table.row({std::to_string(p), signed_fixed(m, 4), fixed(sum, 4), fixed(std::exp(double(m) - max_logit), 6),
               fixed(rescaled, 4), fixed(rescaled / (double(global) + 1e-6), 6)},
              palette(p));
  }
  out.print(table);
  out.line();
  out.formula("M = " + signed_fixed(max_logit, 6) + ", sum of s^_p = " + fixed(global, 6));
  out.line();
  out.paragraph("The output is the weighted sum of the partial outputs, dim by dim, rounded to the dtype:");
  Table dims({{"dim"}, {"sum_p o_p * weight_p"}, {"kernel out"}, {"reference"}});
  // The merge of SoftmaxState's output term, in fp32 as the reduce kernel does it, from recorded values.
  const float inv_global = 1.0f / (global + kSoftmaxEpsilon);
  for (int d = 0; d < 6 && d < s.head_size; ++d) {
    float value = 0.0f;
    for (int p = 0; p < ref.num_partitions; ++p) {
      const std::int64_t slot = w.paged().tb_index(w.seq(), w.head(), p);
      value += SoftmaxState::weighted_output(tensor_at(w.run().tmp_out, slot * s.head_size + d),
                                             reduce.rescaled_exp_sum(p), inv_global);
    }
    dims.row({std::to_string(d), signed_fixed(value, 7), signed_fixed(tensor_at(w.run().output, sh * s.head_size + d), 7),
              signed_fixed(ref.output[std::size_t(d)], 7)});
  }
  out.print(dims);
  out.line();
  out.paragraph("A sequence with a single partition skips all of this: its partition's output already is the answer, "
                "and the reduce kernel copies it. This pair {max, exp_sum} with its merge rule is the same state that "
                "split-KV kernels pass around (chapter 12).");
}

}  // namespace
}  // namespace pal::walkthrough

int main(int argc, char** argv) {
  using namespace pal::walkthrough;
  ChapterInfo chapter;
  chapter.number = 10;
  chapter.teaches = "v2: sequences cut into 512-token partitions, each its own thread_block with its own softmax, "
                    "merged by a second kernel that rescales every partition onto one common maximum.";
  chapter.scenario = teaching_scenario();
  chapter.scenario.num_seqs = 2;
  chapter.scenario.seq_lens = {1300, 600};
  chapter.scenario.version = pal::KernelVersion::automatic;
  chapter.focus_seq = 0;
  return run_chapter(argc, argv, chapter, [](Walkthrough& w) {
    show_why(w);
    if (!w.is_v2()) {
      w.out().paragraph("This run used v1 (a single partition, or --version v1), so there is nothing to merge. Run "
                        "with longer sequences, e.g. --seq-lens 1300,600, or with --version v2.");
      w.check_stage(pal::Check::final_output);
      return;
    }
    show_partitions(w);
    show_reduce(w);
    w.out().heading("10.4 Checks");
    w.check_stage(pal::Check::partition_state);
    w.check_stage(pal::Check::tmp_out);
    w.check_stage(pal::Stage::output);
    w.check_stage(pal::Stage::partition_reduce);
    w.check_stage(pal::Check::final_output);
  });
}
