// The SIMT layer: the handful of CUDA built-ins the kernel body uses, mapped to the GPU (when nvcc
// compiles the kernel) or to the CPU emulator (when the host compiler does). The kernel body calls
// only what is declared here, so it has no per-side #if of its own.
//
//   simt::thread_idx()            threadIdx.x
//   simt::block_idx_x/y/z()       blockIdx.{x,y,z}
//   simt::grid_dim_x/z()          gridDim.{x,z}
//   simt::sync_threads()          __syncthreads(): every thread of the thread_block waits here
//   simt::shfl_xor(v, mask)       __shfl_xor_sync(full mask, v, mask): all 32 lanes of the warp call it
//   simt::shfl(v, src_lane)       __shfl_sync(full mask, v, src_lane)
//   simt::fast_exp(x)             __expf: the fast, approximate exponential the kernel uses
//   simt::fast_divide(a, b)       __fdividef
//   simt::accurate_exp(x)         expf (what the v2 reduce kernel uses)
//   simt::dynamic_shared<T>()     the extern __shared__ buffer sized at launch
//   PAL_SHARED                    __shared__ for a static shared array declared in the body
//   -- added for the grouped kernel (sm_80+; the emulator models each one, see emulator.h) --
//   simt::sync_warp()             __syncwarp(): the 32 lanes of the warp wait for each other
//   simt::shfl_xor / shfl         also on 32-bit integers (the bits travel unchanged)
//   simt::cp_async_16(dst, src, n) cp.async.cg.shared.global: copy n <= 16 bytes global -> shared
//                                 asynchronously, zero-filling the rest of the 16-byte destination
//   simt::cp_async_commit()       cp.async.commit_group: close the calling thread's current group
//   simt::cp_async_wait<N>()      cp.async.wait_group N: wait until at most N committed groups of the
//                                 calling thread are in flight (copies of other threads need a barrier)
//   simt::ldmatrix<N, TRANS>(r, row_address)   ldmatrix.sync.aligned.m8n8.xN{.trans}.shared.b16
//   simt::mma_m16n8k16<T>(d, a, b, c)          mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.f32
//   simt::mma_m16n8k8<T>(d, a, b, c)           mma.sync.aligned.m16n8k8.row.col.f32.{f16,bf16}.f32
//                                 (fragment layouts: kernels/simt/fragments.h)
//   simt::launch_dependents()     griddepcontrol.launch_dependents (sm_90; a no-op elsewhere)
//   simt::wait_for_prerequisite_grids()  griddepcontrol.wait: the wait of programmatic dependent launch
//
// Emulator semantics (kernels/simt/emulator.h): every thread of a thread_block is a Boost.Fiber on
// one OS thread, scheduled round-robin, so a run is deterministic; thread_blocks run one after
// another; shared memory is one buffer per thread_block; a shuffle writes each lane's value to a
// per-warp slot, waits on a warp barrier, reads the source lane's slot and waits again.
#pragma once

#include <cstdint>
#include <type_traits>

#include "core/dtype.h"
#include "core/host_device.h"

#if defined(__CUDACC__)

