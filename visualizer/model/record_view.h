// Typed read access to one thread_block's slice of a Recording, with the indexing conventions of
// kernels/recording.h written out once (tb, thread, step, level, row), so no panel repeats them.
#pragma once

#include <cstdint>
#include <span>

#include "kernels/recording.h"

namespace pal::viz {

class ThreadBlockRecord {
 public:
  ThreadBlockRecord(const Recording& recording, std::int64_t tb) : p_(recording.ptr()), d_(recording.dims()), tb_(tb) {}

  std::int64_t tb() const { return tb_; }
  const RecordDims& dims() const { return d_; }

  // q_vecs in the shared array's memory order [THREAD_GROUP_SIZE][NUM_VECS_PER_THREAD][VEC_SIZE].
  float q_vec_element(int flat) const { return p_.q_vecs[tb_ * d_.head_size + flat]; }
  const TokenRecord& token(int slot) const { return p_.tokens[tb_ * d_.tokens_per_thread_block + slot]; }
  // step 0 = before the butterfly, step s = after the s-th xor exchange.
  float qk_max_warp(int step, int thread) const {
    return p_.qk_max_warp[(tb_ * (d_.num_qk_max_warp_steps + 1) + step) * d_.num_threads + thread];
  }
  float red_smem_max(int warp) const { return p_.red_smem_max[tb_ * d_.num_warps + warp]; }
  float qk_max_cross_warp(int step, int thread) const {
    return p_.qk_max_cross_warp[(tb_ * (d_.num_cross_warp_steps + 1) + step) * d_.num_threads + thread];
  }
  float qk_max_block() const { return p_.qk_max_block[tb_]; }
  float exp_value(int slot) const { return p_.exp_values[tb_ * d_.tokens_per_thread_block + slot]; }
  float exp_sum_warp(int step, int thread) const {
    return p_.exp_sum_warp[(tb_ * (d_.num_sum_warp_steps + 1) + step) * d_.num_threads + thread];
  }
  float red_smem_sum(int warp) const { return p_.red_smem_sum[tb_ * d_.num_warps + warp]; }
  float exp_sum_cross_warp(int step, int thread) const {
    return p_.exp_sum_cross_warp[(tb_ * (d_.num_cross_warp_steps + 1) + step) * d_.num_threads + thread];
  }
  float exp_sum_block() const { return p_.exp_sum_block[tb_]; }
  float prob(int slot) const { return p_.probs[tb_ * d_.tokens_per_thread_block + slot]; }
  // level 0: after the V loop; 1: after the in-warp LV reduction; 2 + l: after tree level l.
  float acc(int level, int thread, int row) const {
    return p_.accs[((tb_ * d_.num_acc_levels + level) * d_.num_threads + thread) * d_.num_rows_per_thread + row];
  }
  float out(int dim) const { return p_.out[tb_ * d_.head_size + dim]; }
  float partition_max_logit() const { return p_.partition_max_logit[tb_]; }
  float partition_exp_sum() const { return p_.partition_exp_sum[tb_]; }
  std::span<const LoadRecord> loads(int thread) const {
    const std::int64_t slot = tb_ * d_.num_threads + thread;
    const int count = p_.load_counts[slot];
    if (count <= 0) return {};
    return {p_.loads + slot * d_.max_loads_per_thread, static_cast<std::size_t>(count)};
  }

 private:
  const RecordPointers& p_;
  const RecordDims& d_;
  std::int64_t tb_;
};

// The v2 reduce kernel's records for one (seq, head).
class ReduceRecord {
 public:
  ReduceRecord(const Recording& recording, std::int64_t sh) : p_(recording.ptr()), d_(recording.dims()), sh_(sh) {}
  float max_logit() const { return p_.reduce_max_logit[sh_]; }
  float rescaled_exp_sum(int partition) const { return p_.reduce_rescaled_exp_sums[sh_ * d_.max_num_partitions + partition]; }
  float global_exp_sum() const { return p_.reduce_global_exp_sum[sh_]; }

 private:
  const RecordPointers& p_;
  const RecordDims& d_;
  std::int64_t sh_;
};

}  // namespace pal::viz
