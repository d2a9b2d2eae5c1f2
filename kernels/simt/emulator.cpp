// The CPU emulator of the SIMT model. See emulator.h for the contract.
//
// Barriers are built on boost::this_fiber::yield(): a thread arriving at a barrier counts itself
// in and yields until the barrier's generation changes. Because fibers only ever switch here, a
// waiting fiber that gets the CPU back with no new arrival anywhere knows that every other live
// fiber is also waiting: nothing can release it, so the launch is deadlocked and is aborted with
// an error instead of hanging.
#include "kernels/simt/emulator.h"

#include "core/cancellation.h"

#include "kernels/simt/access_profile.h"
#include "kernels/simt/fragments.h"

#include <boost/context/pooled_fixedsize_stack.hpp>
#include <boost/fiber/all.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
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

// One thread's cp.async copies that have been issued but have not landed yet.
struct AsyncCopies {
  struct Copy {
    unsigned char* dst;
    std::array<unsigned char, 16> bytes;  // the source as it was at issue, zero-filled past src_bytes
    long group;                           // the commit group the copy belongs to
  };
  std::vector<Copy> in_flight;  // in issue order
  long num_committed = 0;       // groups closed so far; a copy issued now joins group num_committed
};

// What a lane brings to a warp-collective operation (an address, or an mma's A and B registers).
using LaneWords = std::array<std::uint32_t, 8>;

struct EmulatedLaunch {
  Dim3 grid;
  int threads_per_block = 0;
  std::vector<unsigned char> dynamic_shared;
  Barrier block_barrier;
  Barrier between_blocks;              // every thread meets here before the next thread_block
  std::vector<Barrier> warp_barriers;  // one per warp
  std::vector<float> warp_slots;       // one per thread: the value it offers to its warp
  std::vector<LaneWords> lane_words;   // one per thread: its part of a warp-collective operation
  std::vector<AsyncCopies> async_copies;  // one per thread
  long progress = 0;                   // bumps on every arrival and every thread exit
  bool aborted = false;
  bool cancelled = false;              // the run's cancellation flag was set: stop before the next block
  long num_blocks_done = 0;
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

std::uint32_t exchange_bits_across_warp(std::uint32_t value, int src_lane_or_mask, bool is_xor) {
  EmulatedLaunch& launch = *current_launch;
  const int thread = current_thread->thread_idx;
  const int warp = thread / kWarpSize;
  const int lane = thread % kWarpSize;
  const int src_lane = (is_xor ? (lane ^ src_lane_or_mask) : src_lane_or_mask) & (kWarpSize - 1);
  Barrier& barrier = launch.warp_barriers[warp];
  launch.lane_words[thread][0] = value;
  wait_at(barrier);
  const std::uint32_t received = launch.lane_words[warp * kWarpSize + src_lane][0];
  wait_at(barrier);
  return received;
}

void warp_barrier() {
  EmulatedLaunch& launch = *current_launch;
  wait_at(launch.warp_barriers[current_thread->thread_idx / kWarpSize]);
}

namespace {

std::string describe_address(const void* address) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", address);
  return text;
}

// Throws unless [address, address + bytes) lies in this block's dynamic shared memory.
void check_in_dynamic_shared(const void* address, std::size_t bytes, const char* what) {
  const EmulatedLaunch& launch = *current_launch;
  const auto* begin = launch.dynamic_shared.data();
  const auto* end = begin + launch.dynamic_shared.size();
  const auto* first = static_cast<const unsigned char*>(address);
  if (first < begin || first + bytes > end)
    throw EmulatorError(std::string(what) + ": shared address " + describe_address(address) + " (+" +
                        std::to_string(bytes) + " bytes) is outside the thread_block's dynamic shared memory of " +
                        std::to_string(launch.dynamic_shared.size()) + " bytes, at offset " +
                        std::to_string(first - begin));
}

void check_aligned_16(const void* address, const char* what, const char* which) {
  if (reinterpret_cast<std::uintptr_t>(address) % 16 != 0)
    throw EmulatorError(std::string(what) + ": the " + which + " address " + describe_address(address) +
                        " is not 16-byte aligned");
}

}  // namespace

