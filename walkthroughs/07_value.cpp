// Chapter 7: the value cache and the V loop. V is stored one head dim per row, tokens along the row;
// each lane reads 16 bytes of a row (V_VEC_SIZE tokens), multiplies them with the same tokens'
// probabilities, and keeps one fp32 accumulator per row it owns. Padding slots of the last kv_block
// are replaced by zero before the multiply.
#include <algorithm>
#include <cmath>

#include "walkthroughs/harness.h"
#include "kernels/thread_mapping.h"

namespace pal::walkthrough {
namespace {

void show_layout(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  out.heading("7.1 The layout: [num_blocks, num_kv_heads, head_size, block_size]");
  out.paragraph("The value cache is the key cache's opposite: within a kv_block of one kv head, row d holds head dim d "
                "of all " + std::to_string(s.block_size) + " tokens, contiguously. A 16-byte load from a row is "
                "V_VEC_SIZE = " + std::to_string(g.v_vec_size()) + " consecutive tokens of one dim, which is what the "
                "weighted sum needs: out[d] = sum over tokens of p[token] * v[token][d].");
  out.formula("v_ptr = v_cache + physical_block * kv_block_stride + kv_head * kv_head_stride");
  out.formula("element (row, slot) = v_ptr + row * block_size + slot");
}

void show_assignment(Walkthrough& w) {
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const int per_row = g.num_v_vecs_per_row();
  const int rows_per_iter = g.num_rows_per_iter();
  const int v_vec = g.v_vec_size();
  out.heading("7.2 Which lane reads which part of a kv_block");
  out.paragraph("There are no thread_groups here. Lane l of a warp takes token slots [(l % NUM_V_VECS_PER_ROW) * "
                "V_VEC_SIZE, + V_VEC_SIZE) and rows l / NUM_V_VECS_PER_ROW + i * NUM_ROWS_PER_ITER for i = 0 .. "
                "NUM_ROWS_PER_THREAD - 1 = " + std::to_string(g.num_rows_per_thread() - 1) +
                ". The grid shows, for every (row, token slots) cell of one kv_block, the lane that reads it; row "
                "label \"r + " + std::to_string(rows_per_iter) + "i\" stands for rows r, r + " +
                std::to_string(rows_per_iter) + ", ...:");
  std::vector<std::string> columns;
  for (int c = 0; c < per_row && c < 8; ++c)
    columns.push_back("slots " + std::to_string(c * v_vec) + "-" + std::to_string(c * v_vec + v_vec - 1));
  Grid grid("row", columns);
  for (int r = 0; r < rows_per_iter && r < 32; ++r) {
    std::vector<std::string> cells;
    std::vector<Colour> colours;
    for (int c = 0; c < int(columns.size()); ++c) {
      const int lane = r * per_row + c;
      cells.push_back("lane " + std::to_string(lane));
      colours.push_back(palette(lane));
    }
    grid.row(std::to_string(r) + " + " + std::to_string(rows_per_iter) + "i", cells, colours);
  }
  out.print(grid);
  out.line();
  out.paragraph("The NUM_V_VECS_PER_ROW = " + std::to_string(per_row) + " neighbouring lanes that share a row read "
                "all of it (" + std::to_string(per_row * v_vec * g.cache_element_size) +
                " contiguous bytes), and the next lanes read the next row, which starts where this one ends: a warp's "
                "step is again one contiguous run. The warp loops over the same kv_blocks it had in the QK loop "
                "(kv_block w, w + NUM_WARPS, ...).");
}

void show_one_lane(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const int v_vec = g.v_vec_size();
  const ThreadBlockStages& tb = w.focus();
  const TokenRecord& first = w.token(0);
  out.heading("7.3 One lane, one kv_block: logits_vec . v_vec");
  const std::string dtype(dtype_name(s.dtype));
  // What upstream's dot(logits_vec, v_vec) computes in, per dtype (attention_generic.cuh's
  // dot = sum(mul<T, T, T>)), and what this kernel does instead.
  const std::string precision =
      s.dtype == DType::fp32
          ? "In fp32 there is nothing to round: upstream and this kernel multiply and sum in fp32."
          : "Each probability is rounded to " + dtype + " first, as upstream does. Upstream then multiplies in " +
                dtype +
                (s.dtype == DType::fp16 ? " and adds the products pairwise in fp16 too (mul.f16x2, add.f16x2), "
                                          "summing only the last pair in fp32"
                                        : " and sums the products in fp32") +
                "; this kernel multiplies and sums in fp32 (the product of two " + dtype +
                " values is exact in fp32), so it differs from upstream by upstream's " + dtype +
                " rounding of each product" + (s.dtype == DType::fp16 ? " and partial sum" : "") +
                ". Either way the accumulator accs[i] is fp32.";
  out.paragraph("Lane 0 of warp 0, iteration 0 (kv_block " + std::to_string(first.token_idx / s.block_size) +
                ", physical " + std::to_string(first.physical_block) + "), row 0. logits_vec is the probabilities of "
                "its " + std::to_string(v_vec) + " tokens. " + precision);
  const std::vector<LoadRecord> loads = w.loads(0);
  std::int64_t element = -1;
  for (const LoadRecord& load : loads)
    if (load.kind == LoadKind::value && load.iteration == 0 && load.vec_idx == 0) element = load.element_offset;
  Table table({{"slot"}, {"token"}, {"p (fp32)"}, {"p as " + dtype}, {"v[row 0]"}, {"p * v (fp32)"}});
  double sum = 0.0;
  for (int e = 0; e < v_vec && element >= 0; ++e) {
    const int t = e;  // slots 0 .. V_VEC_SIZE-1 of the range's first kv_block
    const float p = t < tb.num_tokens() ? tb.probs[std::size_t(t)] : 0.0f;
    const float rounded = round_to_dtype(p, s.dtype);
    const float v = w.inputs().value_cache.get_float(element + e);
    sum += double(rounded) * double(v);
    table.row({std::to_string(e), std::to_string(tb.range.start_token_idx + t), fixed(p, 6), fixed(rounded, 6),
               signed_fixed(v, 4), signed_fixed(double(rounded) * double(v), 6)});
  }
  out.print(table);
  out.formula("accs[0] += " + signed_fixed(sum, 6));
}

void show_last_block(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const ThreadBlockStages& tb = w.focus();
  out.heading("7.4 The last kv_block: zero, not just weighted by zero");
  const int len = w.seq_len(w.seq());
  const int last_block = divide_round_up(len, s.block_size) - 1;
  const int used = len - last_block * s.block_size;
  if (used == s.block_size || last_block < tb.range.start_block_idx) {
    out.paragraph("This thread_block's last kv_block is full, so there is nothing to zero. (Try --seq 0.)");
    return;
  }
  const int warp = (last_block - tb.range.start_block_idx) % g.num_warps();
  const int physical = w.physical_block(w.seq(), last_block);
  const std::int64_t row0 = (std::int64_t(physical) * s.num_kv_heads + w.kv_head()) * s.head_size * s.block_size;
  out.paragraph("kv_block " + std::to_string(last_block) + " (physical " + std::to_string(physical) + ", warp " +
                std::to_string(warp) + ") holds " + std::to_string(used) + " tokens; slots " + std::to_string(used) + "-" +
                std::to_string(s.block_size - 1) + " are padding. Their probabilities are 0 (chapter 5), but the lanes "
                "still load whole 16-byte vecs, and the cache there holds whatever it holds; here, NaN. Since 0 * NaN "
                "= NaN, the kernel replaces each such v by 0 before multiplying. Row 0 of that kv_block:");
  Table table({{"slot"}, {"p"}, {"v in the cache"}, {"v used"}});
  for (int o = 0; o < s.block_size; ++o) {
    const int t = last_block * s.block_size + o - tb.range.start_token_idx;
    const bool pad = o >= used;
    const float v = w.inputs().value_cache.get_float(row0 + o);
    table.row({std::to_string(o), pad ? fixed(0.0, 6) : fixed(tb.probs[std::size_t(t)], 6), signed_fixed(v, 4),
               pad ? signed_fixed(0.0, 4) : signed_fixed(v, 4)},
              pad ? Colour::grey : Colour::none);
  }
  out.print(table);
  out.line();
  out.paragraph("Upstream learned this the hard way: before the fix, stale NaNs in those slots turned whole outputs "
                "into NaN (vLLM issue #641, fixed by PR #936).");
  (void)g;
}

void check_accumulators(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const ThreadBlockStages& tb = w.focus();
  const StageTolerance tol = stage_tolerance(Stage::lv_warp_reduction, s.dtype, value_scale_of(s, w.inputs()));
  out.heading("7.5 The accumulators after the V loop");
  out.paragraph("Each lane now holds NUM_ROWS_PER_THREAD = " + std::to_string(g.num_rows_per_thread()) +
                " fp32 sums, each over its own token slots of its warp's kv_blocks only. Lanes 0 and 1 of warp 0, as "
                "recorded, and the same sums computed from the reference's probabilities and values:");
  auto acc_at = [&](int thread, int row) {
    return w.record().acc(0, thread, row);
  };
  // expected(thread, row): sum over the thread's warp's kv_blocks and the thread's token slots.
  auto expected = [&](int thread, int row_idx) {
    const int warp = thread / kWarpSize, lane = thread % kWarpSize;
    const int first_slot = ThreadMapping{g}.value_block_offset(lane);
    double sum = 0.0;
    for (int b = warp; b < tb.range.num_blocks(); b += g.num_warps())
      for (int e = 0; e < g.v_vec_size(); ++e) {
        const int t = b * s.block_size + first_slot + e;
        if (t >= tb.num_tokens()) continue;
        const std::vector<float> v = value_gather(w.inputs(), w.seq(), w.kv_head(), tb.range.start_token_idx + t);
        sum += double(round_to_dtype(tb.probs[std::size_t(t)], s.dtype)) * double(v[std::size_t(row_idx)]);
      }
    return sum;
  };
  Table table({{"lane"}, {"i"}, {"row"}, {"accs[i] recorded"}, {"from the reference"}});
  for (int lane = 0; lane < 2 && lane < g.num_v_vecs_per_row() * 2; ++lane)
    for (int i = 0; i < g.num_rows_per_thread() && i < 4; ++i) {
      const int row_idx = ThreadMapping{g}.value_row_idx(lane, i);
      if (row_idx >= s.head_size) continue;
      table.row({std::to_string(lane), std::to_string(i), std::to_string(row_idx), signed_fixed(acc_at(lane, i), 6),
                 signed_fixed(expected(lane, row_idx), 6)},
                palette(lane));
    }
  out.print(table);
  out.line();
  std::int64_t checked = 0, failed = 0;
  double worst = 0.0;
  for (int thread = 0; thread < s.num_threads; ++thread)
    for (int i = 0; i < g.num_rows_per_thread(); ++i) {
      const int row_idx = ThreadMapping{g}.value_row_idx(thread % kWarpSize, i);
      if (row_idx >= s.head_size) continue;
      const double want = expected(thread, row_idx);
      const double error = std::fabs(double(acc_at(thread, i)) - want);
      worst = std::max(worst, error);
      ++checked;
      if (!(error <= tol.atol + tol.rtol * std::fabs(want))) ++failed;
    }
  out.heading("7.6 Checks");
  w.check(std::string(stage_name(Stage::value_accumulation)), failed == 0 && checked > 0,
          "every thread's " + std::to_string(g.num_rows_per_thread()) + " accumulators after the V loop (" +
              std::to_string(checked) + " values) match sums over its own slots and kv_blocks computed from the "
              "reference's rounded probabilities and value_gather; largest error " + general(worst, 3) + ", allowed " +
              general(tol.atol, 3) + " + " + general(tol.rtol, 3) + " * |ref|" +
              (failed ? "; " + std::to_string(failed) + " outside" : std::string()));
}

}  // namespace
}  // namespace pal::walkthrough

int main(int argc, char** argv) {
  using namespace pal::walkthrough;
  ChapterInfo chapter;
  chapter.number = 7;
  chapter.teaches = "The value cache and the V loop: each lane reads 16 bytes of a head-dim row, multiplies them by "
                    "the same tokens' probabilities, and accumulates; padding slots are zeroed first.";
  chapter.scenario = teaching_scenario();
  chapter.focus_seq = 2;
  return run_chapter(argc, argv, chapter, [](Walkthrough& w) {
    show_layout(w);
    show_assignment(w);
    show_one_lane(w);
    show_last_block(w);
    check_accumulators(w);
  });
}
