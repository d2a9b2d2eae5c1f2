// The CPU emulator of the SIMT model. See emulator.h for the contract.
//
// Barriers are built on boost::this_fiber::yield(): a thread arriving at a barrier counts itself
// in and yields until the barrier's generation changes. Because fibers only ever switch here, a
// waiting fiber that gets the CPU back with no new arrival anywhere knows that every other live
// fiber is also waiting: nothing can release it, so the launch is deadlocked and is aborted with
// an error instead of hanging.
#include "kernels/simt/emulator.h"

#include <boost/context/pooled_fixedsize_stack.hpp>
#include <boost/fiber/all.hpp>

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

namespace pal::simt {
namespace detail {

EmulatedThread* current_thread = nullptr;
EmulatedLaunch* current_launch = nullptr;

namespace {
std::mutex launch_mutex;  // one emulated launch at a time in the process (see emulator.h)
}  // namespace

namespace {
constexpr int kWarpSize = 32;
// Large enough for the kernel's register arrays at head size 256 and for sanitizer builds.
constexpr std::size_t kFiberStackBytes = 256 * 1024;

// Thrown inside fibers to unwind them when the launch is being aborted.
struct AbortLaunch {};
}  // namespace

struct Barrier {
  int expected = 0;
  int arrived = 0;
  long generation = 0;
  const char* name = "";
};

struct EmulatedLaunch {
  Dim3 grid;
  int threads_per_block = 0;
  std::vector<unsigned char> dynamic_shared;
  Barrier block_barrier;
  Barrier between_blocks;              // every thread meets here before the next thread_block
  std::vector<Barrier> warp_barriers;  // one per warp
  std::vector<float> warp_slots;       // one per thread: the value it offers to its warp
  long progress = 0;                   // bumps on every arrival and every thread exit
  bool aborted = false;
  std::string error;
};

const Dim3& grid_dim() { return current_launch->grid; }
unsigned char* dynamic_shared_base() { return current_launch->dynamic_shared.data(); }

namespace {

// Who waits where, for the deadlock message.
std::string describe_waiters(const EmulatedLaunch& launch) {
  std::string text;
  auto add = [&](const Barrier& barrier, const std::string& suffix) {
    if (barrier.arrived == 0) return;
    if (!text.empty()) text += ", ";
    text += std::to_string(barrier.arrived) + " at the " + barrier.name + suffix;
  };
  add(launch.block_barrier, "");
  for (std::size_t w = 0; w < launch.warp_barriers.size(); ++w)
    add(launch.warp_barriers[w], " of warp " + std::to_string(w));
  add(launch.between_blocks, " (threads that finished the block)");
  return text;
}

void abort_launch(EmulatedLaunch& launch, std::string message) {
  if (!launch.aborted) {
    launch.aborted = true;
    launch.error = std::move(message);
  }
  throw AbortLaunch{};
}

void wait_at(Barrier& barrier) {
  EmulatedLaunch& launch = *current_launch;
  EmulatedThread* self = current_thread;
  if (launch.aborted) throw AbortLaunch{};
  const long my_generation = barrier.generation;
  ++launch.progress;
  if (++barrier.arrived == barrier.expected) {  // last one in opens the barrier
    barrier.arrived = 0;
    ++barrier.generation;
    return;
  }
  while (barrier.generation == my_generation) {
    const long progress_before = launch.progress;
    boost::this_fiber::yield();
    current_thread = self;  // another fiber ran in between
    if (launch.aborted) throw AbortLaunch{};
    if (barrier.generation == my_generation && launch.progress == progress_before) {
      abort_launch(launch, "deadlock in thread block (" + std::to_string(self->block_idx.x) + ", " +
                               std::to_string(self->block_idx.y) + ", " +
                               std::to_string(self->block_idx.z) + "): threads wait at barriers " +
                               "that the others never reach (" + describe_waiters(launch) +
                               "); every thread of a block (of a warp, for a shuffle) must reach each "
                               "barrier: is one inside a branch that some threads skip?");
    }
  }
}

}  // namespace

void block_barrier() { wait_at(current_launch->block_barrier); }

float exchange_across_warp(float value, int src_lane_or_mask, bool is_xor) {
  EmulatedLaunch& launch = *current_launch;
  const int thread = current_thread->thread_idx;
  const int warp = thread / kWarpSize;
  const int lane = thread % kWarpSize;
  const int src_lane = (is_xor ? (lane ^ src_lane_or_mask) : src_lane_or_mask) & (kWarpSize - 1);
  Barrier& barrier = launch.warp_barriers[warp];
  launch.warp_slots[thread] = value;
  wait_at(barrier);  // every lane has published its value
  const float received = launch.warp_slots[warp * kWarpSize + src_lane];
  wait_at(barrier);  // every lane has read before anyone publishes again
  return received;
}

}  // namespace detail

void launch_emulated(Dim3 grid, int threads_per_block, std::size_t dynamic_shared_bytes,
                     const std::function<void()>& kernel_body) {
  using detail::EmulatedLaunch;
  using detail::EmulatedThread;
  if (threads_per_block <= 0 || threads_per_block % 32 != 0)
    throw EmulatorError("launch_emulated: threads per block must be a positive multiple of 32, got " +
                        std::to_string(threads_per_block));
  if (grid.x <= 0 || grid.y <= 0 || grid.z <= 0)
    throw EmulatorError("launch_emulated: every grid dimension must be positive");
  const std::lock_guard<std::mutex> one_launch_at_a_time(detail::launch_mutex);

  EmulatedLaunch launch;
  launch.grid = grid;
  launch.threads_per_block = threads_per_block;
  launch.dynamic_shared.assign(std::max<std::size_t>(dynamic_shared_bytes, 16), 0xFF);
  launch.block_barrier = {threads_per_block, 0, 0, "__syncthreads barrier"};
  launch.warp_barriers.assign(static_cast<std::size_t>(threads_per_block / 32),
                              {32, 0, 0, "warp shuffle"});
  launch.warp_slots.assign(static_cast<std::size_t>(threads_per_block), 0.0f);
  std::vector<EmulatedThread> threads(static_cast<std::size_t>(threads_per_block));
  std::exception_ptr body_exception;

  detail::current_launch = &launch;
  struct ResetOnExit {
    ~ResetOnExit() {
      detail::current_launch = nullptr;
      detail::current_thread = nullptr;
    }
  } reset_on_exit;

  // Between two thread_blocks, every thread meets here so that none starts the next block while
  // another still runs the previous one; thread 0 then re-poisons shared memory.
  launch.between_blocks = {threads_per_block, 0, 0, "end of the thread block"};

  boost::context::pooled_fixedsize_stack stacks(detail::kFiberStackBytes);
  std::vector<boost::fibers::fiber> fibers;
  fibers.reserve(threads.size());
  for (int t = 0; t < threads_per_block; ++t) {
    fibers.emplace_back(std::allocator_arg, stacks, [&, t] {
      EmulatedThread& self = threads[static_cast<std::size_t>(t)];
      self.thread_idx = t;
      detail::current_thread = &self;
      try {
        for (int z = 0; z < grid.z; ++z)
          for (int y = 0; y < grid.y; ++y)
            for (int x = 0; x < grid.x; ++x) {
              self.block_idx = {x, y, z};
              kernel_body();
              detail::current_thread = &self;
              detail::wait_at(launch.between_blocks);
              if (t == 0) std::memset(launch.dynamic_shared.data(), 0xFF, launch.dynamic_shared.size());
              detail::wait_at(launch.between_blocks);
            }
      } catch (const detail::AbortLaunch&) {
        // unwinding after another thread reported the error
      } catch (...) {
        if (!body_exception) body_exception = std::current_exception();
        launch.aborted = true;
        if (launch.error.empty()) launch.error = "the kernel body threw in thread " + std::to_string(t);
      }
      ++launch.progress;  // an exit is progress: waiting threads must not mistake it for a deadlock
    });
  }
  for (auto& fiber : fibers) fiber.join();

  if (body_exception) {
    try {
      std::rethrow_exception(body_exception);
    } catch (const std::exception& e) {
      throw EmulatorError(launch.error + ": " + e.what());
    }
  }
  if (launch.aborted) throw EmulatorError(launch.error);
}

}  // namespace pal::simt
