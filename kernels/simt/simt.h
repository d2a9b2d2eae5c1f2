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
//
// Emulator semantics (kernels/simt/emulator.h): every thread of a thread_block is a Boost.Fiber on
// one OS thread, scheduled round-robin, so a run is deterministic; thread_blocks run one after
// another; shared memory is one buffer per thread_block; a shuffle writes each lane's value to a
// per-warp slot, waits on a warp barrier, reads the source lane's slot and waits again.
#pragma once

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

}  // namespace pal::simt

#define PAL_SHARED __shared__

#else  // host compiler: the CPU emulator

#include "kernels/simt/emulator.h"

// One thread_block runs at a time in the process (launch_emulated serialises launches), so a
// function-local static is exactly one shared array per thread_block, seen by all its fibers.
#define PAL_SHARED static

#endif
