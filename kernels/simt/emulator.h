// The CPU side of the SIMT layer (see simt.h): CUDA's built-ins for code running as fibers.
//
// Each CUDA thread of a thread_block is a Boost.Fiber on the calling OS thread. Fibers only switch
// inside barriers (sync_threads and the two warp barriers of every shuffle), and the scheduler is
// round-robin, so every run of the same launch interleaves identically: the emulator is
// deterministic. Thread_blocks run one after another in blockIdx order (x fastest).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <stdexcept>
#include <string>

#include "core/dtype.h"

namespace pal::simt {

struct Dim3 {
  int x = 1;
  int y = 1;
  int z = 1;
};

// A launch that cannot complete: a barrier some threads never reach (a deadlock), or an exception
// thrown by the kernel body. The message says which block, thread and barrier.
class EmulatorError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

// The emulated thread that is running right now on this OS thread (set whenever a fiber resumes).
struct EmulatedThread {
  int thread_idx;
  Dim3 block_idx;
};
struct EmulatedLaunch;
// Plain globals, not thread_local: launches are serialised process-wide (launch_emulated holds a
// mutex), and thread-local storage read from a Boost.Context fiber stack is not reliable under
// AddressSanitizer with Debian's Boost (built without its ASan support), where it read as null.
extern EmulatedThread* current_thread;
extern EmulatedLaunch* current_launch;

const Dim3& grid_dim();
void block_barrier();
float exchange_across_warp(float value, int src_lane_or_mask, bool is_xor);
std::uint32_t exchange_bits_across_warp(std::uint32_t value, int src_lane_or_mask, bool is_xor);
unsigned char* dynamic_shared_base();
void warp_barrier();
void cp_async(void* shared_dst, const void* global_src, int src_bytes);
void cp_async_commit();
void cp_async_wait(int max_pending_groups);
void ldmatrix(std::uint32_t* regs, int num_matrices, bool trans, const void* shared_row);
enum class MmaInput : std::uint8_t { f16, bf16 };
void mma(float* d, const std::uint32_t* a, const std::uint32_t* b, const float* c, int k, MmaInput input);

}  // namespace detail

inline int thread_idx() { return detail::current_thread->thread_idx; }
inline int block_idx_x() { return detail::current_thread->block_idx.x; }
inline int block_idx_y() { return detail::current_thread->block_idx.y; }
inline int block_idx_z() { return detail::current_thread->block_idx.z; }
inline int grid_dim_x() { return detail::grid_dim().x; }
inline int grid_dim_z() { return detail::grid_dim().z; }
inline void sync_threads() { detail::block_barrier(); }
inline float shfl_xor(float value, int lane_mask) {
  return detail::exchange_across_warp(value, lane_mask, true);
}
inline float shfl(float value, int src_lane) {
  return detail::exchange_across_warp(value, src_lane, false);
}
// The GPU's __expf and __fdividef are approximations (a few ulp); the emulator computes the exact
// float functions. This is the one documented numerical difference between the two backends.
inline float fast_exp(float x) { return std::exp(x); }
inline float fast_divide(float a, float b) { return a / b; }
inline float accurate_exp(float x) { return std::exp(x); }
template <typename T>
inline T* dynamic_shared() {
  return reinterpret_cast<T*>(detail::dynamic_shared_base());
}

// ---- the grouped kernel's primitives, emulated (see simt.h for the GPU instructions) ---------------
//
// Warp-collective operations (sync_warp, the integer shuffles, ldmatrix, mma) are built like the
// float shuffles: every lane publishes what it brings to a per-lane slot, waits at its warp's
// barrier, reads the slots it needs, and waits again, so that all 32 lanes must reach the call
// (a diverged call is reported as a deadlock, as on the GPU it would be undefined).
//
// cp.async is asynchronous here too, as far as a reader can tell: issuing a copy snapshots its
// source and writes 0xFF bytes (NaN in every dtype) to the 16-byte destination at once; the data
// lands only when the issuing thread's cp_async_wait covers the copy's group. A read of the
// destination before that wait, or by another thread before the barrier that follows it, sees NaN
// poison (for the threads scheduled before the issuing one reaches its wait; the emulator runs
// fibers round-robin, so thread 0 reads first). Copies still in flight when a thread_block ends are
// dropped. The destination must lie in dynamic shared memory and both addresses must be 16-byte
// aligned; anything else is an EmulatorError naming the address.
//
// ldmatrix reads rows from dynamic shared memory (16-byte aligned, inside the buffer, or an
// EmulatorError). mma multiplies the 16-bit inputs exactly and adds the products and the
// accumulator in double, rounding once to float: the PTX ISA leaves the order and internal
// precision of the hardware's accumulation unspecified, so the GPU may differ in the last bits for
// general inputs; with small integer-valued inputs both are exact (tests/kernels rely on that).
inline void sync_warp() { detail::warp_barrier(); }
inline std::uint32_t shfl_xor(std::uint32_t value, int lane_mask) {
  return detail::exchange_bits_across_warp(value, lane_mask, true);
}
inline std::uint32_t shfl(std::uint32_t value, int src_lane) {
  return detail::exchange_bits_across_warp(value, src_lane, false);
}
inline void cp_async_16(void* shared_dst, const void* global_src, int src_bytes) {
  detail::cp_async(shared_dst, global_src, src_bytes);
}
inline void cp_async_commit() { detail::cp_async_commit(); }
template <int N>
inline void cp_async_wait() {
  static_assert(N >= 0, "cp.async.wait_group takes a count of groups");
  detail::cp_async_wait(N);
}
template <int NUM_MATRICES, bool TRANS>
inline void ldmatrix(std::uint32_t (&regs)[NUM_MATRICES], const void* shared_row) {
  static_assert(NUM_MATRICES == 1 || NUM_MATRICES == 2 || NUM_MATRICES == 4, "ldmatrix loads 1, 2 or 4 matrices");
  detail::ldmatrix(regs, NUM_MATRICES, TRANS, shared_row);
}
template <typename T>
constexpr detail::MmaInput mma_input_of() {
  static_assert(sizeof(T) == 2, "mma takes fp16_t or bf16_t elements");
  return std::is_same_v<T, bf16_t> ? detail::MmaInput::bf16 : detail::MmaInput::f16;
}
template <typename T>
inline void mma_m16n8k16(float (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2], const float (&c)[4]) {
  detail::mma(d, a, b, c, 16, mma_input_of<T>());
}
template <typename T>
inline void mma_m16n8k8(float (&d)[4], const std::uint32_t (&a)[2], const std::uint32_t (&b)[1], const float (&c)[4]) {
  detail::mma(d, a, b, c, 8, mma_input_of<T>());
}
// Launches run one after another in the emulator: a dependent grid always starts after its
// prerequisite finished, so there is nothing to wait for or to signal.
inline void launch_dependents() {}
inline void wait_for_prerequisite_grids() {}

// Runs kernel_body() for every thread of every thread_block of `grid`. Dynamic shared memory is
// filled with 0xFF (NaN as floats) before each thread_block, so a read of something not written
// in that block shows. Throws EmulatorError on deadlock or when the body throws. One launch runs
// at a time in a process: a launch from another OS thread waits for the running one to finish.
void launch_emulated(Dim3 grid, int threads_per_block, std::size_t dynamic_shared_bytes,
                     const std::function<void()>& kernel_body);

}  // namespace pal::simt
