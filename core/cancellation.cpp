#include "core/cancellation.h"

#include <string>

namespace pal {

namespace {
thread_local const std::atomic<bool>* installed_flag = nullptr;
}  // namespace

ScopedCancellation::ScopedCancellation(const std::atomic<bool>& flag) : previous_(installed_flag) {
  installed_flag = &flag;
}

ScopedCancellation::~ScopedCancellation() { installed_flag = previous_; }

const std::atomic<bool>* installed_cancellation() { return installed_flag; }

bool cancellation_requested(const std::atomic<bool>* flag) {
  return flag != nullptr && flag->load(std::memory_order_relaxed);
}

void throw_if_cancelled(const char* where) {
  if (cancellation_requested(installed_flag)) throw RunCancelled(std::string("cancelled ") + where);
}

}  // namespace pal
