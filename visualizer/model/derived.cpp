#include "visualizer/model/derived.h"

#include <cmath>
#include <limits>

#include "kernels/record_view.h"
#include "kernels/thread_mapping.h"

namespace pal::viz {

std::vector<float> accs_after_v_iteration(const Session& session, int seq_idx, int head_idx, int partition_idx,
                                          int iteration) {
  const KernelGeometry g = session.geometry();
  const RecordDims& d = session.dims();
  std::vector<float> accs(static_cast<std::size_t>(d.num_threads * d.num_rows_per_thread), 0.0f);
  if (iteration < 0) return accs;
  const std::int64_t tb = session.tb_index(seq_idx, head_idx, partition_idx);
  const ThreadBlockRecord record(session.recording(), tb);
  const TokenRange range = session.range(seq_idx, partition_idx);
  const int seq_len = session.seq_len(seq_idx);
  const int num_seq_blocks = divide_round_up(seq_len, g.block_size);
  const int v_vec_size = g.v_vec_size();
  const int num_tokens = range.num_tokens();
  const Tensor& v_cache = session.inputs().value_cache;
  const bool fp8_cache = d.max_dequantized_per_load > 0;
  for (int thread = 0; thread < d.num_threads; ++thread) {
    const int warp = thread / kWarpSize;
    int load_idx = -1;
    for (const LoadRecord& load : record.loads(thread)) {
      ++load_idx;
      if (load.kind != LoadKind::value || load.iteration > iteration) continue;
      const int block_idx = range.start_block_idx + warp + load.iteration * g.num_warps();
      const int block_offset = session.kv_layout().value_coordinates(load.element_offset).block_offset;
      const int token_idx = block_idx * g.block_size + block_offset;
      const bool is_last_block = block_idx == num_seq_blocks - 1;
      float sum = 0.0f;
      for (int e = 0; e < v_vec_size; ++e) {
        const int slot = token_idx - range.start_token_idx + e;
        // Masked slots of the logits buffer hold the 0 the QK loop wrote there.
        const float p = slot < num_tokens ? round_to_dtype(record.prob(slot), session.scenario().dtype) : 0.0f;
        // An fp8 cache: the value is what the load dequantised (code * v_scale in the query dtype),
        // which the recording keeps; the code alone would miss the scale.
        const float v = (is_last_block && token_idx + e >= seq_len) ? 0.0f
                        : fp8_cache                            ? record.dequantized(thread, load_idx, e)
                                                               : v_cache.get_float(load.element_offset + e);
        sum += p * v;
      }
      accs[static_cast<std::size_t>(thread * d.num_rows_per_thread + load.vec_idx)] += sum;
    }
  }
  return accs;
}

std::vector<std::vector<float>> lv_butterfly(const Session& session, std::int64_t tb) {
  const KernelGeometry g = session.geometry();
  const RecordDims& d = session.dims();
  const ThreadBlockRecord record(session.recording(), tb);
  const int rows = d.num_rows_per_thread;
  std::vector<float> state(static_cast<std::size_t>(d.num_threads * rows));
  for (int thread = 0; thread < d.num_threads; ++thread)
    for (int row = 0; row < rows; ++row) state[static_cast<std::size_t>(thread * rows + row)] = record.acc(0, thread, row);
  std::vector<std::vector<float>> states{state};
  for (int mask = g.num_v_vecs_per_row() / 2; mask >= 1; mask /= 2) {
    std::vector<float> next = state;
    for (int thread = 0; thread < d.num_threads; ++thread) {
      const int partner = (thread / kWarpSize) * kWarpSize + ((thread % kWarpSize) ^ mask);
      for (int row = 0; row < rows; ++row)
        next[static_cast<std::size_t>(thread * rows + row)] =
            state[static_cast<std::size_t>(thread * rows + row)] + state[static_cast<std::size_t>(partner * rows + row)];
    }
    state = next;
    states.push_back(state);
  }
  return states;
}

std::vector<float> out_smem_at_tree_level(const Session& session, std::int64_t tb, int level) {
  const KernelGeometry g = session.geometry();
  const RecordDims& d = session.dims();
  const ThreadBlockRecord record(session.recording(), tb);
  const int num_warps = g.num_warps();
  std::vector<float> smem(static_cast<std::size_t>(std::max(num_warps / 2, 1) * g.head_size),
                          std::numeric_limits<float>::quiet_NaN());
  const int active = num_warps >> level;
  if (active < 2) return smem;
  const int mid = active / 2;
  // The writers' values are their accumulators before this level: recorded level 1 + level.
  for (int warp = mid; warp < active; ++warp)
    for (int lane = 0; lane < kWarpSize; ++lane)
      for (int row = 0; row < d.num_rows_per_thread && ThreadMapping{g}.is_row_writer(lane); ++row) {
        const int row_idx = ThreadMapping{g}.value_row_idx(lane, row);
        if (row_idx >= g.head_size) continue;
        smem[static_cast<std::size_t>((warp - mid) * g.head_size + row_idx)] = record.acc(1 + level, warp * kWarpSize + lane, row);
      }
  return smem;
}

}  // namespace pal::viz
