// The CPU side of the SIMT layer (see simt.h): CUDA's built-ins for code running as fibers.
//
// Each CUDA thread of a thread_block is a Boost.Fiber on the calling OS thread. Fibers only switch
// inside barriers (sync_threads and the two warp barriers of every shuffle), and the scheduler is
// round-robin, so every run of the same launch interleaves identically: the emulator is
// deterministic. Thread_blocks run one after another in blockIdx order (x fastest).
#pragma once

#include <cmath>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>

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
unsigned char* dynamic_shared_base();

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

// Runs kernel_body() for every thread of every thread_block of `grid`. Dynamic shared memory is
// filled with 0xFF (NaN as floats) before each thread_block, so a read of something not written
// in that block shows. Throws EmulatorError on deadlock or when the body throws. One launch runs
// at a time in a process: a launch from another OS thread waits for the running one to finish.
void launch_emulated(Dim3 grid, int threads_per_block, std::size_t dynamic_shared_bytes,
                     const std::function<void()>& kernel_body);

}  // namespace pal::simt
