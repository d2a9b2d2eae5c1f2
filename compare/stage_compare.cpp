#include "compare/stage_compare.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <map>
#include <cstdio>
#include <limits>
#include <span>
#include <sstream>

#include "compare/stage_checker.h"
#include "kernels/geometry.h"
#include "kernels/record_view.h"
#include "kernels/thread_mapping.h"

namespace pal {

namespace {

std::string coords(int seq, int head, int partition, const char* inner_name, long inner, bool v2) {
  std::ostringstream out;
  out << "(seq " << seq << ", head " << head;
  if (v2) out << ", part " << partition;
  if (inner_name) out << ", " << inner_name << " " << inner;
  out << ")";
  return out.str();
}

// Block sparsity's marker for a skipped kv_block's tokens: exact, and no measure of any logit's size
// (counting it would widen every tolerance of its thread_block to nothing).
bool is_skipped_logit(float logit) { return logit == -FLT_MAX; }

// The kernel geometry of a scenario (to find which thread holds which output row).
KernelGeometry geometry_of(const Scenario& s) {
  return KernelGeometry{dtype_size_bytes(s.dtype), s.head_size, s.block_size, s.num_threads, s.kv_cache_element_size()};
}

float tensor_float(const Tensor& tensor, std::int64_t index) { return tensor.get_float(index); }

}  // namespace

StageTolerance tolerance_for(const ToleranceRule& rule, DType dtype, double value_scale) {
  const double ulp = 2.0 * half_ulp(dtype);
  return {rule.atol_fixed + (rule.atol_dtype_ulps * ulp + rule.atol_value_scale) * value_scale,
          rule.rtol_fixed + rule.rtol_dtype_ulps * ulp, std::string(rule.reason)};
}

StageTolerance stage_tolerance(StageOrCheck subject, DType dtype, double value_scale) {
  return tolerance_for(subject.tolerance(), dtype, value_scale);
}

double value_scale_of(const Scenario& scenario, const Inputs& inputs) {
  // Through the reference's own gather, so the V layout is spelled out in one place.
  double scale = 0.0;
  for (int seq = 0; seq < scenario.num_seqs; ++seq) {
    const int seq_len = inputs.seq_lens.data<int>()[seq];
    for (int token = 0; token < seq_len; ++token)
      for (int kv_head = 0; kv_head < scenario.num_kv_heads; ++kv_head)
        for (float v : value_gather(inputs, seq, kv_head, token))
          if (std::isfinite(v)) scale = std::max(scale, double(std::fabs(v)));
  }
  return scale;
}

bool ComparisonReport::passed() const {
  return std::all_of(stages.begin(), stages.end(), [](const StageComparison& s) { return s.passed(); });
}

const StageComparison* ComparisonReport::find(StageOrCheck subject) const {
  for (const auto& s : stages)
    if (s.subject == subject) return &s;
  return nullptr;
}

std::string ComparisonReport::table() const {
  std::ostringstream out;
  char line[256];
  out << title << "\n";
  std::snprintf(line, sizeof line, "%-18s %9s %10s %10s %6s  %s\n", "stage", "compared", "max abs", "max rel",
                "result", "worst at (kernel vs expected)");
  out << line;
  for (const auto& s : stages) {
    std::snprintf(line, sizeof line, "%-18s %9lld %10.3g %10.3g %6s  %s %.6g vs %.6g\n", s.stage.c_str(),
                  static_cast<long long>(s.num_compared), s.max_abs_error, s.max_rel_error,
                  s.passed() ? "ok" : "FAIL", s.worst_where.c_str(), s.worst_actual, s.worst_expected);
    out << line;
    if (!s.passed()) {
      std::snprintf(line, sizeof line, "%18s %lld of %lld outside |a-b| <= %.3g + %.3g*|b| (%s)\n", "",
                    static_cast<long long>(s.num_failed), static_cast<long long>(s.num_compared), s.tolerance.atol,
                    s.tolerance.rtol, s.tolerance.reason.c_str());
      out << line;
    }
  }
  out << (passed() ? "every stage within tolerance" : "SOME STAGES OUTSIDE TOLERANCE") << "\n";
  return out.str();
}

ComparisonReport compare_with_reference(const KernelRun& run, const ReferenceRun& ref, const Inputs& inputs) {
  const Scenario& s = run.scenario;
  const bool v2 = run.version == KernelVersion::v2;
  if (ref.version != run.version)
    throw ScenarioError("compare_with_reference: the reference was computed for " +
                        std::string(version_name(ref.version)) + " but the kernel ran " +
                        std::string(version_name(run.version)));
  const double value_scale = value_scale_of(s, inputs);
  const DType dtype = s.dtype;
  auto tol = [&](StageOrCheck subject) { return stage_tolerance(subject, dtype, value_scale); };

  ComparisonReport report;
  report.title = std::string(backend_name(run.backend)) + " " + std::string(version_name(run.version)) +
                 " vs reference (" + scenario_summary(s) + ")";

  // Relative uncertainty of each thread block's exponentials, and of each (seq, head)'s result.
  std::vector<double> tb_uncertainty(ref.thread_blocks.size(), 0.0);
  std::vector<double> sh_uncertainty(std::size_t(s.num_seqs) * std::size_t(s.num_heads), 0.0);
  for (std::size_t i = 0; i < ref.thread_blocks.size(); ++i) {
    const ThreadBlockStages& tb = ref.thread_blocks[i];
    if (!tb.active) continue;
    double max_abs = 0.0;
    for (float l : tb.logits)
      if (!is_skipped_logit(l)) max_abs = std::max(max_abs, double(std::fabs(l)));
    tb_uncertainty[i] = logit_uncertainty(max_abs, tb.qk_max);
    double& sh = sh_uncertainty[std::size_t(ref.sh_index(tb.seq_idx, tb.head_idx))];
    sh = std::max(sh, tb_uncertainty[i]);
  }

  // The final output, recorded or not.
  {
    StageChecker c(Check::final_output, "out[seq][head][dim] after the last kernel", tol(Check::final_output));
    for (int seq = 0; seq < s.num_seqs; ++seq)
      for (int head = 0; head < s.num_heads; ++head)
        for (int d = 0; d < s.head_size; ++d) {
          const std::int64_t index = (std::int64_t(seq) * s.num_heads + head) * s.head_size + d;
          const double delta = sh_uncertainty[std::size_t(seq * s.num_heads + head)];
          c.check(tensor_float(run.output, index), ref.output.get_float(index),
                  [&] { return coords(seq, head, 0, "dim", d, false); }, 0.0, delta * value_scale);
        }
    report.stages.push_back(c.take());
  }

  // v2's intermediate tensors, recorded or not: each partition's softmax state and partial output.
  if (v2) {
    StageChecker state(Check::partition_state, "max_logits and exp_sums of every active partition",
                       tol(Check::partition_state));
    StageChecker partial(Check::tmp_out, "tmp_out: each partition's normalised partial output", tol(Check::tmp_out));
    for (const ThreadBlockStages& tb : ref.thread_blocks) {
      if (!tb.active) continue;
      const std::int64_t slot = ref.tb_index(tb.seq_idx, tb.head_idx, tb.partition_idx);
      auto where = [&] { return coords(tb.seq_idx, tb.head_idx, tb.partition_idx, nullptr, 0, true); };
      const double delta = tb_uncertainty[std::size_t(slot)];
      state.check(tensor_float(run.max_logits, slot), tb.qk_max, where);
      state.check(tensor_float(run.exp_sums, slot), tb.exp_sum, where, delta);
      for (int d = 0; d < s.head_size; ++d)
        partial.check(tensor_float(run.tmp_out, slot * s.head_size + d), tb.out[std::size_t(d)],
                      [&] { return coords(tb.seq_idx, tb.head_idx, tb.partition_idx, "dim", d, true); }, 0.0,
                      delta * value_scale);
    }
    report.stages.push_back(state.take());
    report.stages.push_back(partial.take());
  }

  if (!run.recording) return report;
  const Recording& recording = *run.recording;
  const KernelGeometry g = geometry_of(s);
  const ThreadMapping map{g};
  const int num_warps = recording.dims().num_warps;

  StageChecker query(Stage::query_load, "q_vecs in shared memory", tol(Stage::query_load));
  StageChecker logits(Stage::qk_logits, "every token's logit (scaled, ALiBi)", tol(Stage::qk_logits));
  StageChecker maxes(Stage::qk_max, "each warp's max in red_smem and the block max", tol(Stage::qk_max));
  StageChecker sums(Stage::exp_sum, "exp(logit - max) of every token, warp sums, block sum", tol(Stage::exp_sum));
  StageChecker probs(Stage::softmax, "normalised probabilities", tol(Stage::softmax));
  StageChecker lv(Stage::lv_warp_reduction, "each warp's sum of p*v per row after the V loop and the butterfly",
                  tol(Stage::lv_warp_reduction));
  StageChecker tree(Stage::cross_warp_tree, "accumulators after each level of the shared-memory tree",
                    tol(Stage::cross_warp_tree));
  StageChecker out(Stage::output, "what warp 0 wrote for the thread block", tol(Stage::output));
  StageChecker reduce(Stage::partition_reduce, "rescaled exp sums and the global exp sum", tol(Stage::partition_reduce));
  StageChecker dequantized(Check::dequantized_kv, std::string(check_info(Check::dequantized_kv).title),
                           tol(Check::dequantized_kv));

  for (const ThreadBlockStages& tb : ref.thread_blocks) {
    if (!tb.active) continue;
    const std::int64_t t_idx = recording.dims().tb_index(tb.seq_idx, tb.head_idx, tb.partition_idx);
    const ThreadBlockRecord r(recording, t_idx);
    const int seq = tb.seq_idx, head = tb.head_idx, part = tb.partition_idx;
    const double delta = tb_uncertainty[std::size_t(t_idx)];
    const double delta_abs = delta * value_scale;
    auto at = [&](const char* name, long i) { return [=] { return coords(seq, head, part, name, i, v2); }; };

    for (int i = 0; i < s.head_size; ++i)
      query.check(r.q_vec_element(i), tb.q_vecs[std::size_t(i)], at("q_vecs element", i));

    const int num_tokens = tb.num_tokens();
    std::vector<double> warp_max(std::size_t(num_warps), -INFINITY), warp_sum(std::size_t(num_warps), 0.0);
    for (int t = 0; t < num_tokens; ++t) {
      const TokenRecord& token = r.token(t);
      logits.check(token.logit, tb.logits[std::size_t(t)], at("token", tb.range.start_token_idx + t));
      // Which warp found this token in the QK loop, and which thread summed its exp.
      const int qk_warp = map.warp_of_block(t / s.block_size);
      warp_max[std::size_t(qk_warp)] = std::max(warp_max[std::size_t(qk_warp)], double(tb.logits[std::size_t(t)]));
      warp_sum[std::size_t(map.thread_of_token_slot(t) / kWarpSize)] += tb.exp_values[std::size_t(t)];
      sums.check(r.exp_value(t), tb.exp_values[std::size_t(t)],
                 at("token", tb.range.start_token_idx + t), delta);
      probs.check(r.prob(t), tb.probs[std::size_t(t)],
                  at("token", tb.range.start_token_idx + t), delta);
    }
    for (int w = 0; w < num_warps; ++w) {
      // A warp with no kv_block keeps -FLT_MAX; compare only warps that had tokens.
      if (std::isfinite(warp_max[std::size_t(w)]))
        maxes.check(r.red_smem_max(w), warp_max[std::size_t(w)], at("red_smem_max warp", w));
      sums.check(r.red_smem_sum(w), warp_sum[std::size_t(w)], at("red_smem_sum warp", w), delta);
    }
    maxes.check(r.qk_max_block(), tb.qk_max, at("block max", 0));
    sums.check(r.exp_sum_block(), tb.exp_sum, at("block exp_sum", 0), delta);

    // Per-warp partial sums of p*v, the reference way: round p to the dtype, multiply, add. The
    // kv_blocks block sparsity skips are not read by the kernel, whatever their probabilities.
    const BlockSparseMask sparse_mask = block_sparse_mask(inputs.block_sparse, inputs.seq_lens.data<int>()[seq],
                                                          s.num_heads, head, s.num_kv_heads, tb.kv_head_idx);
    std::vector<std::vector<double>> warp_acc(std::size_t(num_warps), std::vector<double>(std::size_t(s.head_size), 0.0));
    for (int t = 0; t < num_tokens; ++t) {
      const int token_idx = tb.range.start_token_idx + t;
      if (!sparse_mask.attends(token_idx / s.block_size, s.block_size)) continue;
      const int w = map.warp_of_block(t / s.block_size);
      const std::vector<float> v = value_gather(inputs, seq, tb.kv_head_idx, token_idx);
      const double p = round_to_dtype(tb.probs[std::size_t(t)], dtype);
      for (int d = 0; d < s.head_size; ++d) warp_acc[std::size_t(w)][std::size_t(d)] += p * double(v[std::size_t(d)]);
    }
    // After the LV butterfly every lane of a row's group holds the row; the row's writer is compared.
    auto acc_at = [&](int level, int thread, int row) { return r.acc(level, thread, row); };
    for (int w = 0; w < num_warps; ++w)
      for (int lane = 0; lane < kWarpSize; ++lane)
        for (int row = 0; row < g.num_rows_per_thread() && map.is_row_writer(lane); ++row) {
          const int row_idx = map.value_row_idx(lane, row);
          if (row_idx >= s.head_size) continue;
          lv.check(acc_at(1, w * kWarpSize + lane, row), warp_acc[std::size_t(w)][std::size_t(row_idx)],
                   [&] { return coords(seq, head, part, "dim", row_idx, v2) + " in warp " + std::to_string(w); },
                   0.0, delta_abs);
        }
    // Tree level k folds `active` warps onto `active/2`: warp w < mid then holds the sum over the
    // original warps w' with w' % mid == w.
    int level = 2;
    for (int active = num_warps; active > 1; active /= 2, ++level) {
      const int mid = active / 2;
      for (int w = 0; w < mid; ++w)
        for (int lane = 0; lane < kWarpSize; ++lane)
          for (int row = 0; row < g.num_rows_per_thread() && map.is_row_writer(lane); ++row) {
            const int row_idx = map.value_row_idx(lane, row);
            if (row_idx >= s.head_size) continue;
            double expected = 0.0;
            for (int src = w; src < num_warps; src += mid) expected += warp_acc[std::size_t(src)][std::size_t(row_idx)];
            tree.check(acc_at(level, w * kWarpSize + lane, row), expected,
                       [&] {
                         return coords(seq, head, part, "dim", row_idx, v2) + " in warp " + std::to_string(w) +
                                " after tree level " + std::to_string(level - 1);
                       },
                       0.0, delta_abs);
          }
    }
    for (int d = 0; d < s.head_size; ++d)
      out.check(r.out(d), tb.out[std::size_t(d)], at("dim", d), 0.0, delta_abs);

    // fp8: every K/V element a lane loaded, after dequantisation, against the reference's own gather
    // of the same (token, dim): the load's element offset is mapped back to its place through the
    // cache layout and the inverse of the block table.
    if (recording.dims().max_dequantized_per_load > 0) {
      const int seq_len = inputs.seq_lens.data<int>()[seq];
      std::map<std::int64_t, int> logical_of_physical;
      for (int logical = 0; logical < divide_round_up(seq_len, s.block_size); ++logical)
        logical_of_physical[inputs.block_tables.data<int>()[std::int64_t(seq) * inputs.block_tables.shape.at(1) + logical]] =
            logical;
      std::map<std::pair<int, int>, std::vector<float>> gathered;  // (kind, token) -> the reference's vector
      auto reference_value = [&](LoadKind kind, int token_idx, int dim_idx) {
        auto [it, inserted] = gathered.try_emplace({int(kind), token_idx});
        if (inserted)
          it->second = kind == LoadKind::key ? key_gather(inputs, seq, tb.kv_head_idx, token_idx)
                                             : value_gather(inputs, seq, tb.kv_head_idx, token_idx);
        return it->second[std::size_t(dim_idx)];
      };
      const KvCacheLayout layout = kv_cache_layout(s);
      for (int thread = 0; thread < s.num_threads; ++thread) {
        const std::span<const LoadRecord> thread_loads = r.loads(thread);
        for (std::size_t l = 0; l < thread_loads.size(); ++l) {
          const LoadRecord& load = thread_loads[l];
          if (load.kind != LoadKind::key && load.kind != LoadKind::value) continue;
          const int width = load.kind == LoadKind::key ? g.vec_size() : g.v_vec_size();
          for (int e = 0; e < width; ++e) {
            const std::int64_t element = load.element_offset + e;
            const KvCacheCoordinates where =
                load.kind == LoadKind::key ? layout.key_coordinates(element) : layout.value_coordinates(element);
            const auto logical = logical_of_physical.find(where.physical_block);
            if (logical == logical_of_physical.end()) continue;  // not a block of this sequence: a defect shows elsewhere
            const int token_idx = logical->second * s.block_size + where.block_offset;
            if (token_idx >= seq_len) continue;  // a slot past the context holds the NaN poison, and is never used
            dequantized.check(r.dequantized(thread, int(l), e), reference_value(load.kind, token_idx, where.dim),
                              [&] {
                                return coords(seq, head, part, "token", token_idx, v2) + " dim " +
                                       std::to_string(where.dim) + (load.kind == LoadKind::key ? " (key)" : " (value)") +
                                       ", thread " + std::to_string(thread);
                              });
          }
        }
      }
    }
  }

  if (v2) {
    for (int seq = 0; seq < s.num_seqs; ++seq)
      for (int head = 0; head < s.num_heads; ++head) {
        const PartitionReduce& red = ref.reduce(seq, head);
        const std::int64_t sh = recording.dims().sh_index(seq, head);
        const ReduceRecord r(recording, sh);
        auto where = [&](const char* name, long i) { return [=] { return coords(seq, head, 0, name, i, false); }; };
        const double delta = sh_uncertainty[std::size_t(sh)];
        reduce.check(r.max_logit(), red.max_logit, where("max_logit", 0));
        for (int p = 0; p < red.num_partitions; ++p)
          reduce.check(r.rescaled_exp_sum(p), red.rescaled_exp_sums[std::size_t(p)], where("rescaled exp_sum of partition", p),
                       delta);
        reduce.check(r.global_exp_sum(), red.global_exp_sum, where("global exp_sum", 0), delta);
      }
  }

  for (StageChecker* c : {&query, &logits, &maxes, &sums, &probs, &lv, &tree, &out}) report.stages.push_back(c->take());
  if (v2) report.stages.push_back(reduce.take());
  if (recording.dims().max_dequantized_per_load > 0) report.stages.push_back(dequantized.take());
  return report;
}

ComparisonReport compare_runs(const KernelRun& actual, const KernelRun& expected, const Inputs& inputs) {
  const Scenario& s = expected.scenario;
  if (actual.version != expected.version)
    throw ScenarioError("compare_runs: one run is " + std::string(version_name(actual.version)) + ", the other " +
                        std::string(version_name(expected.version)));
  if (expected.version == KernelVersion::grouped) return compare_grouped_runs(actual, expected, inputs);
  if (!actual.recording || !expected.recording)
    throw ScenarioError("compare_runs: both runs must be recorded (--record)");
  const bool v2 = expected.version == KernelVersion::v2;
  const double value_scale = value_scale_of(s, inputs);
  auto tol = [&](StageOrCheck subject) { return stage_tolerance(subject, s.dtype, value_scale); };
  const RecordDims& dims = expected.recording->dims();
  if (actual.recording->size_bytes() != expected.recording->size_bytes())
    throw ScenarioError("compare_runs: the two recordings have different layouts");

  ComparisonReport report;
  report.title = std::string(backend_name(actual.backend)) + " vs " + std::string(backend_name(expected.backend)) +
                 " recording, " + std::string(version_name(expected.version)) + " (" + scenario_summary(s) + ")";

  StageChecker who(Check::token_assignment, std::string(check_info(Check::token_assignment).title),
                   tol(Check::token_assignment));
  StageChecker loads(Check::load_addresses, std::string(check_info(Check::load_addresses).title),
                     tol(Check::load_addresses));
  StageChecker query(Stage::query_load, "q_vecs", tol(Stage::query_load));
  StageChecker logits(Stage::qk_logits, "token logits", tol(Stage::qk_logits));
  StageChecker maxes(Stage::qk_max, "every lane's qk_max at every butterfly step, red_smem, block max", tol(Stage::qk_max));
  StageChecker sums(Stage::exp_sum, "exp values and every lane's partial sum at every step", tol(Stage::exp_sum));
  StageChecker probs(Stage::softmax, "probabilities", tol(Stage::softmax));
  StageChecker accs(Stage::cross_warp_tree, "every thread's accumulators at every level", tol(Stage::cross_warp_tree));
  StageChecker out(Stage::output, "what each thread block wrote", tol(Stage::output));
  StageChecker dequantized(Check::dequantized_kv, std::string(check_info(Check::dequantized_kv).title),
                           tol(Check::dequantized_kv));

  const int seqs = dims.num_seqs, heads = dims.num_heads, parts = dims.max_num_partitions;
  std::vector<double> uncertainty_of_seq_head(std::size_t(seqs) * std::size_t(heads), 0.0);
  for (int seq = 0; seq < seqs; ++seq) {
    const int seq_len = inputs.seq_lens.data<int>()[seq];
    for (int head = 0; head < heads; ++head)
      for (int part = 0; part < parts; ++part) {
        const TokenRange range = token_range(seq_len, s.block_size, dims.partition_size, part);
        if (v2 && part * dims.partition_size >= seq_len) continue;
        const std::int64_t t = dims.tb_index(seq, head, part);
        const ThreadBlockRecord a(*actual.recording, t), b(*expected.recording, t);
        auto at = [&](const char* name, long i) { return [=] { return coords(seq, head, part, name, i, v2); }; };
        double max_abs_logit = 0.0;
        for (int k = 0; k < range.num_tokens(); ++k)
          if (!is_skipped_logit(b.token(k).logit))
            max_abs_logit = std::max(max_abs_logit, double(std::fabs(b.token(k).logit)));
        const double delta = logit_uncertainty(max_abs_logit, b.qk_max_block());
        const double delta_abs = delta * value_scale;
        uncertainty_of_seq_head[std::size_t(seq * heads + head)] =
            std::max(uncertainty_of_seq_head[std::size_t(seq * heads + head)], delta);
        for (int i = 0; i < dims.head_size; ++i)
          query.check(a.q_vec_element(i), b.q_vec_element(i), at("q_vecs element", i));
        const int padded = range.num_blocks() * s.block_size;
        for (int k = 0; k < padded; ++k) {
          const TokenRecord& x = a.token(k);
          const TokenRecord& y = b.token(k);
          auto where = at("token", range.start_token_idx + k);
          who.check_exact(x.warp, y.warp, where);
          who.check_exact(x.thread_group, y.thread_group, where);
          who.check_exact(x.lane, y.lane, where);
          who.check_exact(x.iteration, y.iteration, where);
          who.check_exact(x.physical_block, y.physical_block, where);
          who.check_exact(x.block_offset, y.block_offset, where);
          who.check_exact(x.token_idx, y.token_idx, where);
          who.check_exact(x.masked, y.masked, where);
          who.check_exact(x.skipped, y.skipped, where);
          if (!y.masked) logits.check(x.logit, y.logit, where);
          if (k < range.num_tokens()) {
            sums.check(a.exp_value(k), b.exp_value(k), where, delta);
            probs.check(a.prob(k), b.prob(k), where, delta);
          }
        }
        for (int thread = 0; thread < dims.num_threads; ++thread) {
          auto lane_at = at("thread", thread);
          for (int step = 0; step <= dims.num_qk_max_warp_steps; ++step)
            maxes.check(a.qk_max_warp(step, thread), b.qk_max_warp(step, thread), lane_at);
          for (int step = 0; step <= dims.num_cross_warp_steps; ++step) {
            maxes.check(a.qk_max_cross_warp(step, thread), b.qk_max_cross_warp(step, thread), lane_at);
            sums.check(a.exp_sum_cross_warp(step, thread), b.exp_sum_cross_warp(step, thread), lane_at, delta);
          }
          for (int step = 0; step <= dims.num_sum_warp_steps; ++step)
            sums.check(a.exp_sum_warp(step, thread), b.exp_sum_warp(step, thread), lane_at, delta);
          for (int level = 0; level < dims.num_acc_levels; ++level)
            for (int row = 0; row < dims.num_rows_per_thread; ++row)
              accs.check(a.acc(level, thread, row), b.acc(level, thread, row), lane_at, 0.0, delta_abs);
          loads.check_exact(a.load_count(thread), b.load_count(thread), lane_at);
          const std::span<const LoadRecord> a_loads = a.loads(thread), b_loads = b.loads(thread);
          for (std::size_t l = 0; l < b_loads.size() && l < a_loads.size(); ++l) {
            loads.check_exact(a_loads[l].element_offset, b_loads[l].element_offset, lane_at);
            loads.check_exact(a_loads[l].iteration, b_loads[l].iteration, lane_at);
            loads.check_exact(std::int64_t(a_loads[l].kind), std::int64_t(b_loads[l].kind), lane_at);
            loads.check_exact(a_loads[l].vec_idx, b_loads[l].vec_idx, lane_at);
            for (int e = 0; e < dims.max_dequantized_per_load; ++e) {
              const float x = a.dequantized(thread, int(l), e), y = b.dequantized(thread, int(l), e);
              // Lanes write only the elements their load has (VEC_SIZE or V_VEC_SIZE): the rest keep
              // the buffer's NaN start, on both sides alike.
              if (!(std::isnan(x) && std::isnan(y))) dequantized.check(x, y, lane_at);
            }
          }
        }
        for (int w = 0; w < dims.num_warps; ++w) {
          maxes.check(a.red_smem_max(w), b.red_smem_max(w), at("red_smem_max warp", w));
          sums.check(a.red_smem_sum(w), b.red_smem_sum(w), at("red_smem_sum warp", w), delta);
        }
        maxes.check(a.qk_max_block(), b.qk_max_block(), at("block max", 0));
        sums.check(a.exp_sum_block(), b.exp_sum_block(), at("block exp_sum", 0), delta);
        for (int d = 0; d < dims.head_size; ++d) out.check(a.out(d), b.out(d), at("dim", d), 0.0, delta_abs);
      }
  }
  StageChecker final_output(Check::final_output, "out[seq][head][dim]", tol(Check::final_output));
  for (std::int64_t i = 0; i < expected.output.numel(); ++i)
    final_output.check(
        actual.output.get_float(i), expected.output.get_float(i),
        [&] {
          const int d = int(i % s.head_size);
          const int head = int((i / s.head_size) % s.num_heads);
          const int seq = int(i / (std::int64_t(s.head_size) * s.num_heads));
          return coords(seq, head, 0, "dim", d, false);
        },
        0.0, uncertainty_of_seq_head[std::size_t(i / s.head_size)] * value_scale);
  for (StageChecker* c : {&who, &loads, &query, &logits, &maxes, &sums, &probs, &accs, &out, &final_output})
    report.stages.push_back(c->take());
  if (dims.max_dequantized_per_load > 0) report.stages.push_back(dequantized.take());
  return report;
}

}  // namespace pal