namespace pal::simt {

__device__ __forceinline__ int thread_idx() { return static_cast<int>(threadIdx.x); }
__device__ __forceinline__ int block_idx_x() { return static_cast<int>(blockIdx.x); }
__device__ __forceinline__ int block_idx_y() { return static_cast<int>(blockIdx.y); }
__device__ __forceinline__ int block_idx_z() { return static_cast<int>(blockIdx.z); }
__device__ __forceinline__ int grid_dim_x() { return static_cast<int>(gridDim.x); }
__device__ __forceinline__ int grid_dim_z() { return static_cast<int>(gridDim.z); }
__device__ __forceinline__ void sync_threads() { __syncthreads(); }
__device__ __forceinline__ float shfl_xor(float value, int lane_mask) {
  return __shfl_xor_sync(0xffffffffu, value, lane_mask);
}
__device__ __forceinline__ float shfl(float value, int src_lane) {
  return __shfl_sync(0xffffffffu, value, src_lane);
}
__device__ __forceinline__ float fast_exp(float x) { return __expf(x); }
__device__ __forceinline__ float fast_divide(float a, float b) { return __fdividef(a, b); }
__device__ __forceinline__ float accurate_exp(float x) { return expf(x); }
template <typename T>
__device__ __forceinline__ T* dynamic_shared() {
  extern __shared__ __align__(16) unsigned char pal_dynamic_shared_memory[];
  return reinterpret_cast<T*>(pal_dynamic_shared_memory);
}


// ---- added for the grouped kernel ------------------------------------------------------------------
__device__ __forceinline__ void sync_warp() { __syncwarp(); }
__device__ __forceinline__ std::uint32_t shfl_xor(std::uint32_t value, int lane_mask) {
  return __shfl_xor_sync(0xffffffffu, value, lane_mask);
}
__device__ __forceinline__ std::uint32_t shfl(std::uint32_t value, int src_lane) {
  return __shfl_sync(0xffffffffu, value, src_lane);
}
__device__ __forceinline__ void cp_async_16(void* shared_dst, const void* global_src, int src_bytes) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(shared_dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(global_src), "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
template <int NUM_MATRICES, bool TRANS>
__device__ __forceinline__ void ldmatrix(std::uint32_t (&regs)[NUM_MATRICES], const void* shared_row) {
  static_assert(NUM_MATRICES == 1 || NUM_MATRICES == 2 || NUM_MATRICES == 4, "ldmatrix loads 1, 2 or 4 matrices");
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(shared_row));
  if constexpr (NUM_MATRICES == 1) {
    if constexpr (TRANS)
      asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(regs[0]) : "r"(address));
    else
      asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(regs[0]) : "r"(address));
  } else if constexpr (NUM_MATRICES == 2) {
    if constexpr (TRANS)
      asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
                   : "=r"(regs[0]), "=r"(regs[1]) : "r"(address));
    else
      asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
                   : "=r"(regs[0]), "=r"(regs[1]) : "r"(address));
  } else {
    if constexpr (TRANS)
      asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                   : "=r"(regs[0]), "=r"(regs[1]), "=r"(regs[2]), "=r"(regs[3]) : "r"(address));
    else
      asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                   : "=r"(regs[0]), "=r"(regs[1]), "=r"(regs[2]), "=r"(regs[3]) : "r"(address));
  }
}
template <typename T>
__device__ __forceinline__ void mma_m16n8k16(float (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2],
                                             const float (&c)[4]) {
  static_assert(sizeof(T) == 2, "mma_m16n8k16 takes fp16_t or bf16_t elements");
  if constexpr (std::is_same_v<T, bf16_t>)
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%10, %11, %12, %13};\n"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]),
                   "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
  else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%10, %11, %12, %13};\n"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]),
                   "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}
template <typename T>
__device__ __forceinline__ void mma_m16n8k8(float (&d)[4], const std::uint32_t (&a)[2], const std::uint32_t (&b)[1],
                                            const float (&c)[4]) {
  static_assert(sizeof(T) == 2, "mma_m16n8k8 takes fp16_t or bf16_t elements");
  if constexpr (std::is_same_v<T, bf16_t>)
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5}, {%6}, "
                 "{%7, %8, %9, %10};\n"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(b[0]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
  else
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5}, {%6}, "
                 "{%7, %8, %9, %10};\n"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(b[0]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}
// Programmatic dependent launch (sm_90+): the primary grid lets its dependent start launching; the
// dependent waits here until every prerequisite grid has finished and its memory is visible.
// Both are no-ops when the launch did not ask for programmatic serialisation.
__device__ __forceinline__ void launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void wait_for_prerequisite_grids() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

}  // namespace pal::simt

#define PAL_SHARED __shared__

#else  // host compiler: the CPU emulator

#include "kernels/simt/emulator.h"

// One thread_block runs at a time in the process (launch_emulated serialises launches), so a
// function-local static is exactly one shared array per thread_block, seen by all its fibers.
#define PAL_SHARED static

#endif