void cp_async(void* shared_dst, const void* global_src, int src_bytes) {
  constexpr const char* what = "cp.async (16 bytes)";
  if (src_bytes < 0 || src_bytes > 16)
    throw EmulatorError(std::string(what) + ": src-size " + std::to_string(src_bytes) + " is outside [0, 16]");
  check_aligned_16(shared_dst, what, "shared destination");
  check_aligned_16(global_src, what, "global source");
  check_in_dynamic_shared(shared_dst, 16, what);
  AsyncCopies& mine = current_launch->async_copies[current_thread->thread_idx];
  AsyncCopies::Copy copy{static_cast<unsigned char*>(shared_dst), {}, mine.num_committed};
  copy.bytes.fill(0);
  if (src_bytes > 0) std::memcpy(copy.bytes.data(), global_src, static_cast<std::size_t>(src_bytes));
  std::memset(shared_dst, 0xFF, 16);  // poison until a wait lands the copy
  mine.in_flight.push_back(copy);
}

void cp_async_commit() { ++current_launch->async_copies[current_thread->thread_idx].num_committed; }

void cp_async_wait(int max_pending_groups) {
  AsyncCopies& mine = current_launch->async_copies[current_thread->thread_idx];
  // Groups [0, num_committed - max_pending_groups) must be complete; uncommitted copies are not
  // waited for (the PTX ISA waits on committed groups only).
  const long complete_below = mine.num_committed - max_pending_groups;
  auto landed = std::stable_partition(mine.in_flight.begin(), mine.in_flight.end(),
                                      [&](const AsyncCopies::Copy& copy) { return copy.group < complete_below; });
  for (auto it = mine.in_flight.begin(); it != landed; ++it) std::memcpy(it->dst, it->bytes.data(), 16);
  mine.in_flight.erase(mine.in_flight.begin(), landed);
}

void ldmatrix(std::uint32_t* regs, int num_matrices, bool trans, const void* shared_row) {
  EmulatedLaunch& launch = *current_launch;
  const int thread = current_thread->thread_idx;
  const int warp = thread / kWarpSize;
  const int lane = thread % kWarpSize;
  const int num_address_lanes = fragment::kLdmatrixRows * num_matrices;
  if (lane < num_address_lanes) {
    check_aligned_16(shared_row, "ldmatrix", "row");
    check_in_dynamic_shared(shared_row, fragment::kLdmatrixRowBytes, "ldmatrix");
  }
  const auto address = reinterpret_cast<std::uintptr_t>(shared_row);
  launch.lane_words[thread][0] = static_cast<std::uint32_t>(address);
  launch.lane_words[thread][1] = static_cast<std::uint32_t>(static_cast<std::uint64_t>(address) >> 32);
  Barrier& barrier = launch.warp_barriers[warp];
  wait_at(barrier);  // every lane has published its row address
  auto row_of = [&](int matrix, int row) {
    const LaneWords& words = launch.lane_words[warp * kWarpSize + fragment::ldmatrix_address_lane(matrix, row)];
    return reinterpret_cast<const std::uint16_t*>(
        static_cast<std::uintptr_t>((std::uint64_t(words[1]) << 32) | words[0]));
  };
  for (int matrix = 0; matrix < num_matrices; ++matrix) {
    std::uint16_t pair[2];
    for (int j = 0; j < 2; ++j) {
      // Without .trans the lane takes two neighbours of one row; with .trans, of one column.
      const int row = trans ? fragment::ldmatrix_col(lane) + j : fragment::ldmatrix_row(lane);
      const int col = trans ? fragment::ldmatrix_row(lane) : fragment::ldmatrix_col(lane) + j;
      std::memcpy(&pair[j], row_of(matrix, row) + col, sizeof(std::uint16_t));
    }
    regs[matrix] = std::uint32_t(pair[0]) | (std::uint32_t(pair[1]) << 16);
  }
  wait_at(barrier);  // every lane has read before any lane publishes again
}

namespace {

float element_of(std::uint32_t reg, int half, MmaInput input) {
  const auto bits = static_cast<std::uint16_t>(half == 0 ? reg & 0xFFFFu : reg >> 16);
  return input == MmaInput::bf16 ? to_float(bf16_t{bits}) : to_float(fp16_t{bits});
}

}  // namespace

