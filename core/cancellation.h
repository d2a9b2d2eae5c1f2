// Stopping a long run from another thread, cooperatively. The thread that runs the work installs a
// flag for the work's duration (ScopedCancellation); the loops that take long poll it at points
// where stopping leaves nothing half-done (the emulator between two thread_blocks, the run layer
// between its phases, the reference between thread_blocks) and throw RunCancelled. Nothing is
// killed: the work unwinds as from any other exception, its partial results are dropped, and the
// caller keeps whatever it had before (pal-viz keeps the previous run on screen).
//
// The flag belongs to the OS thread that installed it: a run started on another thread does not see
// it. No flag installed: nothing is ever cancelled.
#pragma once

#include <atomic>
#include <stdexcept>

namespace pal {

class RunCancelled : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ScopedCancellation {
 public:
  // `flag` must outlive the scope; setting it (from any thread) asks the work to stop.
  explicit ScopedCancellation(const std::atomic<bool>& flag);
  ~ScopedCancellation();
  ScopedCancellation(const ScopedCancellation&) = delete;
  ScopedCancellation& operator=(const ScopedCancellation&) = delete;

 private:
  const std::atomic<bool>* previous_;
};

// The flag installed on the calling OS thread, or null. Read it once on the thread that started the
// work and keep the pointer: code running on fiber stacks must not read thread-local storage
// (kernels/simt/emulator.h says why).
const std::atomic<bool>* installed_cancellation();
bool cancellation_requested(const std::atomic<bool>* flag);
// Throws RunCancelled saying `where` when the calling thread's flag is set.
void throw_if_cancelled(const char* where);

}  // namespace pal
