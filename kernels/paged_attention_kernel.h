// The paged-attention decode kernel: one source for the GPU (nvcc) and the CPU emulator (host C++).
//
// One thread_block computes the attention of one query head of one sequence over that sequence's
// context (v1), or over one PARTITION_SIZE-token slice of it (v2, merged afterwards by the reduce
// kernel at the end of this file). The body follows upstream vLLM's design stage by stage; the
// stages are delimited by `//! [name]` markers that the docs quote, and each calls the probe with
// its intermediate values (a no-op in the production build; see kernels/probes.h).
//
// Template arguments, as upstream has them: scalar_t is the query's (and the output's) element type,
// cache_t the cache's (scalar_t for an auto cache, std::uint8_t for fp8), KV_DTYPE what the cache
// stores (core/fp8.h's KvCacheDtype, upstream's Fp8KVCacheDataType) and IS_BLOCK_SPARSE whether the
// block-sparse rule (core/block_sparse.h) is compiled in.
//
// Conventions: shapes in brackets, outermost first; "[begin, end)" ranges are half-open; _idx is a
// position, num_ a count, _offset a position inside a kv_block or vector. All accumulation is fp32.
#pragma once

#include <cfloat>
#include <cstdint>
#include <type_traits>

#include "core/block_sparse.h"
#include "core/dtype.h"
#include "core/fp8.h"
#include "core/kv_cache_layout.h"
#include "core/softmax_state.h"
#include "kernels/access_site.h"
#include "kernels/geometry.h"
#include "kernels/probes.h"
#include "kernels/thread_mapping.h"
#include "kernels/simt/simt.h"
#include "kernels/simt/vec.h"

namespace pal {

// Arguments of the main kernel (v1 and v2). Pointers are device memory on the GPU, host memory in
// the emulator.
template <typename scalar_t, typename cache_t>
struct AttentionArgs {
  float* exp_sums;              // [num_seqs, num_heads, max_num_partitions]   v2 only, else null
  float* max_logits;            // [num_seqs, num_heads, max_num_partitions]   v2 only, else null
  scalar_t* out;                // [num_seqs, num_heads, max_num_partitions, head_size]
  const scalar_t* q;            // [num_seqs, num_heads, head_size]
  const cache_t* k_cache;       // [num_blocks, num_kv_heads, head_size/x, block_size, x]
  const cache_t* v_cache;       // [num_blocks, num_kv_heads, head_size, block_size]
  const int* block_tables;      // [num_seqs, max_num_blocks_per_seq]
  const int* seq_lens;          // [num_seqs]
  const float* alibi_slopes;    // [num_heads] or null
  int num_kv_heads;
  int max_num_blocks_per_seq;
  float scale;
  std::int64_t q_stride;        // elements between two sequences' queries
  std::int64_t kv_block_stride; // elements between two physical kv_blocks (same for K and V)
  std::int64_t kv_head_stride;  // elements between two kv heads inside a kv_block
  // fp8 caches: a cached key is decode(code) * k_scale, a value decode(code) * v_scale. Upstream
  // passes them as device pointers (since PR #11906, so that a captured CUDA graph can change them);
  // this project has no graph capture and passes the values.
  float k_scale;
  float v_scale;
  // The block-sparse arguments are not here but a kernel argument of their own (as upstream passes
  // tp_rank and blocksparse_* as separate arguments): with them in this struct, nvcc stopped
  // unrolling the QK loop of the dense kernels by two (21 instead of 37 key loads in the PTX of
  // fp16/h128/bs16) and their H200 times grew by 17 % (v1) and 32 % (v2) in geometric mean
  // (docs/performance/NOTES.md, run 14).
};

// Arguments of the v2 reduce kernel.
template <typename scalar_t>
struct ReduceArgs {
  scalar_t* out;                // [num_seqs, num_heads, head_size]
  const float* exp_sums;        // [num_seqs, num_heads, max_num_partitions]
  const float* max_logits;      // [num_seqs, num_heads, max_num_partitions]
  const scalar_t* tmp_out;      // [num_seqs, num_heads, max_num_partitions, head_size]
  const int* seq_lens;          // [num_seqs]
  int max_num_partitions;
};

// The derived constants, as compile-time values of one instantiation (see kernels/geometry.h for
// what each counts and why).
template <typename scalar_t, typename cache_t, int HEAD_SIZE, int BLOCK_SIZE, int NUM_THREADS>
struct KernelConstants {
  static constexpr KernelGeometry geometry{int(sizeof(scalar_t)), HEAD_SIZE, BLOCK_SIZE, NUM_THREADS,
                                           int(sizeof(cache_t))};
  static constexpr ThreadMapping mapping{geometry};  // which data each lane owns
  static constexpr int THREAD_GROUP_SIZE = geometry.thread_group_size();
  static constexpr int NUM_THREAD_GROUPS = geometry.num_thread_groups();
  static constexpr int NUM_TOKENS_PER_THREAD_GROUP = geometry.num_tokens_per_thread_group();
  static constexpr int NUM_WARPS = geometry.num_warps();
  static constexpr int VEC_SIZE = geometry.vec_size();
  static constexpr int NUM_VECS_PER_THREAD = geometry.num_vecs_per_thread();
  static constexpr int Q_ROW_VECS = geometry.q_row_vecs();
  static constexpr int X = geometry.x();
  static constexpr int V_VEC_SIZE = geometry.v_vec_size();
  static constexpr int NUM_V_VECS_PER_ROW = geometry.num_v_vecs_per_row();
  static constexpr int NUM_ROWS_PER_ITER = geometry.num_rows_per_iter();
  static constexpr int NUM_ROWS_PER_THREAD = geometry.num_rows_per_thread();

