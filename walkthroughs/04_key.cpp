// Chapter 4: the key cache. Each key is split into 16-byte chunks and the chunks of a kv_block's
// tokens are interleaved, so that in each step the 32 lanes of a warp read one contiguous run of
// memory while every thread_group gets a different token.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>

#include "walkthroughs/harness.h"

namespace pal::walkthrough {
namespace {

constexpr int kMaxSlotsShown = 16;
constexpr int kSectorBytes = 32;  // the unit in which global memory is fetched

// Which token slot of its kv_block a thread handles, and the token record behind it.
int slot_of(const Walkthrough& w, int thread) {
  return (thread / w.geometry().thread_group_size()) % w.scenario().block_size;
}
const TokenRecord& token_of(const Walkthrough& w, int thread, int iteration) {
  const int warp = thread / kWarpSize;
  const int block_in_range = iteration * w.geometry().num_warps() + warp;
  return w.token(block_in_range * w.scenario().block_size + slot_of(w, thread));
}

void show_layout(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const int x = g.x();
  out.heading("4.1 The layout: [num_blocks, num_kv_heads, head_size/x, block_size, x]");
  out.paragraph("Inside one kv_block of one kv head the keys of " + std::to_string(s.block_size) +
                " tokens are stored as head_size/x = " + std::to_string(s.head_size / x) + " rows of chunks: row c holds "
                "dims [c*x, c*x + x) of token 0, then the same dims of token 1, and so on (x = " + std::to_string(x) +
                " elements = 16 bytes). Each cell is the element offset of a chunk from the start of the kv head's "
                "kv_block:");
  const int slots = std::min(s.block_size, kMaxSlotsShown);
  std::vector<std::string> columns;
  for (int o = 0; o < slots; ++o) columns.push_back("t" + std::to_string(o));
  Grid grid("chunk (dims)", columns);
  for (int c = 0; c < s.head_size / x && c < 16; ++c) {
    std::vector<std::string> cells;
    std::vector<Colour> colours;
    for (int o = 0; o < slots; ++o) {
      cells.push_back(std::to_string((c * s.block_size + o) * x));
      colours.push_back(palette(o));
    }
    grid.row(std::to_string(c) + " (" + std::to_string(c * x) + "-" + std::to_string(c * x + x - 1) + ")", cells, colours);
  }
  out.print(grid);
  if (s.block_size > slots) out.line("  (token slots " + std::to_string(slots) + "-" + std::to_string(s.block_size - 1) + " not shown)");
  out.line();
  out.paragraph("Memory runs along a row, then to the next row: one row is block_size x 16 = " +
                std::to_string(s.block_size * 16) + " contiguous bytes holding the same 16 bytes of every token. The "
                "pointer to a token's first chunk is");
  out.formula("k_ptr = k_cache + physical_block * kv_block_stride + kv_head * kv_head_stride + slot * x");
  out.formula("kv_block_stride = num_kv_heads * head_size * block_size = " +
              std::to_string(std::int64_t(s.num_kv_heads) * s.head_size * s.block_size));
  out.formula("kv_head_stride  = head_size * block_size = " + std::to_string(s.head_size * s.block_size));
}

void show_one_token(Walkthrough& w) {
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const int tgs = g.thread_group_size();
  const int vec = g.vec_size();
  const TokenRecord& token = token_of(w, 0, 0);
  out.heading("4.2 One thread_group reads one key");
  out.paragraph("Thread_group 0 (threads 0-" + std::to_string(tgs - 1) + ") takes token slot 0 of warp 0's first kv_block: "
                "token " + std::to_string(token.token_idx) + " of seq " + std::to_string(w.seq()) + ", physical kv_block " +
                std::to_string(token.physical_block) + ". Lane r reads vecs r, r + THREAD_GROUP_SIZE, ... into its "
                "registers, k_vecs[NUM_VECS_PER_THREAD = " + std::to_string(g.num_vecs_per_thread()) + "]; vec v lies in "
                "chunk v*VEC_SIZE/x at offset v*VEC_SIZE%x. The loads below are the recorded ones:");
  Table table({{"lane r"}, {"j"}, {"vec"}, {"chunk"}, {"in chunk"}, {"element"}, {"dims"}, {"first values", Table::Align::left}});
  int rows = 0;
  for (int r = 0; r < tgs; ++r)
    for (const LoadRecord& load : w.loads(r)) {
      if (load.kind != LoadKind::key || load.iteration != 0) continue;
      if (++rows > 16) continue;
      const int vec_idx = r + load.vec_idx * tgs;
      std::string values;
      for (int e = 0; e < vec && e < 3; ++e)
        values += (e ? " " : "") + signed_fixed(w.inputs().key_cache.get_float(load.element_offset + e), 4);
      if (vec > 3) values += " ...";
      table.row({std::to_string(r), std::to_string(load.vec_idx), std::to_string(vec_idx),
                 std::to_string(vec_idx * vec / g.x()), std::to_string(vec_idx * vec % g.x()),
                 std::to_string(load.element_offset),
                 std::to_string(vec_idx * vec) + "-" + std::to_string(vec_idx * vec + vec - 1), values},
                palette(r));
    }
  out.print(table);
  if (rows > 16) out.line("  (" + std::to_string(rows - 16) + " more loads not shown)");
  out.line();
  out.paragraph("Lane r ends with the same dims of the key as q_vecs[r] holds of the query (chapter 3), so it can "
                "multiply them without asking anyone.");
}

// Distinct 32-byte sectors touched by a set of byte ranges.
std::size_t sectors(const std::vector<std::pair<std::int64_t, std::int64_t>>& ranges) {
  std::set<std::int64_t> touched;
  for (const auto& [begin, end] : ranges)
    for (std::int64_t b = begin / kSectorBytes; b <= (end - 1) / kSectorBytes; ++b) touched.insert(b);
  return touched.size();
}

void show_warp_step(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const int element = g.cache_element_size;
  const int load_bytes = g.key_load_bytes();
  out.heading("4.3 One step of a whole warp: why the chunks are interleaved");
  std::vector<std::pair<std::int64_t, std::int64_t>> actual, token_major;
  std::vector<std::string> lane_labels, offsets;
  std::int64_t lowest = INT64_MAX;
  for (int lane = 0; lane < kWarpSize; ++lane)
    for (const LoadRecord& load : w.loads(lane))
      if (load.kind == LoadKind::key && load.iteration == 0 && load.vec_idx == 0) lowest = std::min(lowest, load.element_offset);
  out.paragraph("In step j every lane of warp 0 issues its j-th key load at once. For j = 0, iteration 0, the "
                "recording gives these byte offsets, each relative to the lowest address of the step (byte " +
                std::to_string(lowest * element) + " of the key cache, which is element " + std::to_string(lowest) +
                "):");
  for (int lane = 0; lane < kWarpSize; ++lane) {
    for (const LoadRecord& load : w.loads(lane)) {
      if (load.kind != LoadKind::key || load.iteration != 0 || load.vec_idx != 0) continue;
      const std::int64_t byte = load.element_offset * element;
      actual.push_back({byte, byte + load_bytes});
      offsets.push_back("+" + std::to_string(byte - lowest * element));
      lane_labels.push_back(std::to_string(lane));
      // The same dims of the same token if each token's key were stored whole ([.., block_size, head_size]).
      const TokenRecord& token = token_of(w, lane, 0);
      const int dim = (lane % g.thread_group_size()) * g.vec_size();
      const std::int64_t tm = ((token.physical_block * s.num_kv_heads + w.kv_head()) * s.block_size + token.block_offset) *
                                  std::int64_t(s.head_size) + dim;
      token_major.push_back({tm * element, tm * element + load_bytes});
    }
  }
  // 16 lanes to a row while the offsets are short, 8 when they are not, to stay within 100 columns.
  std::size_t widest = 0;
  for (const std::string& o : offsets) widest = std::max(widest, o.size());
  const std::size_t per_row = widest <= 4 ? 16 : 8;
  for (std::size_t first = 0; first < lane_labels.size(); first += per_row) {
    const auto last = std::min(lane_labels.size(), first + per_row);
    Grid grid("lane", std::vector<std::string>(lane_labels.begin() + long(first), lane_labels.begin() + long(last)));
    grid.row("byte", std::vector<std::string>(offsets.begin() + long(first), offsets.begin() + long(last)));
    out.print(grid);
  }
  out.line();
  const std::size_t here = sectors(actual), there = sectors(token_major);
  out.paragraph("The " + std::to_string(actual.size()) + " loads of " + std::to_string(load_bytes) +
                " bytes are one unbroken run of " + std::to_string(actual.size() * std::size_t(load_bytes)) +
                " bytes: row 0 of the picture in 4.1. Global memory is fetched in 32-byte sectors; this step touches " +
                std::to_string(here) + " of them. Had each key been stored whole ([num_blocks, num_kv_heads, block_size, "
                "head_size]), the same loads would land " + std::to_string(s.head_size * element) +
                " bytes apart and touch " + std::to_string(there) + " sectors. The next step (j = 1) reads row 1, "
                "and so on: after NUM_VECS_PER_THREAD steps every thread_group has its whole key.");
}

void check_keys(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  const int tgs = g.thread_group_size();
  std::int64_t checked = 0, wrong = 0, masked = 0, steps = 0, broken_steps = 0;
  // (warp, iteration, j) -> the warp's byte ranges, to check that every step is one contiguous run.
  std::map<std::tuple<int, int, int>, std::vector<std::int64_t>> step_starts;
  for (int thread = 0; thread < s.num_threads; ++thread)
    for (const LoadRecord& load : w.loads(thread)) {
      if (load.kind != LoadKind::key) continue;
      step_starts[{thread / kWarpSize, load.iteration, load.vec_idx}].push_back(load.element_offset);
      const TokenRecord& token = token_of(w, thread, load.iteration);
      if (token.token_idx >= w.seq_len(w.seq())) {
        ++masked;  // a padding slot of the last kv_block: read, then masked out (chapter 6)
        continue;
      }
      const std::vector<float> key = key_gather(w.inputs(), w.seq(), w.kv_head(), token.token_idx);
      const int dim = ((thread % tgs) + load.vec_idx * tgs) * g.vec_size();
      for (int e = 0; e < g.vec_size(); ++e) {
        ++checked;
        if (w.inputs().key_cache.get_float(load.element_offset + e) != key[std::size_t(dim + e)]) ++wrong;
      }
    }
  for (auto& [step, starts] : step_starts) {
    std::sort(starts.begin(), starts.end());
    ++steps;
    for (std::size_t i = 1; i < starts.size(); ++i)
      if (starts[i] != starts[i - 1] + g.vec_size()) {
        ++broken_steps;
        break;
      }
  }
  w.out().heading("4.4 Checks");
  w.check("key_gather", wrong == 0 && checked > 0,
          "the " + std::to_string(checked) + " key elements the focus thread_block loaded equal the reference's "
          "key_gather (block table, then [block][kv_head][d/x][slot][d%x]) for the token each thread_group "
          "handled; " + std::to_string(masked) + " loads read padding slots past seq_len");
  w.check("key_steps_coalesced", broken_steps == 0 && steps > 0,
          "in all " + std::to_string(steps) + " (warp, iteration, step) triples the warp's key loads form one "
          "contiguous run of memory");
}

}  // namespace
}  // namespace pal::walkthrough

int main(int argc, char** argv) {
  using namespace pal::walkthrough;
  ChapterInfo chapter;
  chapter.number = 4;
  chapter.teaches = "The key cache: keys split into 16-byte chunks, interleaved across a kv_block's tokens, so that "
                    "each step of a warp is one contiguous read and each thread_group gets its own token.";
  chapter.scenario = teaching_scenario();
  chapter.focus_seq = 2;
  return run_chapter(argc, argv, chapter, [](Walkthrough& w) {
    show_layout(w);
    show_one_token(w);
    show_warp_step(w);
    check_keys(w);
  });
}
