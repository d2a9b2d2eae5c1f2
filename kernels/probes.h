// The probe: a compile-time hook at every stage of the kernel body.
//
// The kernel is a template over its probe. With NoopProbe every hook is an empty inline function
// and the compiler removes it with its arguments: that build is the production kernel. With
// RecordingProbe each hook writes the values of that stage into the debug buffer described in
// kernels/record_schema.h. Each thread holds its own copy of the probe (it is a kernel argument), so
// the per-thread counters live in registers and no atomics are needed: every record has a slot
// that only one thread writes.
#pragma once

#include <cstdint>

#include "core/host_device.h"
#include "core/dtype.h"
#include "kernels/access_site.h"
#include "kernels/recording.h"
#if !defined(__CUDACC__)
#include "kernels/simt/access_profile.h"
#endif

namespace pal {

struct NoopProbe {
  static constexpr bool kRecords = false;
  PAL_DEVICE PAL_FORCE_INLINE void begin(int, int, int, int) {}
  PAL_DEVICE PAL_FORCE_INLINE void finish() {}
  template <typename VecT>
  PAL_DEVICE PAL_FORCE_INLINE void q_vec(int, int, int, const VecT&) {}
  PAL_DEVICE PAL_FORCE_INLINE void load(LoadKind, std::int64_t, int, int) {}
  template <typename VecT>
  PAL_DEVICE PAL_FORCE_INLINE void dequantized(const VecT&) {}
  PAL_DEVICE PAL_FORCE_INLINE void token(int, const TokenRecord&) {}
  PAL_DEVICE PAL_FORCE_INLINE void qk_max_warp(int, float) {}
  PAL_DEVICE PAL_FORCE_INLINE void red_smem_max(const float*, int) {}
  PAL_DEVICE PAL_FORCE_INLINE void qk_max_cross_warp(int, float) {}
  PAL_DEVICE PAL_FORCE_INLINE void qk_max_block(float) {}
  PAL_DEVICE PAL_FORCE_INLINE void exp_value(int, float) {}
  PAL_DEVICE PAL_FORCE_INLINE void exp_sum_warp(int, float) {}
  PAL_DEVICE PAL_FORCE_INLINE void red_smem_sum(const float*, int) {}
  PAL_DEVICE PAL_FORCE_INLINE void exp_sum_cross_warp(int, float) {}
  PAL_DEVICE PAL_FORCE_INLINE void exp_sum_block(float) {}
  PAL_DEVICE PAL_FORCE_INLINE void prob(int, float) {}
  PAL_DEVICE PAL_FORCE_INLINE void acc(int, int, float) {}
  PAL_DEVICE PAL_FORCE_INLINE void out(int, float) {}
  PAL_DEVICE PAL_FORCE_INLINE void partition_state(float, float) {}
  PAL_DEVICE PAL_FORCE_INLINE void reduce_begin(int, int) {}
  PAL_DEVICE PAL_FORCE_INLINE void reduce_max_logit(float) {}
  PAL_DEVICE PAL_FORCE_INLINE void reduce_rescaled_exp_sum(int, float) {}
  PAL_DEVICE PAL_FORCE_INLINE void reduce_global_exp_sum(float) {}
  PAL_DEVICE PAL_FORCE_INLINE void shared_load(const AccessSite&, const void*, int) const {}
  PAL_DEVICE PAL_FORCE_INLINE void shared_store(const AccessSite&, const void*, int) const {}
  PAL_DEVICE PAL_FORCE_INLINE void global_load(const AccessSite&, const void*, const void*, int) const {}
};

// The memory-access hooks of the recording probes (v1/v2's and the grouped kernel's): in the
// emulator each reports to the access profiler (kernels/simt/access_profile.h) when one is
// collecting; on the GPU they are empty. A global load names its tensor's base, so that the profile
// counts sectors from the tensor's start, as the GPU allocator aligns it, not from the host's.
struct AccessProbeHooks {
  PAL_DEVICE PAL_FORCE_INLINE void shared_load(const AccessSite& site, const void* address, int bytes) const {
#if !PAL_DEVICE_PASS && !defined(__CUDACC__)
    simt::detail::note_access(site, simt::MemorySpace::shared, simt::AccessDirection::load,
                              reinterpret_cast<std::uintptr_t>(address), bytes);
#else
    (void)site, (void)address, (void)bytes;
#endif
  }
  PAL_DEVICE PAL_FORCE_INLINE void shared_store(const AccessSite& site, const void* address, int bytes) const {
#if !PAL_DEVICE_PASS && !defined(__CUDACC__)
    simt::detail::note_access(site, simt::MemorySpace::shared, simt::AccessDirection::store,
                              reinterpret_cast<std::uintptr_t>(address), bytes);
#else
    (void)site, (void)address, (void)bytes;
#endif
  }
  PAL_DEVICE PAL_FORCE_INLINE void global_load(const AccessSite& site, const void* tensor, const void* address,
                                               int bytes) const {
#if !PAL_DEVICE_PASS && !defined(__CUDACC__)
    simt::detail::note_access(site, simt::MemorySpace::global, simt::AccessDirection::load,
                              std::uint64_t(static_cast<const unsigned char*>(address) -
                                            static_cast<const unsigned char*>(tensor)),
                              bytes);
#else
    (void)site, (void)tensor, (void)address, (void)bytes;
#endif
  }
};

// Each hook writes one element of a recorded array through the schema's accessor
// (`RecordPointers::<array>_at`), so the index of every record is the array's declared shape.
struct RecordingProbe : AccessProbeHooks {
  static constexpr bool kRecords = true;
  RecordPointers rec;
  std::int64_t tb = 0;      // this thread_block's record index
  std::int64_t sh = 0;      // (seq, head) index for the reduce kernel
  int thread = 0;
  int num_loads = 0;
  bool last_load_kept = false;  // whether the latest load() found room for its record