  static_assert(NUM_THREADS % kWarpSize == 0, "a thread_block is made of whole warps");
  static_assert(NUM_THREADS % THREAD_GROUP_SIZE == 0, "thread_groups tile the thread_block");
  static_assert(THREAD_GROUP_SIZE * BLOCK_SIZE == kWarpSize,
                "one warp covers exactly one kv_block: one thread_group per token");
  static_assert(HEAD_SIZE % (THREAD_GROUP_SIZE * VEC_SIZE) == 0,
                "the head splits evenly into the thread_group's vecs");
  // With an auto cache a thread_group's step over a key is exactly one 16-byte x-chunk; with fp8
  // (x = 16 codes, VEC_SIZE still from scalar_t) it is half of one, the next step the other half.
  static_assert(X % (THREAD_GROUP_SIZE * VEC_SIZE) == 0,
                "a thread_group's step over a key stays inside one x-chunk of the K layout");
  static_assert(NUM_V_VECS_PER_ROW <= kWarpSize, "a warp must cover a whole V row of a kv_block");
  static_assert((NUM_WARPS & (NUM_WARPS - 1)) == 0, "the cross-warp tree halves the warps each level");
};

// Sum over the whole thread_block: butterfly inside each warp, one value per warp through
// red_smem, butterfly over those, broadcast. `hooks` sees every step (the probe, or nothing).
template <int NUM_WARPS, typename Hooks>
PAL_DEVICE PAL_FORCE_INLINE float block_sum(float* red_smem, float sum, Hooks hooks) {
  const int warp_idx = simt::thread_idx() / kWarpSize;
  const int lane = simt::thread_idx() % kWarpSize;
  hooks.warp_step(0, sum);
  int step = 1;
  for (int mask = kWarpSize / 2; mask >= 1; mask /= 2, ++step) {
    sum += simt::shfl_xor(sum, mask);
    hooks.warp_step(step, sum);
  }
  if (lane == 0) {
    red_smem[warp_idx] = sum;
    hooks.shared_store(PAL_ACCESS_SITE("exp_sum", "red_smem sum store"), &red_smem[warp_idx], int(sizeof(float)));
  }
  simt::sync_threads();
  hooks.red_smem(red_smem);
  sum = lane < NUM_WARPS ? red_smem[lane] : 0.0f;
  if (lane < NUM_WARPS) hooks.shared_load(PAL_ACCESS_SITE("exp_sum", "red_smem sum read"), &red_smem[lane], int(sizeof(float)));
  hooks.cross_warp_step(0, sum);
  step = 1;
  for (int mask = NUM_WARPS / 2; mask >= 1; mask /= 2, ++step) {
    sum += simt::shfl_xor(sum, mask);
    hooks.cross_warp_step(step, sum);
  }
  return simt::shfl(sum, 0);
}

// What block_sum reports to the probe for the exp_sum stage.
template <typename Probe, int NUM_WARPS>
struct ExpSumHooks {
  Probe* probe;
  PAL_DEVICE PAL_FORCE_INLINE void warp_step(int step, float v) const { probe->exp_sum_warp(step, v); }
  PAL_DEVICE PAL_FORCE_INLINE void red_smem(const float* r) const { probe->red_smem_sum(r, NUM_WARPS); }
  PAL_DEVICE PAL_FORCE_INLINE void cross_warp_step(int step, float v) const { probe->exp_sum_cross_warp(step, v); }
  PAL_DEVICE PAL_FORCE_INLINE void shared_load(const AccessSite& site, const void* a, int n) const { probe->shared_load(site, a, n); }
  PAL_DEVICE PAL_FORCE_INLINE void shared_store(const AccessSite& site, const void* a, int n) const { probe->shared_store(site, a, n); }
};
struct NoHooks {
  PAL_DEVICE PAL_FORCE_INLINE void warp_step(int, float) const {}
  PAL_DEVICE PAL_FORCE_INLINE void red_smem(const float*) const {}
  PAL_DEVICE PAL_FORCE_INLINE void cross_warp_step(int, float) const {}
  PAL_DEVICE PAL_FORCE_INLINE void shared_load(const AccessSite&, const void*, int) const {}
  PAL_DEVICE PAL_FORCE_INLINE void shared_store(const AccessSite&, const void*, int) const {}
};

// Loads N consecutive cached elements with one memory instruction (N * sizeof(cache_t) bytes) and
// returns them in the query's type. An auto cache's elements are returned as loaded. An fp8 cache's
// codes are dequantised here, per element, as upstream does at the load (scaled_convert): code ->
// fp16 (exact) -> fp32, times the tensor's scale, rounded once to scalar_t (core/fp8.h; for fp32
// queries N decides whether the product goes through fp16). The same functions run on the GPU and
// in the emulator, so both backends dequantise bit for bit alike.
// READ_ONLY picks the GPU's read-only data path for the load (see kLoadsReadOnly in the body).
template <typename scalar_t, KvCacheDtype KV_DTYPE, int N, bool READ_ONLY, typename cache_t>
PAL_DEVICE PAL_FORCE_INLINE Vec<scalar_t, N> load_kv_vec(const cache_t* address, float kv_scale) {
  if constexpr (KV_DTYPE == KvCacheDtype::automatic) {
    static_assert(std::is_same_v<cache_t, scalar_t>, "an auto cache stores the query's own type");
    return load_vec_via<Vec<scalar_t, N>, READ_ONLY>(address);
  } else {
    static_assert(std::is_same_v<cache_t, std::uint8_t>, "an fp8 cache stores one-byte codes");
    const Vec<std::uint8_t, N> codes = load_vec_via<Vec<std::uint8_t, N>, READ_ONLY>(address);
    Vec<scalar_t, N> values;
    PAL_UNROLL
    for (int e = 0; e < N; ++e) values.elem[e] = dequantize_fp8<scalar_t>(codes.elem[e], fp8_format_of(KV_DTYPE), kv_scale, N);
    return values;
  }
}

// The dot product of a thread_group's share of q and of one key, completed across the group:
// each lane multiplies its vecs, then a butterfly over the group's lanes adds the lanes' parts,
// so that every lane of the group ends with the full q.k.
template <int THREAD_GROUP_SIZE, int Q_ROW_VECS, int NUM_VECS, typename VecT, typename Probe>
PAL_DEVICE PAL_FORCE_INLINE float thread_group_dot(const VecT (&q_vecs)[Q_ROW_VECS], const VecT (&k_vecs)[NUM_VECS],
                                                   Probe& probe) {
  static_assert(Q_ROW_VECS >= NUM_VECS, "a q row holds the lane's vecs (and its padding)");
  constexpr int kVecSize = int(sizeof(VecT::elem) / sizeof(VecT::elem[0]));
  // One partial sum per vector element: kVecSize independent chains of multiply-adds instead of
  // one long one, so the arithmetic does not serialise on the latency of each FMA.
  float partial[kVecSize];
  PAL_UNROLL
  for (int e = 0; e < kVecSize; ++e) partial[e] = 0.0f;
  PAL_UNROLL
  for (int j = 0; j < NUM_VECS; ++j) {
    // One vector read of q from shared memory per key vector (not one read per element).
    const VecT q = load_vec<VecT>(&q_vecs[j]);
    probe.shared_load(PAL_ACCESS_SITE("qk_logits", "q_vecs read"), &q_vecs[j], int(sizeof(VecT)));
    PAL_UNROLL
    for (int e = 0; e < kVecSize; ++e) partial[e] += to_float(q.elem[e]) * to_float(k_vecs[j].elem[e]);
  }
  float qk = 0.0f;
  PAL_UNROLL
  for (int e = 0; e < kVecSize; ++e) qk += partial[e];
  PAL_UNROLL
  for (int mask = THREAD_GROUP_SIZE / 2; mask >= 1; mask /= 2) qk += simt::shfl_xor(qk, mask);
  return qk;
}

// grid (num_heads, num_seqs, max_num_partitions), NUM_THREADS threads; PARTITION_SIZE 0 = v1.
// Dynamic shared memory: max(tokens of the range, (NUM_WARPS/2) * HEAD_SIZE) floats.
template <typename scalar_t, typename cache_t, int HEAD_SIZE, int BLOCK_SIZE, int NUM_THREADS,
          KvCacheDtype KV_DTYPE, bool IS_BLOCK_SPARSE, int PARTITION_SIZE, typename Probe>
PAL_DEVICE void paged_attention_body(const AttentionArgs<scalar_t, cache_t>& args, const BlockSparseParams& block_sparse,
                                     Probe probe) {
  using C = KernelConstants<scalar_t, cache_t, HEAD_SIZE, BLOCK_SIZE, NUM_THREADS>;
  constexpr int THREAD_GROUP_SIZE = C::THREAD_GROUP_SIZE;
  constexpr int NUM_WARPS = C::NUM_WARPS;
  constexpr int VEC_SIZE = C::VEC_SIZE;
  constexpr int NUM_VECS_PER_THREAD = C::NUM_VECS_PER_THREAD;
  constexpr int X = C::X;
  constexpr int V_VEC_SIZE = C::V_VEC_SIZE;
  constexpr int NUM_V_VECS_PER_ROW = C::NUM_V_VECS_PER_ROW;
  constexpr int NUM_ROWS_PER_THREAD = C::NUM_ROWS_PER_THREAD;
  constexpr bool USE_PARTITIONING = PARTITION_SIZE > 0;
  // v1 reads its inputs (q, seq_lens, block table, K, V) through the GPU's read-only data path, as
  // upstream's `const __restrict__` parameters make nvcc do for both versions; measured on the H200
  // (run 20): v1 3 % faster with it, v2 1.24x slower (ptxas schedules v2's one-row V loop worse), so
  // v2 keeps plain loads. The emulator loads alike either way.
  constexpr bool kLoadsReadOnly = !USE_PARTITIONING;
  const auto load_int = [](const int* address) { return load_vec_via<int, kLoadsReadOnly>(address); };
  constexpr ThreadMapping MAP = C::mapping;
  using QVec = Vec<scalar_t, VEC_SIZE>;  // one thread's share of 16 bytes of q (and of k, once loaded)
  using KVec = QVec;                     // loaded from VEC_SIZE cache elements (fp8: VEC_SIZE bytes)
  using VVec = Vec<scalar_t, V_VEC_SIZE>;  // V_VEC_SIZE consecutive tokens of one V row (16 bytes, fp8: 8)

  //! [prologue]
  const int head_idx = simt::block_idx_x();
  const int seq_idx = simt::block_idx_y();
  const int partition_idx = simt::block_idx_z();
  const int num_heads = simt::grid_dim_x();
  const int max_num_partitions = simt::grid_dim_z();
  const int seq_len = load_int(&args.seq_lens[seq_idx]);
  probe.global_load(PAL_ACCESS_SITE("prologue", "seq_lens read"), args.seq_lens, &args.seq_lens[seq_idx], int(sizeof(int)));
  // A v2 partition that starts past the end of this sequence has nothing to do. Its exp_sums,
  // max_logits and tmp_out slots stay unwritten; the reduce kernel never reads them.
  if (USE_PARTITIONING && partition_idx * PARTITION_SIZE >= seq_len) return;

  const int num_seq_blocks = divide_round_up(seq_len, BLOCK_SIZE);
  const TokenRange range = token_range(seq_len, BLOCK_SIZE, PARTITION_SIZE, partition_idx);

  const int thread_idx = simt::thread_idx();
  const int warp_idx = thread_idx / kWarpSize;
  const int lane = thread_idx % kWarpSize;
  const int thread_group_idx = MAP.thread_group_of(thread_idx);
  const int thread_group_offset = MAP.offset_in_thread_group(thread_idx);

  // GQA/MQA: consecutive query heads share one kv head.
  const int num_queries_per_kv = num_heads / args.num_kv_heads;
  const int kv_head_idx = head_idx / num_queries_per_kv;
  const float alibi_slope = args.alibi_slopes == nullptr ? 0.0f : args.alibi_slopes[head_idx];
  // Block sparsity: which kv_blocks this head attends (core/block_sparse.h), its per-(seq, head)
  // constants computed once here, as upstream's prologue does.
  const BlockSparseMask sparse_mask =
      block_sparse_mask(block_sparse, seq_len, num_heads, head_idx, args.num_kv_heads, kv_head_idx);
  probe.begin(seq_idx, head_idx, partition_idx, thread_idx);
  //! [prologue]

  //! [query_load]
  // The query is read once and shared by every thread_group: lane r of a group owns the q vecs
  // r, r + THREAD_GROUP_SIZE, r + 2 * THREAD_GROUP_SIZE, ... of the head, because those are the
  // positions it will meet in every key it reads.
  const std::int64_t q_offset = std::int64_t(seq_idx) * args.q_stride + std::int64_t(head_idx) * HEAD_SIZE;
  // Rows padded (kernels/geometry.h, q_row_padding_vecs: the rows' reads would collide in banks).
  PAL_SHARED QVec q_vecs[THREAD_GROUP_SIZE][C::Q_ROW_VECS];
  for (int i = thread_group_idx; i < NUM_VECS_PER_THREAD; i += C::NUM_THREAD_GROUPS) {
    const int vec_idx = MAP.vec_idx(thread_group_offset, i);
    const std::int64_t element = q_offset + std::int64_t(vec_idx) * VEC_SIZE;
    q_vecs[thread_group_offset][i] = load_vec_via<QVec, kLoadsReadOnly>(args.q + element);
    probe.global_load(PAL_ACCESS_SITE("query_load", "q load"), args.q, args.q + element, int(sizeof(QVec)));
    probe.shared_store(PAL_ACCESS_SITE("query_load", "q_vecs store"), &q_vecs[thread_group_offset][i], int(sizeof(QVec)));
    probe.load(LoadKind::query, element, i, vec_idx);
    probe.q_vec(thread_group_offset, i, NUM_VECS_PER_THREAD, q_vecs[thread_group_offset][i]);
  }
  simt::sync_threads();  // every q vec is in shared memory before any thread_group uses it
  //! [query_load]

  // Dynamic shared memory: first the logits of this range, later the cross-warp partial outputs.
  float* logits = simt::dynamic_shared<float>();  // [range.num_tokens rounded up to BLOCK_SIZE]
  PAL_SHARED float red_smem[2 * NUM_WARPS];       // [0, NUM_WARPS): max; [NUM_WARPS, 2*NUM_WARPS): sum

  //! [qk_logits]
  // Each warp takes one kv_block per iteration (kv_blocks dealt round-robin over the warps); inside
  // it each thread_group takes one token, and its lanes read that token's key 16 bytes at a time.
  const int* block_table = args.block_tables + std::int64_t(seq_idx) * args.max_num_blocks_per_seq;
  float qk_max = -FLT_MAX;
  int iteration = 0;
  // The block-table entry of each iteration is read one iteration ahead, so that the key loads do
  // not wait for two memory round trips in a row (table, then cache) on every kv_block.
  int next_physical_block = range.start_block_idx + warp_idx < range.end_block_idx
                                ? load_int(&block_table[range.start_block_idx + warp_idx])
                                : 0;
  if (range.start_block_idx + warp_idx < range.end_block_idx)
    probe.global_load(PAL_ACCESS_SITE("qk_logits", "block_table read"), args.block_tables,
                      &block_table[range.start_block_idx + warp_idx], int(sizeof(int)));
  for (int block_idx = range.start_block_idx + warp_idx; block_idx < range.end_block_idx;
       block_idx += NUM_WARPS, ++iteration) {
    // 64-bit from here on: physical_block_number * kv_block_stride overflows int32 on large pools.
    const std::int64_t physical_block_number = next_physical_block;
    if (block_idx + NUM_WARPS < range.end_block_idx) {
      next_physical_block = load_int(&block_table[block_idx + NUM_WARPS]);
      probe.global_load(PAL_ACCESS_SITE("qk_logits", "block_table read ahead"), args.block_tables,
                        &block_table[block_idx + NUM_WARPS], int(sizeof(int)));
    }
    if constexpr (IS_BLOCK_SPARSE) {
      if (!sparse_mask.attends(block_idx, BLOCK_SIZE)) {
        // A kv_block this head does not attend: no key is read. NOTE: -FLT_MAX rather than -inf, as
        // upstream writes it: exp(-FLT_MAX - qk_max) is 0, and a partition that skips every block
        // keeps finite arithmetic (its max stays -FLT_MAX, its exps are exp(0) = 1 but the reduce
        // weighs it by exp(-FLT_MAX - global max) = 0, and the V loop adds nothing from it).
        for (int i = 0; i < C::NUM_TOKENS_PER_THREAD_GROUP; ++i) {
          const int physical_block_offset = MAP.key_block_offset(thread_group_idx, i);
          const int token_idx = block_idx * BLOCK_SIZE + physical_block_offset;
          if (thread_group_offset == 0) {
            logits[token_idx - range.start_token_idx] = -FLT_MAX;
            probe.token(token_idx - range.start_token_idx,
                        TokenRecord{warp_idx, thread_group_idx, lane, iteration, physical_block_number,
                                    physical_block_offset, token_idx, -FLT_MAX, token_idx >= seq_len ? 1 : 0, 1});
          }
        }
        continue;
      }
    }
    for (int i = 0; i < C::NUM_TOKENS_PER_THREAD_GROUP; ++i) {
      const int physical_block_offset = MAP.key_block_offset(thread_group_idx, i);
      const int token_idx = block_idx * BLOCK_SIZE + physical_block_offset;
      // K layout [num_blocks, num_kv_heads, head_size/x, block_size, x]: a token's key is split in
      // x-element chunks, and the chunks of the BLOCK_SIZE tokens are interleaved, so the lanes of
      // a warp reading chunk c of consecutive tokens touch consecutive 16-byte pieces.
      const std::int64_t key_base =
          kv_head_base(physical_block_number, kv_head_idx, args.kv_block_stride, args.kv_head_stride) +
          std::int64_t(key_token_offset(physical_block_offset, X));
      const cache_t* k_ptr = args.k_cache + key_base;  // one 64-bit address; 32-bit offsets below
      KVec k_vecs[NUM_VECS_PER_THREAD];
      PAL_UNROLL
      for (int j = 0; j < NUM_VECS_PER_THREAD; ++j) {
        // Vec j of this lane starts at head dim vec_idx * VEC_SIZE: its x-chunk, and where in it.
        const int offset = key_dim_offset(MAP.vec_idx(thread_group_offset, j) * VEC_SIZE, BLOCK_SIZE, X);
        k_vecs[j] = load_kv_vec<scalar_t, KV_DTYPE, VEC_SIZE, kLoadsReadOnly>(k_ptr + offset, args.k_scale);
        probe.global_load(PAL_ACCESS_SITE("qk_logits", "k_cache load"), args.k_cache, k_ptr + offset,
                          int(VEC_SIZE * sizeof(cache_t)));
        probe.load(LoadKind::key, key_base + offset, iteration, j);
        if constexpr (is_fp8(KV_DTYPE)) {
          probe.dequantized(k_vecs[j]);
        }
      }
      float qk = args.scale * thread_group_dot<THREAD_GROUP_SIZE>(q_vecs[thread_group_offset], k_vecs, probe);
      // ALiBi: a linear penalty on distance to the newest token (0 for the last token).
      if (alibi_slope != 0.0f) qk += alibi_slope * float(token_idx - seq_len + 1);

      if (thread_group_offset == 0) {
        // Slots past seq_len (only in a partial last kv_block) get 0: they are read again as
        // probabilities in the V loop, where they must not be garbage.
        const bool masked = token_idx >= seq_len;
        logits[token_idx - range.start_token_idx] = masked ? 0.0f : qk;
        probe.shared_store(PAL_ACCESS_SITE("qk_logits", "logits store"), &logits[token_idx - range.start_token_idx],
                           int(sizeof(float)));
        qk_max = masked ? qk_max : fmaxf(qk_max, qk);
        probe.token(token_idx - range.start_token_idx,
                    TokenRecord{warp_idx, thread_group_idx, lane, iteration, physical_block_number,
                                physical_block_offset, token_idx, qk, masked ? 1 : 0, 0});
      }
    }
  }
  //! [qk_logits]

  //! [qk_max]
  // Only group leaders hold a real qk_max (the others hold -FLT_MAX), so the in-warp butterfly
  // stops at THREAD_GROUP_SIZE: after it, every leader holds its warp's maximum.
  probe.qk_max_warp(0, qk_max);
  {
    int step = 1;
    PAL_UNROLL
    for (int mask = kWarpSize / 2; mask >= THREAD_GROUP_SIZE; mask /= 2, ++step) {
      qk_max = fmaxf(qk_max, simt::shfl_xor(qk_max, mask));
      probe.qk_max_warp(step, qk_max);
    }
  }
  if (lane == 0) {
    red_smem[warp_idx] = qk_max;
    probe.shared_store(PAL_ACCESS_SITE("qk_max", "red_smem max store"), &red_smem[warp_idx], int(sizeof(float)));
  }
  // This barrier also publishes every logit written above to all threads.
  simt::sync_threads();
  probe.red_smem_max(red_smem, NUM_WARPS);
  qk_max = lane < NUM_WARPS ? red_smem[lane] : -FLT_MAX;
  if (lane < NUM_WARPS) probe.shared_load(PAL_ACCESS_SITE("qk_max", "red_smem max read"), &red_smem[lane], int(sizeof(float)));
  probe.qk_max_cross_warp(0, qk_max);
  {
    int step = 1;
    PAL_UNROLL
    for (int mask = NUM_WARPS / 2; mask >= 1; mask /= 2, ++step) {
      qk_max = fmaxf(qk_max, simt::shfl_xor(qk_max, mask));
      probe.qk_max_cross_warp(step, qk_max);
    }
  }
  qk_max = simt::shfl(qk_max, 0);  // every warp's lane 0 holds the block max: broadcast it
  probe.qk_max_block(qk_max);
  //! [qk_max]

  //! [exp_sum]
  // exp(logit - max) never overflows; the threads stride over the tokens, then sum across the block.
  const int num_tokens = range.num_tokens();
  float exp_sum = 0.0f;
  for (int i = thread_idx; i < num_tokens; i += NUM_THREADS) {
    const float value = simt::fast_exp(logits[i] - qk_max);
    logits[i] = value;
    probe.shared_load(PAL_ACCESS_SITE("exp_sum", "logits read"), &logits[i], int(sizeof(float)));
    probe.shared_store(PAL_ACCESS_SITE("exp_sum", "exp store"), &logits[i], int(sizeof(float)));
    exp_sum += value;
    probe.exp_value(i, value);
  }
  exp_sum = block_sum<NUM_WARPS>(&red_smem[NUM_WARPS], exp_sum, ExpSumHooks<Probe, NUM_WARPS>{&probe});
  probe.exp_sum_block(exp_sum);
  //! [exp_sum]

  //! [softmax]
  // The epsilon guards the division; exp_sum >= 1 (the max contributes exp(0)), so its effect is
  // at most 1e-6 relative.
  const float inv_sum = simt::fast_divide(1.0f, exp_sum + kSoftmaxEpsilon);
  for (int i = thread_idx; i < num_tokens; i += NUM_THREADS) {
    logits[i] *= inv_sum;
    probe.shared_load(PAL_ACCESS_SITE("softmax", "exp read"), &logits[i], int(sizeof(float)));
    probe.shared_store(PAL_ACCESS_SITE("softmax", "probability store"), &logits[i], int(sizeof(float)));
    probe.prob(i, logits[i]);
  }
  simt::sync_threads();  // probabilities are read by other warps in the V loop

  // v2: publish this partition's softmax state; the reduce kernel rescales partitions with it.
  const std::int64_t partition_slot =
      (std::int64_t(seq_idx) * num_heads + head_idx) * max_num_partitions + partition_idx;
  if (USE_PARTITIONING && thread_idx == 0) {
    args.max_logits[partition_slot] = qk_max;
    args.exp_sums[partition_slot] = exp_sum;  // the raw sum, without the epsilon
  }
  probe.partition_state(qk_max, exp_sum);
  //! [softmax]

  //! [value_accumulation]
  // V layout [num_blocks, num_kv_heads, head_size, block_size]: a row (one head dim) of a kv_block
  // holds its BLOCK_SIZE tokens contiguously. Each lane reads 16 bytes = V_VEC_SIZE tokens of a row
  // and keeps NUM_ROWS_PER_THREAD rows' partial sums in registers.
  float accs[NUM_ROWS_PER_THREAD];
  PAL_UNROLL
  for (int i = 0; i < NUM_ROWS_PER_THREAD; ++i) accs[i] = 0.0f;

  iteration = 0;
  next_physical_block = range.start_block_idx + warp_idx < range.end_block_idx
                            ? load_int(&block_table[range.start_block_idx + warp_idx])
                            : 0;
  if (range.start_block_idx + warp_idx < range.end_block_idx)
    probe.global_load(PAL_ACCESS_SITE("value_accumulation", "block_table read"), args.block_tables,
                      &block_table[range.start_block_idx + warp_idx], int(sizeof(int)));
  for (int block_idx = range.start_block_idx + warp_idx; block_idx < range.end_block_idx;
       block_idx += NUM_WARPS, ++iteration) {
    const std::int64_t physical_block_number = next_physical_block;  // read one iteration ahead
    if (block_idx + NUM_WARPS < range.end_block_idx) {
      next_physical_block = load_int(&block_table[block_idx + NUM_WARPS]);
      probe.global_load(PAL_ACCESS_SITE("value_accumulation", "block_table read ahead"), args.block_tables,
                        &block_table[block_idx + NUM_WARPS], int(sizeof(int)));
    }
    // Block sparsity: a kv_block whose keys were skipped is not read here either (its probabilities
    // are 0, or uniform in a partition that skipped everything, and must not weigh its values).
    if constexpr (IS_BLOCK_SPARSE) {
      if (!sparse_mask.attends(block_idx, BLOCK_SIZE)) continue;
    }
    const int physical_block_offset = MAP.value_block_offset(lane);
    const int token_idx = block_idx * BLOCK_SIZE + physical_block_offset;
    // Each probability is rounded to scalar_t, as upstream does before its P.V product; the
    // products and their sums are then computed in fp32 (upstream multiplies in scalar_t).
    const Vec<float, V_VEC_SIZE> logits_vec =
        load_vec<Vec<float, V_VEC_SIZE>>(logits + token_idx - range.start_token_idx);
    probe.shared_load(PAL_ACCESS_SITE("value_accumulation", "probabilities read"), logits + token_idx - range.start_token_idx,
                      int(sizeof(logits_vec)));
    float probs[V_VEC_SIZE];
    PAL_UNROLL
    for (int e = 0; e < V_VEC_SIZE; ++e) probs[e] = round_to<scalar_t>(logits_vec.elem[e]);
    const bool is_last_block = block_idx == num_seq_blocks - 1;
    const std::int64_t value_base =
        kv_head_base(physical_block_number, kv_head_idx, args.kv_block_stride, args.kv_head_stride);
    const cache_t* v_ptr = args.v_cache + value_base;  // one 64-bit address; 32-bit offsets below
    // Rows are loaded in batches of ROWS_PER_LOAD_BATCH, each batch's loads issued before any of
    // them is used. v1 batches all rows: its warps loop over the whole context with few thread
    // blocks per SM, so an iteration's loads must overlap each other. v2 loads a row and uses it:
    // its many short thread blocks overlap one another already, and the registers that a full
    // batch holds cost it more than they save (measured on an H100, docs/performance/NOTES.md).
    constexpr int ROWS_PER_LOAD_BATCH = USE_PARTITIONING ? 1 : NUM_ROWS_PER_THREAD;
    PAL_UNROLL
    for (int first = 0; first < NUM_ROWS_PER_THREAD; first += ROWS_PER_LOAD_BATCH) {
      VVec v_vecs[ROWS_PER_LOAD_BATCH];
      PAL_UNROLL
      for (int b = 0; b < ROWS_PER_LOAD_BATCH; ++b) {
        const int i = first + b;
        const int row_idx = MAP.value_row_idx(lane, i);
        if (row_idx < HEAD_SIZE) {
          const int offset = value_offset_in_kv_head(row_idx, physical_block_offset, BLOCK_SIZE);
          v_vecs[b] = load_kv_vec<scalar_t, KV_DTYPE, V_VEC_SIZE, kLoadsReadOnly>(v_ptr + offset, args.v_scale);
          probe.global_load(PAL_ACCESS_SITE("value_accumulation", "v_cache load"), args.v_cache, v_ptr + offset,
                            int(V_VEC_SIZE * sizeof(cache_t)));
          probe.load(LoadKind::value, value_base + offset, iteration, i);
          if constexpr (is_fp8(KV_DTYPE)) {
            probe.dequantized(v_vecs[b]);
          }
        }
      }
      // Slots past seq_len in the last kv_block may hold anything (NaN included), and 0 * NaN = NaN:
      // such values are replaced by zero, not just weighted by zero. Only the last kv_block has
      // them. v1 (all rows in one batch) makes the choice one branch that all lanes of the warp
      // take alike, after the batch's loads, and sums every other kv_block without a select per
      // element, as upstream branches on the last block: a select per element on every kv_block
      // made ptxas interleave v1's V loads with the arithmetic, three memory round trips per
      // kv_block instead of one (docs/performance/upstream-sass-v1.md). v2 (one row per batch)
      // keeps the select: the two-path form doubled its V loop and made it 1.4x slower on the
      // H200 (run 18). The sums are the same either way.
      const auto weigh_rows = [&](auto in_last_block) {
        PAL_UNROLL
        for (int b = 0; b < ROWS_PER_LOAD_BATCH; ++b) {
          const int i = first + b;
          if (MAP.value_row_idx(lane, i) < HEAD_SIZE) {
            float sum = 0.0f;
            PAL_UNROLL
            for (int e = 0; e < V_VEC_SIZE; ++e) {
              const float v = (in_last_block && token_idx + e >= seq_len) ? 0.0f : to_float(v_vecs[b].elem[e]);
              sum += probs[e] * v;
            }
            accs[i] += sum;
          }
        }
      };
      if constexpr (ROWS_PER_LOAD_BATCH > 1) {
        if (is_last_block) {
          weigh_rows(std::true_type{});
        } else {
          weigh_rows(std::false_type{});
        }
      } else {
        weigh_rows(is_last_block);
      }
    }
  }
  PAL_UNROLL
  for (int i = 0; i < NUM_ROWS_PER_THREAD; ++i) probe.acc(0, i, accs[i]);
  //! [value_accumulation]

  //! [lv_warp_reduction]
  // Lanes that share a row hold different token slices of it: a butterfly over those
  // NUM_V_VECS_PER_ROW lanes adds them up.
  PAL_UNROLL
  for (int i = 0; i < NUM_ROWS_PER_THREAD; ++i) {
    float acc = accs[i];
    PAL_UNROLL
    for (int mask = NUM_V_VECS_PER_ROW / 2; mask >= 1; mask /= 2) acc += simt::shfl_xor(acc, mask);
    accs[i] = acc;
    probe.acc(1, i, acc);
  }
  //! [lv_warp_reduction]

  //! [cross_warp_tree]
  // Each warp now holds the sums over its own kv_blocks. A tree through shared memory folds the
  // upper half of the warps onto the lower half until warp 0 holds the result. The logits buffer
  // is reused, so every thread must be done reading probabilities first.
  simt::sync_threads();
  float* out_smem = simt::dynamic_shared<float>();  // [NUM_WARPS / 2, HEAD_SIZE]
  {
    int level = 2;
    PAL_UNROLL
    for (int active = NUM_WARPS; active > 1; active /= 2, ++level) {
      const int mid = active / 2;
      if (warp_idx >= mid && warp_idx < active) {
        float* dst = &out_smem[(warp_idx - mid) * HEAD_SIZE];
        PAL_UNROLL
        for (int i = 0; i < NUM_ROWS_PER_THREAD; ++i) {
          const int row_idx = MAP.value_row_idx(lane, i);
          if (row_idx < HEAD_SIZE && MAP.is_row_writer(lane)) {
            dst[row_idx] = accs[i];
            probe.shared_store(PAL_ACCESS_SITE("cross_warp_tree", "out_smem store"), &dst[row_idx], int(sizeof(float)));
          }
        }
      }
      simt::sync_threads();
      if (warp_idx < mid) {
        const float* src = &out_smem[warp_idx * HEAD_SIZE];
        PAL_UNROLL
        for (int i = 0; i < NUM_ROWS_PER_THREAD; ++i) {
          const int row_idx = MAP.value_row_idx(lane, i);
          if (row_idx < HEAD_SIZE && MAP.is_row_writer(lane)) {
            accs[i] += src[row_idx];
            probe.shared_load(PAL_ACCESS_SITE("cross_warp_tree", "out_smem read"), &src[row_idx], int(sizeof(float)));
          }
        }
      }
      simt::sync_threads();
      PAL_UNROLL
      for (int i = 0; i < NUM_ROWS_PER_THREAD; ++i) probe.acc(level, i, accs[i]);
    }
  }
  //! [cross_warp_tree]

  //! [output]
  // Warp 0 writes the head's output row (v1), or this partition's normalised partial output (v2).
  if (warp_idx == 0) {
    scalar_t* out_ptr = args.out + partition_slot * HEAD_SIZE;
    PAL_UNROLL
    for (int i = 0; i < NUM_ROWS_PER_THREAD; ++i) {
      const int row_idx = MAP.value_row_idx(lane, i);
      if (row_idx < HEAD_SIZE && MAP.is_row_writer(lane)) {
        const scalar_t value = from_float<scalar_t>(accs[i]);
        out_ptr[row_idx] = value;
        probe.out(row_idx, to_float(value));
      }
    }
  }
  probe.finish();
  //! [output]
}

// v2's second kernel: grid (num_heads, num_seqs), NUM_THREADS threads, dynamic shared memory
// 2 * max_num_partitions floats. Merges the partitions' softmax states and partial outputs.
template <typename scalar_t, int HEAD_SIZE, int NUM_THREADS, int PARTITION_SIZE, typename Probe>
PAL_DEVICE void paged_attention_reduce_body(const ReduceArgs<scalar_t>& args, Probe probe) {
  constexpr int NUM_WARPS = NUM_THREADS / kWarpSize;
  //! [partition_reduce]
  const int head_idx = simt::block_idx_x();
  const int seq_idx = simt::block_idx_y();
  const int num_heads = simt::grid_dim_x();
  const int thread_idx = simt::thread_idx();
  const int warp_idx = thread_idx / kWarpSize;
  const int lane = thread_idx % kWarpSize;
  const int seq_len = args.seq_lens[seq_idx];
  const int num_partitions = divide_round_up(seq_len, PARTITION_SIZE);
  const std::int64_t seq_head = std::int64_t(seq_idx) * num_heads + head_idx;
  probe.reduce_begin(seq_idx, head_idx);

  scalar_t* out_ptr = args.out + seq_head * HEAD_SIZE;
  const scalar_t* tmp_out_ptr = args.tmp_out + seq_head * args.max_num_partitions * HEAD_SIZE;
  if (num_partitions == 1) {
    // A single partition is already the answer (its softmax covered the whole sequence).
    for (int i = thread_idx; i < HEAD_SIZE; i += NUM_THREADS) out_ptr[i] = tmp_out_ptr[i];
    if (thread_idx == 0) {
      probe.reduce_max_logit(args.max_logits[seq_head * args.max_num_partitions]);
      probe.reduce_rescaled_exp_sum(0, args.exp_sums[seq_head * args.max_num_partitions]);
      probe.reduce_global_exp_sum(args.exp_sums[seq_head * args.max_num_partitions]);
    }
    return;
  }

  float* shared_max_logits = simt::dynamic_shared<float>();                 // [num_partitions]
  float* shared_exp_sums = shared_max_logits + args.max_num_partitions;     // [num_partitions]
  PAL_SHARED float red_smem[2 * NUM_WARPS];

  // The global max over the partitions' maxima.
  const float* max_logits_ptr = args.max_logits + seq_head * args.max_num_partitions;
  float max_logit = -FLT_MAX;
  for (int i = thread_idx; i < num_partitions; i += NUM_THREADS) {
    shared_max_logits[i] = max_logits_ptr[i];
    max_logit = fmaxf(max_logit, max_logits_ptr[i]);
  }
  for (int mask = kWarpSize / 2; mask >= 1; mask /= 2) max_logit = fmaxf(max_logit, simt::shfl_xor(max_logit, mask));
  if (lane == 0) red_smem[warp_idx] = max_logit;
  simt::sync_threads();  // also publishes shared_max_logits
  max_logit = lane < NUM_WARPS ? red_smem[lane] : -FLT_MAX;
  for (int mask = NUM_WARPS / 2; mask >= 1; mask /= 2) max_logit = fmaxf(max_logit, simt::shfl_xor(max_logit, mask));
  max_logit = simt::shfl(max_logit, 0);
  if (thread_idx == 0) probe.reduce_max_logit(max_logit);

  // Move every partition's exp_sum onto the global max, and add them up.
  const float* exp_sums_ptr = args.exp_sums + seq_head * args.max_num_partitions;
  float global_exp_sum = 0.0f;
  for (int i = thread_idx; i < num_partitions; i += NUM_THREADS) {
    const SoftmaxState partition{shared_max_logits[i], exp_sums_ptr[i]};
    const float rescaled = partition.rescaled_exp_sum(max_logit);
    shared_exp_sums[i] = rescaled;
    global_exp_sum += rescaled;
    probe.reduce_rescaled_exp_sum(i, rescaled);
  }
  simt::sync_threads();
  global_exp_sum = block_sum<NUM_WARPS>(&red_smem[NUM_WARPS], global_exp_sum, NoHooks{});
  if (thread_idx == 0) probe.reduce_global_exp_sum(global_exp_sum);
  const float inv_global_exp_sum = simt::fast_divide(1.0f, global_exp_sum + kSoftmaxEpsilon);

  // Each partial output was normalised by its own exp_sum; weight it by its share of the total.
  for (int i = thread_idx; i < HEAD_SIZE; i += NUM_THREADS) {
    float acc = 0.0f;
    for (int j = 0; j < num_partitions; ++j)
      acc += SoftmaxState::weighted_output(to_float(tmp_out_ptr[j * HEAD_SIZE + i]), shared_exp_sums[j],
                                           inv_global_exp_sum);
    out_ptr[i] = from_float<scalar_t>(acc);
  }
  //! [partition_reduce]
}

}  // namespace pal
