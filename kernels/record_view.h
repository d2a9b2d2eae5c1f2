// Typed read access to one thread_block's slice of a Recording (and to the v2 reduce kernel's
// records of one (seq, head)), for every reader on the host: compare/, the run layer, the
// visualizer, the walkthroughs. Each accessor reads through the schema's `<array>_at`, so no reader
// spells an index formula of its own.
#pragma once

#include <cstdint>
#include <span>

#include "kernels/recording.h"

namespace pal {

class ThreadBlockRecord {
 public:
  ThreadBlockRecord(const Recording& recording, std::int64_t tb) : p_(recording.ptr()), tb_(tb) {}

  std::int64_t tb() const { return tb_; }
  const RecordDims& dims() const { return p_.dims; }

  // q_vecs in the shared array's memory order [THREAD_GROUP_SIZE][NUM_VECS_PER_THREAD][VEC_SIZE].
  float q_vec_element(int flat) const { return p_.q_vecs_at(tb_, flat); }
  const TokenRecord& token(int slot) const { return p_.tokens_at(tb_, slot); }
  // step 0 = before the butterfly, step s = after the s-th xor exchange.
  float qk_max_warp(int step, int thread) const { return p_.qk_max_warp_at(tb_, step, thread); }
  float red_smem_max(int warp) const { return p_.red_smem_max_at(tb_, warp); }
  float qk_max_cross_warp(int step, int thread) const { return p_.qk_max_cross_warp_at(tb_, step, thread); }
  float qk_max_block() const { return p_.qk_max_block_at(tb_); }
  float exp_value(int slot) const { return p_.exp_values_at(tb_, slot); }
  float exp_sum_warp(int step, int thread) const { return p_.exp_sum_warp_at(tb_, step, thread); }
  float red_smem_sum(int warp) const { return p_.red_smem_sum_at(tb_, warp); }
  float exp_sum_cross_warp(int step, int thread) const { return p_.exp_sum_cross_warp_at(tb_, step, thread); }
  float exp_sum_block() const { return p_.exp_sum_block_at(tb_); }
  float prob(int slot) const { return p_.probs_at(tb_, slot); }
  // level 0: after the V loop; 1: after the in-warp LV reduction; 2 + l: after tree level l.
  float acc(int level, int thread, int row) const { return p_.accs_at(tb_, level, thread, row); }
  float out(int dim) const { return p_.out_at(tb_, dim); }
  float partition_max_logit() const { return p_.partition_max_logit_at(tb_); }
  float partition_exp_sum() const { return p_.partition_exp_sum_at(tb_); }
  int load_count(int thread) const { return p_.load_counts_at(tb_, thread); }
  // The loads one thread issued, in order (at most max_loads_per_thread of them).
  std::span<const LoadRecord> loads(int thread) const {
    const int count = load_count(thread);
    if (count <= 0) return {};
    const int recorded = count < p_.dims.max_loads_per_thread ? count : p_.dims.max_loads_per_thread;
    return {&p_.loads_at(tb_, thread, 0), static_cast<std::size_t>(recorded)};
  }
  // fp8 caches: element `element` of what load number `load` of `thread` produced, dequantised to the
  // query dtype (K loads: VEC_SIZE elements, V loads: V_VEC_SIZE). Only when max_dequantized_per_load > 0.
  float dequantized(int thread, int load, int element) const { return p_.dequantized_kv_at(tb_, thread, load, element); }

 private:
  const RecordPointers& p_;
  std::int64_t tb_;
};

// The v2 reduce kernel's records for one (seq, head).
class ReduceRecord {
 public:
  ReduceRecord(const Recording& recording, std::int64_t sh) : p_(recording.ptr()), sh_(sh) {}
  float max_logit() const { return p_.reduce_max_logit_at(sh_); }
  float rescaled_exp_sum(int partition) const { return p_.reduce_rescaled_exp_sums_at(sh_, partition); }
  float global_exp_sum() const { return p_.reduce_global_exp_sum_at(sh_); }

 private:
  const RecordPointers& p_;
  std::int64_t sh_;
};

}  // namespace pal
