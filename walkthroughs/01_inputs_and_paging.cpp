// Chapter 1: what the kernel is given. A batch of sequences, each with one new query token, and a
// KV cache that is not one array per sequence but a pool of fixed-size kv_blocks; a block table per
// sequence says which pool slot holds each of its kv_blocks.
#include <algorithm>
#include <cmath>

#include "walkthroughs/harness.h"

namespace pal::walkthrough {
namespace {

constexpr int kMaxBlocksShown = 16;  // block-table columns printed (longer tables are elided)
constexpr int kPoolSlotsPerRow = 12;
constexpr int kMaxPoolRowsShown = 8;

void show_batch(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  out.heading("1.1 The batch: one new token per sequence");
  out.paragraph(
      "In decoding, every sequence of the batch brings exactly one new token. Its query is compared with the keys "
      "of all earlier tokens of the same sequence (its context, the new token included), and the result is a "
      "weighted sum of their values. The keys and values of the context were computed in earlier steps and kept in "
      "the KV cache, cut into kv_blocks of block_size = " +
      std::to_string(s.block_size) + " tokens.");
  Table table({{"seq"}, {"seq_len"}, {"kv_blocks"}, {"tokens in last kv_block"}, {"unused slots"}});
  for (int seq = 0; seq < s.num_seqs; ++seq) {
    const int len = w.seq_len(seq);
    const int blocks = divide_round_up(len, s.block_size);
    const int last = len - (blocks - 1) * s.block_size;
    table.row({std::to_string(seq), std::to_string(len), std::to_string(blocks), std::to_string(last),
               std::to_string(s.block_size - last)},
              palette(seq));
  }
  out.print(table);
  out.line();
  out.paragraph("A sequence's last kv_block is usually partly filled. Its unused slots are still part of the "
                "kv_block, and the kernel will meet them: chapters 5 and 7 show what it does about them.");
}

void show_tensors(Walkthrough& w) {
  const Inputs& in = w.inputs();
  Terminal& out = w.out();
  out.heading("1.2 The tensors, with this run's shapes");
  Table table({{"tensor", Table::Align::left}, {"shape", Table::Align::left}, {"type", Table::Align::left},
               {"bytes"}, {"what one entry is", Table::Align::left}});
  auto add = [&](const char* name, const Tensor& t, const char* meaning) {
    table.row({name, t.shape_string(), std::string(element_type_name(t.type)), std::to_string(t.bytes.size()), meaning});
  };
  add("query", in.query, "one element of the new token's query, per head");
  add("key_cache", in.key_cache, "[block, kv_head, dim/x, slot, dim%x]");
  add("value_cache", in.value_cache, "[block, kv_head, dim, slot]");
  add("block_tables", in.block_tables, "pool slot of a sequence's kv_block");
  add("seq_lens", in.seq_lens, "context length of a sequence");
  out.print(table);
  out.line();
  out.paragraph("query is [num_seqs, num_heads, head_size]. Both caches start with the pool dimension, num_blocks = " +
                std::to_string(w.scenario().effective_num_blocks()) +
                ", and keep all kv heads of a kv_block together. The key cache splits each key into chunks of x = " +
                std::to_string(key_x(w.scenario())) +
                " elements (16 bytes) and is the subject of chapter 4; the value cache stores each head "
                "dimension as a row of block_size tokens (chapter 7).");
}

void show_block_table(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  out.heading("1.3 The block table: logical kv_block -> physical pool slot");
  const int columns = std::min(s.max_num_blocks_per_seq(), kMaxBlocksShown);
  std::vector<std::string> labels;
  for (int b = 0; b < columns; ++b) labels.push_back(std::to_string(b));
  Grid grid("seq \\ kv_block", labels);
  for (int seq = 0; seq < s.num_seqs; ++seq) {
    const int blocks = divide_round_up(w.seq_len(seq), s.block_size);
    std::vector<std::string> cells;
    std::vector<Colour> colours;
    for (int b = 0; b < columns; ++b) {
      cells.push_back(b < blocks ? std::to_string(w.physical_block(seq, b)) : ".");
      colours.push_back(b < blocks ? palette(seq) : Colour::grey);
    }
    grid.row("seq " + std::to_string(seq), cells, colours);
  }
  out.print(grid);
  if (s.max_num_blocks_per_seq() > columns)
    out.line("  (" + std::to_string(s.max_num_blocks_per_seq() - columns) + " more columns not shown)");
  out.line();
  out.paragraph(
      "Row s lists where sequence s's kv_blocks live. The table has max_num_blocks_per_seq = " +
      std::to_string(s.max_num_blocks_per_seq()) +
      " columns, enough for the longest sequence; a shorter sequence leaves the rest unused (\".\", stored as -1 "
      "here), and the kernel never reads past ceil(seq_len / block_size) entries. The generator hands out pool "
      "slots in shuffled order on purpose: logical kv_block i is almost never slot i, so a kernel that forgot the "
      "table would read somebody else's keys.");
}

void show_pool(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  out.heading("1.4 The pool: who owns each physical kv_block");
  const int num_blocks = s.effective_num_blocks();
  std::vector<std::string> owner(std::size_t(num_blocks), "free");
  std::vector<Colour> colour(std::size_t(num_blocks), Colour::grey);
  for (int seq = 0; seq < s.num_seqs; ++seq)
    for (int b = 0; b < divide_round_up(w.seq_len(seq), s.block_size); ++b) {
      const int physical = w.physical_block(seq, b);
      owner[std::size_t(physical)] = "s" + std::to_string(seq) + "b" + std::to_string(b);
      colour[std::size_t(physical)] = palette(seq);
    }
  // As many slots to a row as fit in 100 columns with the longest owner label.
  std::size_t widest = 4;
  for (const std::string& o : owner) widest = std::max(widest, o.size());
  // No wider than the pool: a small pool is one row without empty columns.
  const int per_row = std::min(std::clamp(int((kTerminalWidth - 8) / (widest + 2)), 4, kPoolSlotsPerRow), num_blocks);
  std::vector<std::string> labels;
  for (int c = 0; c < per_row; ++c) labels.push_back("+" + std::to_string(c));
  Grid grid("slot", labels);
  const int rows = divide_round_up(num_blocks, per_row);
  for (int r = 0; r < std::min(rows, kMaxPoolRowsShown); ++r) {
    std::vector<std::string> cells;
    std::vector<Colour> colours;
    for (int c = 0; c < per_row; ++c) {
      const int slot = r * per_row + c;
      cells.push_back(slot < num_blocks ? owner[std::size_t(slot)] : "");
      colours.push_back(slot < num_blocks ? colour[std::size_t(slot)] : Colour::none);
    }
    grid.row(std::to_string(r * per_row), cells, colours);
  }
  out.print(grid);
  if (rows > kMaxPoolRowsShown)
    out.line("  (" + std::to_string(num_blocks - kMaxPoolRowsShown * per_row) + " more slots not shown)");
  out.line();
  out.paragraph("sSbB is kv_block B of sequence S. The pool has " + std::to_string(num_blocks) +
                " slots, of which the sequences use " + std::to_string(s.num_blocks_needed()) +
                ". This is the point of paging: memory is handed out one kv_block at a time as a sequence grows, "
                "so no sequence reserves room for its maximum length, and a freed kv_block can go to any sequence.");
}

void show_token_lookup(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const int seq = w.seq();
  const int kv_head = w.kv_head();
  const KvCacheLayout layout = kv_cache_layout(s);
  out.heading("1.5 From a token to its key and value, for seq " + std::to_string(seq) + ", kv head " +
              std::to_string(kv_head));
  out.paragraph("A token's place follows from three numbers: its kv_block (token / block_size), its slot inside "
                "the kv_block (token % block_size), and the table entry for that kv_block. Element offsets below "
                "are for head dimension 0, counted from the start of each cache:");
  out.formula("key   [phys][kv_head][0][slot][0]: ((phys*num_kv_heads + kv_head)*head_size*block_size) + slot*x");
  out.formula("value [phys][kv_head][0][slot]   : ((phys*num_kv_heads + kv_head)*head_size*block_size) + slot");
  out.line();
  const int len = w.seq_len(seq);
  std::vector<int> tokens = {0, 1, s.block_size - 1, s.block_size, len - 1};
  std::sort(tokens.begin(), tokens.end());
  tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
  Table table({{"token"}, {"kv_block"}, {"slot"}, {"physical"}, {"key offset"}, {"value offset"}, {"key[dim 0]"}});
  for (int token : tokens) {
    if (token < 0 || token >= len) continue;
    const int logical = token / s.block_size;
    const int slot = token % s.block_size;
    const std::int64_t physical = w.physical_block(seq, logical);
    const std::int64_t key_offset = layout.key_offset(physical, kv_head, 0, slot);
    const std::int64_t value_offset = layout.value_offset(physical, kv_head, 0, slot);
    table.row({std::to_string(token), std::to_string(logical), std::to_string(slot), std::to_string(physical),
               std::to_string(key_offset), std::to_string(value_offset),
               signed_fixed(w.inputs().key_cache.get_float(key_offset), 5)});
  }
  out.print(table);
}

void show_poison(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  out.heading("1.6 Slots that no sequence wrote");
  // Which (physical block, slot) pairs hold a token, from the block table.
  const int num_blocks = s.effective_num_blocks();
  std::vector<char> used(std::size_t(num_blocks) * std::size_t(s.block_size), 0);
  std::int64_t used_tokens = 0;
  for (int seq = 0; seq < s.num_seqs; ++seq)
    for (int t = 0; t < w.seq_len(seq); ++t, ++used_tokens)
      used[std::size_t(w.physical_block(seq, t / s.block_size)) * std::size_t(s.block_size) + std::size_t(t % s.block_size)] = 1;
  // Each element of key_cache, traced back to its physical block and token slot.
  const Tensor& keys = w.inputs().key_cache;
  const KvCacheLayout layout = kv_cache_layout(s);
  std::int64_t nan_keys = 0, wrong = 0;
  for (std::int64_t i = 0; i < keys.numel(); ++i) {
    const bool is_nan = std::isnan(keys.get_float(i));
    nan_keys += is_nan;
    const KvCacheCoordinates where = layout.key_coordinates(i);
    const std::size_t slot = std::size_t(where.physical_block) * std::size_t(s.block_size) + std::size_t(where.block_offset);
    wrong += is_nan == bool(used[slot]);
  }
  const std::int64_t slots = std::int64_t(num_blocks) * s.block_size;
  out.paragraph("The generator fills every cache slot that holds no token with NaN, so that reading one by mistake "
                "poisons the output visibly. In this pool " +
                std::to_string(used_tokens) + " of " + std::to_string(slots) + " token slots are used; the key cache holds " +
                std::to_string(nan_keys) + " NaN elements = " + std::to_string(slots - used_tokens) + " unused slots x " +
                std::to_string(s.num_kv_heads * s.head_size) + " (kv heads x head_size).");
  w.check("nan_poison", wrong == 0,
          "every key element of an unused slot (by the block table) is NaN, and every element of a used slot is "
          "a number");
}

void check_lookups(Walkthrough& w) {
  const Scenario& s = w.scenario();
  std::int64_t checked = 0, wrong = 0;
  for (const ThreadBlockStages& tb : w.reference().thread_blocks) {
    if (!tb.active) continue;
    const ThreadBlockRecord r = w.paged().thread_block(tb.seq_idx, tb.head_idx, tb.partition_idx);
    // Every slot of the range's kv_blocks, masked ones included: the kernel visits whole kv_blocks.
    const int slots = tb.range.num_blocks() * s.block_size;
    for (int t = 0; t < slots; ++t) {
      const TokenRecord& token = r.token(t);
      const int token_idx = tb.range.start_token_idx + t;
      ++checked;
      if (token.token_idx != token_idx || token.physical_block != w.physical_block(tb.seq_idx, token_idx / s.block_size) ||
          token.block_offset != token_idx % s.block_size)
        ++wrong;
    }
  }
  w.out().heading("1.7 Checks");
  w.check("block_table_lookup", wrong == 0 && checked > 0,
          "the kernel's recording says which physical kv_block and slot it read for each of " + std::to_string(checked) +
              " token slots (all thread blocks); each matches block_tables[seq][token / block_size] and "
              "token % block_size" + (wrong ? " except " + std::to_string(wrong) : std::string()));
  w.check_stage(pal::Check::final_output);
}

}  // namespace
}  // namespace pal::walkthrough

int main(int argc, char** argv) {
  using namespace pal::walkthrough;
  ChapterInfo chapter;
  chapter.number = 1;
  chapter.teaches = "The kernel's inputs: sequences of different lengths, a KV cache cut into kv_blocks that live "
                    "anywhere in a shared pool, and the block table that finds them.";
  chapter.scenario = teaching_scenario();
  chapter.focus_seq = 2;
  return run_chapter(argc, argv, chapter, [](Walkthrough& w) {
    show_batch(w);
    show_tensors(w);
    show_block_table(w);
    show_pool(w);
    show_token_lookup(w);
    show_poison(w);
    check_lookups(w);
  });
}
