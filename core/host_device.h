// Qualifiers that let one source compile with nvcc (for the GPU) and with the host compiler
// (for the CPU emulator, the reference and the tools). Nothing else in the project spells
// __host__ / __device__ directly.
#pragma once

#if defined(__CUDACC__)
#define PAL_HOST_DEVICE __host__ __device__
#define PAL_DEVICE __device__
#define PAL_FORCE_INLINE __forceinline__
#else
#define PAL_HOST_DEVICE
#define PAL_DEVICE
#define PAL_FORCE_INLINE inline __attribute__((always_inline))
#endif

// True while nvcc compiles device code; the only per-side switch, used inside the SIMT layer.
#if defined(__CUDA_ARCH__)
#define PAL_DEVICE_PASS 1
#else
#define PAL_DEVICE_PASS 0
#endif

// Loop unrolling hint for the GPU compiler; the host compiler decides for itself. Only in nvcc's
// device pass: its host pass hands host-device code to the host compiler, which warns that it
// ignores the pragma.
#if PAL_DEVICE_PASS
#define PAL_UNROLL _Pragma("unroll")
#else
#define PAL_UNROLL
#endif