void mma(float* d, const std::uint32_t* a, const std::uint32_t* b, const float* c, int k, MmaInput input) {
  EmulatedLaunch& launch = *current_launch;
  const int thread = current_thread->thread_idx;
  const int warp = thread / kWarpSize;
  const int lane = thread % kWarpSize;
  const int num_a = k == 16 ? fragment::kARegisters : 2;
  const int num_b = k == 16 ? fragment::kBRegisters : 1;
  LaneWords& mine = launch.lane_words[thread];
  for (int r = 0; r < num_a; ++r) mine[std::size_t(r)] = a[r];
  for (int r = 0; r < num_b; ++r) mine[std::size_t(4 + r)] = b[r];
  Barrier& barrier = launch.warp_barriers[warp];
  wait_at(barrier);  // every lane has published its A and B registers
  // Gather this lane's two rows of A and two columns of B from the lanes that hold them.
  auto lane_of = [&](int l) -> const LaneWords& { return launch.lane_words[warp * kWarpSize + l]; };
  double a_rows[2][16] = {};
  double b_cols[2][16] = {};
  for (int l = 0; l < kWarpSize; ++l) {
    for (int r = 0; r < num_a; ++r)
      for (int h = 0; h < 2; ++h) {
        const int row = fragment::a_row(l, r);
        if (row % 8 != fragment::quad(lane)) continue;
        a_rows[row / 8][fragment::a_col(l, r) + h] = element_of(lane_of(l)[std::size_t(r)], h, input);
      }
    for (int r = 0; r < num_b; ++r)
      for (int h = 0; h < 2; ++h) {
        const int col = fragment::b_col(l);
        if (col / 2 != fragment::quad_lane(lane)) continue;
        b_cols[col % 2][fragment::b_row(l, r) + h] = element_of(lane_of(l)[std::size_t(4 + r)], h, input);
      }
  }
  float result[4];
  for (int e = 0; e < fragment::kCElements; ++e) {
    double sum = c[e];
    const int row_half = fragment::c_row(lane, e) / 8;
    const int col_pair = fragment::c_col(lane, e) % 2;
    for (int kk = 0; kk < k; ++kk) sum += a_rows[row_half][kk] * b_cols[col_pair][kk];
    result[e] = static_cast<float>(sum);
  }
  wait_at(barrier);  // every lane has read before any lane publishes again
  for (int e = 0; e < 4; ++e) d[e] = result[e];
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
                              {32, 0, 0, "warp shuffle (or other warp-collective operation)"});
  launch.warp_slots.assign(static_cast<std::size_t>(threads_per_block), 0.0f);
  launch.lane_words.assign(static_cast<std::size_t>(threads_per_block), detail::LaneWords{});
  launch.async_copies.assign(static_cast<std::size_t>(threads_per_block), detail::AsyncCopies{});
  std::vector<EmulatedThread> threads(static_cast<std::size_t>(threads_per_block));
  std::exception_ptr body_exception;

  // A run may be cancelled from another thread (core/cancellation.h). The flag is read here, on the
  // launching OS thread (fibers must not read thread-local storage), and polled by thread 0 between
  // two thread_blocks, where every thread has left one block and none has entered the next.
  const std::atomic<bool>* cancel = installed_cancellation();
  const long num_blocks = long(grid.x) * grid.y * grid.z;
  if (cancellation_requested(cancel)) throw RunCancelled("cancelled before the kernel started");

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
        [&] {
          for (int z = 0; z < grid.z; ++z)
            for (int y = 0; y < grid.y; ++y)
              for (int x = 0; x < grid.x; ++x) {
                self.block_idx = {x, y, z};
                kernel_body();
                detail::current_thread = &self;
                // Copies never waited for do not land in the next thread_block's shared memory.
                launch.async_copies[static_cast<std::size_t>(t)] = detail::AsyncCopies{};
                detail::wait_at(launch.between_blocks);
                if (t == 0) {
                  std::memset(launch.dynamic_shared.data(), 0xFF, launch.dynamic_shared.size());
                  detail::access_profile_block_end();  // every thread is done with the block: fold its accesses
                  ++launch.num_blocks_done;
                  launch.cancelled = launch.num_blocks_done < num_blocks && cancellation_requested(cancel);
                }
                detail::wait_at(launch.between_blocks);
                if (launch.cancelled) return;  // every thread sees the same decision after the barrier
              }
        }();
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
  if (launch.cancelled)
    throw RunCancelled("cancelled after " + std::to_string(launch.num_blocks_done) + " of " +
                       std::to_string(num_blocks) + " thread_blocks of the kernel");
}

}  // namespace pal::simt