  PAL_DEVICE void begin(int seq_idx, int head_idx, int partition_idx, int thread_idx) {
    tb = rec.dims.tb_index(seq_idx, head_idx, partition_idx);
    thread = thread_idx;
    num_loads = 0;
  }
  PAL_DEVICE void finish() { rec.load_counts_at(tb, thread) = num_loads; }

  // q_vecs[thread_group_offset][i] as it lands in shared memory, stored in the array's memory order.
  template <typename VecT>
  PAL_DEVICE void q_vec(int thread_group_offset, int i, int num_vecs_per_thread, const VecT& vec) {
    constexpr int kVecSize = int(sizeof(VecT::elem) / sizeof(VecT::elem[0]));
    const int first = (thread_group_offset * num_vecs_per_thread + i) * kVecSize;
    for (int e = 0; e < kVecSize; ++e) rec.q_vecs_at(tb, first + e) = to_float(vec.elem[e]);
  }
  PAL_DEVICE void load(LoadKind kind, std::int64_t element_offset, int iteration, int vec_idx) {
    last_load_kept = num_loads < rec.dims.max_loads_per_thread;
    if (!last_load_kept) return;  // sized as an upper bound; never hit
    LoadRecord& r = rec.loads_at(tb, thread, num_loads);
    r.element_offset = element_offset;
    r.iteration = iteration;
    r.kind = kind;
    r.vec_idx = static_cast<std::int16_t>(vec_idx);
    ++num_loads;
  }
  // The elements the latest K or V load produced from an fp8 cache, dequantised to scalar_t.
  template <typename VecT>
  PAL_DEVICE void dequantized(const VecT& vec) {
    constexpr int kVecSize = int(sizeof(VecT::elem) / sizeof(VecT::elem[0]));
    if (!last_load_kept) return;
    for (int e = 0; e < kVecSize && e < rec.dims.max_dequantized_per_load; ++e)
      rec.dequantized_kv_at(tb, thread, num_loads - 1, e) = to_float(vec.elem[e]);
  }
  PAL_DEVICE void token(int t, const TokenRecord& record) { rec.tokens_at(tb, t) = record; }
  PAL_DEVICE void qk_max_warp(int step, float value) { rec.qk_max_warp_at(tb, step, thread) = value; }
  PAL_DEVICE void red_smem_max(const float* red_smem, int num_warps) {
    if (thread == 0)
      for (int w = 0; w < num_warps; ++w) rec.red_smem_max_at(tb, w) = red_smem[w];
  }
  PAL_DEVICE void qk_max_cross_warp(int step, float value) { rec.qk_max_cross_warp_at(tb, step, thread) = value; }
  PAL_DEVICE void qk_max_block(float value) {
    if (thread == 0) rec.qk_max_block_at(tb) = value;
  }
  PAL_DEVICE void exp_value(int t, float value) { rec.exp_values_at(tb, t) = value; }
  PAL_DEVICE void exp_sum_warp(int step, float value) { rec.exp_sum_warp_at(tb, step, thread) = value; }
  PAL_DEVICE void red_smem_sum(const float* red_smem_sum_half, int num_warps) {
    if (thread == 0)
      for (int w = 0; w < num_warps; ++w) rec.red_smem_sum_at(tb, w) = red_smem_sum_half[w];
  }
  PAL_DEVICE void exp_sum_cross_warp(int step, float value) { rec.exp_sum_cross_warp_at(tb, step, thread) = value; }
  PAL_DEVICE void exp_sum_block(float value) {
    if (thread == 0) rec.exp_sum_block_at(tb) = value;
  }
  PAL_DEVICE void prob(int t, float value) { rec.probs_at(tb, t) = value; }
  PAL_DEVICE void acc(int level, int row, float value) { rec.accs_at(tb, level, thread, row) = value; }
  PAL_DEVICE void out(int dim, float value) { rec.out_at(tb, dim) = value; }
  PAL_DEVICE void partition_state(float max_logit, float exp_sum) {
    if (thread == 0) {
      rec.partition_max_logit_at(tb) = max_logit;
      rec.partition_exp_sum_at(tb) = exp_sum;
    }
  }
  // The reduce kernel: one thread_block per (seq, head).
  PAL_DEVICE void reduce_begin(int seq_idx, int head_idx) { sh = rec.dims.sh_index(seq_idx, head_idx); }
  PAL_DEVICE void reduce_max_logit(float value) { rec.reduce_max_logit_at(sh) = value; }
  PAL_DEVICE void reduce_rescaled_exp_sum(int partition, float value) {
    rec.reduce_rescaled_exp_sums_at(sh, partition) = value;
  }
  PAL_DEVICE void reduce_global_exp_sum(float value) { rec.reduce_global_exp_sum_at(sh) = value; }
};

}  // namespace pal
