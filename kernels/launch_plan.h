// What a launch needs besides the template arguments: sizes, strides and raw buffer pointers.
// Shared by the emulator backend, the GPU backend and the benchmark (which owns device buffers).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "core/scenario.h"
#include "kernels/paged_attention_kernel.h"

namespace pal {

struct LaunchShape {
  DType dtype = DType::fp16;  // the query's (scalar_t)
  KvCacheDtype kv_cache_dtype = KvCacheDtype::automatic;  // cache_t and KV_DTYPE
  float k_scale = 1.0f;  // fp8 caches only
  float v_scale = 1.0f;
  BlockSparseParams block_sparse;  // IS_BLOCK_SPARSE = block_sparse.enabled()
  KernelVersion version = KernelVersion::v1;  // resolved: v1 or v2
  int num_seqs = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_size = 0;
  int block_size = 0;
  int num_blocks = 0;
  int max_num_blocks_per_seq = 0;
  int max_seq_len = 0;
  int max_num_partitions = 1;  // 1 for v1
  float scale = 1.0f;
  std::int64_t q_stride = 0;         // head_size * num_heads for a contiguous query
  std::int64_t kv_block_stride = 0;  // num_kv_heads * head_size * block_size
  std::int64_t kv_head_stride = 0;   // head_size * block_size

  // Bytes of one cached key/value element (cache_t): the query dtype's, or 1 for an fp8 cache.
  int cache_element_size() const { return is_fp8(kv_cache_dtype) ? 1 : dtype_size_bytes(dtype); }

  // Dynamic shared memory of the main kernel (bytes): the logits of the longest range, or the
  // cross-warp partial outputs, whichever is larger (the two uses never overlap in time).
  std::size_t main_shared_memory_bytes() const;
  // Static shared memory of the main kernel (bytes), the arrays its body declares: q_vecs, one head
  // of q in the query dtype plus 16 bytes of padding per row (KernelGeometry::q_vecs_shared_bytes),
  // and red_smem, 2 floats per warp (each warp's max, then its sum).
  std::size_t main_static_shared_memory_bytes() const;
  // Dynamic + static: what one thread_block of the main kernel occupies, the figure a device's
  // per-block opt-in limit (cudaDevAttrMaxSharedMemoryPerBlockOptin) is checked against.
  std::size_t main_total_shared_memory_bytes() const;
  std::size_t reduce_shared_memory_bytes() const;  // 2 * max_num_partitions floats
};

// Raw buffers (host memory for the emulator, device memory for the GPU).
struct LaunchBuffers {
  void* out = nullptr;             // [num_seqs, num_heads, head_size]
  void* tmp_out = nullptr;         // [num_seqs, num_heads, max_num_partitions, head_size]   v2
  float* exp_sums = nullptr;       // [num_seqs, num_heads, max_num_partitions]              v2
  float* max_logits = nullptr;     // [num_seqs, num_heads, max_num_partitions]              v2
  const void* q = nullptr;
  const void* k_cache = nullptr;   // cache_t elements
  const void* v_cache = nullptr;
  const int* block_tables = nullptr;
  const int* seq_lens = nullptr;
  const float* alibi_slopes = nullptr;  // null when ALiBi is off
};

LaunchShape make_launch_shape(const Scenario& scenario, KernelVersion resolved_version);

template <typename scalar_t, typename cache_t>
AttentionArgs<scalar_t, cache_t> main_kernel_args(const LaunchShape& shape, const LaunchBuffers& buffers) {
  const bool v2 = shape.version == KernelVersion::v2;
  return AttentionArgs<scalar_t, cache_t>{
      v2 ? buffers.exp_sums : nullptr,
      v2 ? buffers.max_logits : nullptr,
      static_cast<scalar_t*>(v2 ? buffers.tmp_out : buffers.out),
      static_cast<const scalar_t*>(buffers.q),
      static_cast<const cache_t*>(buffers.k_cache),
      static_cast<const cache_t*>(buffers.v_cache),
      buffers.block_tables,
      buffers.seq_lens,
      buffers.alibi_slopes,
      shape.num_kv_heads,
      shape.max_num_blocks_per_seq,
      shape.scale,
      shape.q_stride,
      shape.kv_block_stride,
      shape.kv_head_stride,
      shape.k_scale,
      shape.v_scale};
}

template <typename scalar_t>
ReduceArgs<scalar_t> reduce_kernel_args(const LaunchShape& shape, const LaunchBuffers& buffers) {
  return ReduceArgs<scalar_t>{static_cast<scalar_t*>(buffers.out), buffers.exp_sums, buffers.max_logits,
                              static_cast<const scalar_t*>(buffers.tmp_out), buffers.seq_lens,
                              shape.max_num_partitions};
}

// The emulator backend, one instantiation per (scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE,
// IS_BLOCK_SPARSE); `record` null = production (no-op probe). Explicitly instantiated in
// kernels/emulator_instances_*.cpp (auto cache, dense: every configuration) and in the files
// kernels/CMakeLists.txt generates for the fp8 and block-sparse variants (PAL_EMULATOR_INSTANTIATIONS).
template <typename scalar_t, typename cache_t, KvCacheDtype KV_DTYPE, int HEAD_SIZE, int BLOCK_SIZE,
          bool IS_BLOCK_SPARSE>
void emulate_paged_attention(const LaunchShape& shape, const LaunchBuffers& buffers, const RecordPointers* record);

// Whether this build compiled the emulator for the scenario's configuration.
bool emulator_config_compiled(DType dtype, KvCacheDtype kv_cache_dtype, int head_size, int block_size,
                              bool block_sparse);

void emulate_paged_attention_dispatch(const LaunchShape& shape, const LaunchBuffers& buffers,
                                      const RecordPointers* record);

}  // namespace pal
