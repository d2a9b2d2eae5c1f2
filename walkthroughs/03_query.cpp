// Chapter 3: the query. One head of one sequence's new token is read from global memory once, cut
// into vecs, and laid out in shared memory so that lane r of every thread_group finds exactly the
// pieces it will multiply with its share of each key.
#include <cstdio>
#include <set>

#include "walkthroughs/harness.h"

namespace pal::walkthrough {
namespace {

constexpr int kMaxDimsShown = 64;

std::string dims_of_vec(int vec_idx, int vec_size) {
  return std::to_string(vec_idx * vec_size) + "-" + std::to_string(vec_idx * vec_size + vec_size - 1);
}

void show_query(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const std::int64_t q_stride = std::int64_t(s.num_heads) * s.head_size;
  const std::int64_t q_offset = w.seq() * q_stride + std::int64_t(w.head()) * s.head_size;
  out.heading("3.1 Where the query of one head starts");
  out.paragraph("The query tensor is [num_seqs, num_heads, head_size]. The thread_block for (head " +
                std::to_string(w.head()) + ", seq " + std::to_string(w.seq()) + ") starts reading at");
  out.formula("q_offset = seq * q_stride + head * head_size = " + std::to_string(w.seq()) + " * " +
              std::to_string(q_stride) + " + " + std::to_string(w.head()) + " * " + std::to_string(s.head_size) +
              " = " + std::to_string(q_offset));
  out.line();
  out.paragraph("and the head's " + std::to_string(s.head_size) + " elements follow contiguously (q_stride = num_heads "
                "x head_size for a contiguous query; upstream passes it separately so q can be a slice of a larger "
                "qkv tensor). The values, 8 per row:");
  std::vector<std::string> columns;
  for (int c = 0; c < 8; ++c) columns.push_back("+" + std::to_string(c));
  Grid grid("dim", columns);
  const int shown = std::min(s.head_size, kMaxDimsShown);
  for (int d0 = 0; d0 < shown; d0 += 8) {
    std::vector<std::string> cells;
    for (int c = 0; c < 8; ++c) cells.push_back(signed_fixed(w.inputs().query.get_float(q_offset + d0 + c), 4));
    grid.row(std::to_string(d0), cells);
  }
  out.print(grid);
  if (s.head_size > shown) out.line("  (" + std::to_string(s.head_size - shown) + " more dims not shown)");
}

void show_vecs(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const int tgs = g.thread_group_size();
  const int vec = g.vec_size();
  const int num_vecs = s.head_size / vec;
  out.heading("3.2 Vecs, and which lane of a thread_group owns which");
  out.paragraph("A vec is what one lane loads at once: VEC_SIZE = " + std::to_string(vec) + " elements (" +
                std::to_string(vec * g.query_element_size) + " bytes), so that the " + std::to_string(tgs) +
                " lanes of a thread_group together move 16 bytes. The head is " + std::to_string(num_vecs) +
                " vecs. They are dealt to the lanes of a thread_group in turn: lane r owns vecs r, r + " +
                std::to_string(tgs) + ", r + " + std::to_string(2 * tgs) + ", ...");
  std::vector<std::string> columns;
  for (int i = 0; i < g.num_vecs_per_thread() && i < 6; ++i) columns.push_back("i=" + std::to_string(i));
  Grid grid("lane r \\ i", columns);
  for (int r = 0; r < tgs; ++r) {
    std::vector<std::string> cells;
    std::vector<Colour> colours;
    for (int i = 0; i < int(columns.size()); ++i) {
      const int vec_idx = r + i * tgs;
      cells.push_back("v" + std::to_string(vec_idx) + " d" + dims_of_vec(vec_idx, vec));
      colours.push_back(palette(r));
    }
    grid.row("lane " + std::to_string(r), cells, colours);
  }
  out.print(grid);
  if (g.num_vecs_per_thread() > int(columns.size()))
    out.line("  (" + std::to_string(g.num_vecs_per_thread() - int(columns.size())) + " more columns not shown)");
  out.line();
  out.paragraph("This table is the shared array q_vecs[THREAD_GROUP_SIZE][NUM_VECS_PER_THREAD] = [" +
                std::to_string(tgs) + "][" + std::to_string(g.num_vecs_per_thread()) +
                "]: row r is what lane r of any thread_group needs. Why interleave instead of giving lane 0 the first "
                "half? Because the keys are read the same way (chapter 4): in each step the lanes of a thread_group "
                "read one contiguous 16-byte chunk, lane r taking its vec-sized piece, so lane r meets dims of vecs "
                "r, r + THREAD_GROUP_SIZE, ... in every key.");
}

void show_loads(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  out.heading("3.3 Who copies the query into shared memory, as recorded");
  out.paragraph("The copy loop gives column i of q_vecs to thread_group i (i < NUM_VECS_PER_THREAD = " +
                std::to_string(g.num_vecs_per_thread()) + "; the other " +
                std::to_string(g.num_thread_groups() - std::min(g.num_thread_groups(), g.num_vecs_per_thread())) +
                " thread_groups have nothing to copy), and lane r of that thread_group copies vec r + i * "
                "THREAD_GROUP_SIZE. The recording of " + w.focus_name() + " lists these query loads:");
  Table table({{"thread"}, {"thread_group"}, {"lane r"}, {"column i"}, {"vec"}, {"element offset"}, {"dims"}});
  const std::int64_t q_offset = w.seq() * std::int64_t(s.num_heads) * s.head_size + std::int64_t(w.head()) * s.head_size;
  int rows = 0;
  for (int thread = 0; thread < s.num_threads; ++thread)
    for (const LoadRecord& load : w.loads(thread)) {
      if (load.kind != LoadKind::query) continue;
      if (++rows > 24) continue;
      const std::int64_t d = load.element_offset - q_offset;
      table.row({std::to_string(thread), std::to_string(thread / g.thread_group_size()),
                 std::to_string(thread % g.thread_group_size()), std::to_string(load.iteration),
                 std::to_string(load.vec_idx), std::to_string(load.element_offset),
                 std::to_string(d) + "-" + std::to_string(d + g.vec_size() - 1)},
                palette(thread % g.thread_group_size()));
    }
  out.print(table);
  if (rows > 24) out.line("  (" + std::to_string(rows - 24) + " more loads not shown)");
  out.line();
  const bool one_pass = g.num_vecs_per_thread() <= g.num_thread_groups();
  out.paragraph(std::string(one_pass ? "Thread t copies vec t" : "Thread t copies vecs t, t + NUM_THREADS, ...") +
                ": neighbouring threads read neighbouring memory, so the head arrives in coalesced sweeps. A barrier "
                "(__syncthreads) follows, because every thread_group is about to read all of q_vecs.");
}

void show_q_vecs(Walkthrough& w) {
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const int tgs = g.thread_group_size();
  const int vec = g.vec_size();
  out.heading("3.4 q_vecs in shared memory, as recorded");
  out.paragraph("The recording keeps q_vecs in its memory order [THREAD_GROUP_SIZE][NUM_VECS_PER_THREAD][VEC_SIZE]. "
                "Each line is one entry, q_vecs[r][i], with the dims it holds:");
  const ThreadBlockRecord record = w.record();
  int lines = 0;
  for (int r = 0; r < tgs; ++r)
    for (int i = 0; i < g.num_vecs_per_thread(); ++i) {
      if (++lines > 16) continue;
      std::string values;
      for (int e = 0; e < vec && e < 8; ++e) values += (e ? " " : "") + signed_fixed(record.q_vec_element((r * g.num_vecs_per_thread() + i) * vec + e), 4);
      const int vec_idx = r + i * tgs;
      char label[64];
      std::snprintf(label, sizeof label, "  q_vecs[%d][%d]  dims %-9s = ", r, i, dims_of_vec(vec_idx, vec).c_str());
      out.line(label + values);
    }
  if (lines > 16) out.line("  (" + std::to_string(lines - 16) + " more entries not shown)");
  out.line();
  out.paragraph("Compare with 3.1: dims 0-" + std::to_string(vec - 1) + " come first, then the dims of vec " +
                std::to_string(tgs) + " (not vec 1, which is lane 1's). From here on the query is only read, by all " +
                std::to_string(g.num_thread_groups()) + " thread_groups, for every key of the context.");
}

void check_query(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  const std::int64_t q_offset = w.seq() * std::int64_t(s.num_heads) * s.head_size + std::int64_t(w.head()) * s.head_size;
  std::multiset<std::int64_t> loaded;
  for (int thread = 0; thread < s.num_threads; ++thread)
    for (const LoadRecord& load : w.loads(thread))
      if (load.kind == LoadKind::query) loaded.insert(load.element_offset);
  std::multiset<std::int64_t> expected;
  for (int v = 0; v < s.head_size / g.vec_size(); ++v) expected.insert(q_offset + std::int64_t(v) * g.vec_size());
  w.out().heading("3.5 Checks");
  w.check("query_loads", loaded == expected,
          "the focus thread_block loaded each of the head's " + std::to_string(expected.size()) +
              " vecs exactly once, from q_offset + vec * VEC_SIZE");
  w.check_stage(pal::Stage::query_load);
}

}  // namespace
}  // namespace pal::walkthrough

int main(int argc, char** argv) {
  using namespace pal::walkthrough;
  ChapterInfo chapter;
  chapter.number = 3;
  chapter.teaches = "The query: read once per thread_block, cut into vecs, and interleaved in shared memory so that "
                    "each lane of a thread_group holds the pieces it will meet in every key.";
  chapter.scenario = teaching_scenario();
  chapter.focus_seq = 2;
  return run_chapter(argc, argv, chapter, [](Walkthrough& w) {
    show_query(w);
    show_vecs(w);
    show_loads(w);
    show_q_vecs(w);
    check_query(w);
  });
}
