#include "visualizer/model/view_model.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

#include "visualizer/model/grouped.h"
#include "core/cancellation.h"

namespace pal::viz {

void ViewModel::open_scenario(const Scenario& scenario, Backend backend) {
  const auto start = std::chrono::steady_clock::now();
  open_session(make_session(scenario, backend));
  last_build_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

void ViewModel::open_dump(const std::string& path, Backend backend) {
  const auto start = std::chrono::steady_clock::now();
  open_session(session_from_dump(path, backend));
  last_build_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

void ViewModel::open_comparison(const Scenario& scenario, const std::vector<KernelVersion>& versions, Backend backend) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<RecordedRun> runs = run_comparison(scenario, versions, backend);
  ComparisonView view = comparison_view(runs.front(), runs.back());
  open_session(Session(std::move(runs.back())));
  comparison_ = std::move(view);
  last_build_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

void ViewModel::start_background(const Scenario& scenario, Backend backend) {
  if (background_running()) throw ScenarioError("a background run is still running; wait for it before starting another");
  background_started_ = std::chrono::steady_clock::now();
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  background_ = std::async(std::launch::async, [scenario, backend, cancel = cancel_] {
    const ScopedCancellation cancellable(*cancel);  // on the run's own thread, for the run's duration
    return make_session(scenario, backend);
  });
}

void ViewModel::cancel_background() {
  if (background_running() && cancel_) cancel_->store(true);
}

ViewModel::~ViewModel() { cancel_background(); }

double ViewModel::background_seconds() const {
  if (!background_running()) return 0.0;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - background_started_).count();
}

ViewModel::Poll ViewModel::poll_background(std::string& error) {
  if (!background_running()) return Poll::idle;
  if (background_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return Poll::running;
  const double seconds = background_seconds();
  try {
    Session session = background_.get();  // rethrows the run's error; leaves the future empty
    open_session(std::move(session));
    last_build_ms_ = seconds * 1e3;
    return Poll::opened;
  } catch (const RunCancelled& stopped) {
    error = stopped.what();
    return Poll::cancelled;
  } catch (const std::exception& failure) {
    error = failure.what();
    return Poll::failed;
  }
}

void ViewModel::open_session(Session session) {
  // Keep the focus where it was when the new run still has that (seq, head).
  const int seq = std::min(timeline_.seq_idx, session.scenario().num_seqs - 1);
  const int head = std::min(timeline_.head_idx, session.scenario().num_heads - 1);
  session_ = std::make_unique<Session>(std::move(session));
  timeline_.seq_idx = seq;
  timeline_.head_idx = head;
  rebuild_focus();
}

void ViewModel::set_focus(int seq_idx, int head_idx) {
  if (!session_) return;
  Timeline timeline = build_timeline(*session_, seq_idx, head_idx);  // validates the indices first
  timeline_ = std::move(timeline);
  if (session_->is_grouped()) {
    // The grouped kernel's loads are its tiles' cp.async copies; it has no per-lane load index.
    load_index_ = LoadIndex();
    warp_loads_ = grouped_warp_copies(*session_, seq_idx, head_idx);
    return;
  }
  load_index_ = LoadIndex(*session_, seq_idx, head_idx);
  warp_loads_ = pal::viz::warp_loads(*session_, load_index_);
}

void ViewModel::rebuild_focus() { set_focus(timeline_.seq_idx, timeline_.head_idx); }

int ViewModel::clamp_step(int step) const { return std::clamp(step, 0, std::max(0, timeline_.size() - 1)); }

bool ViewModel::reached(int current_step, StepKind kind, int partition_idx, int index) const {
  const int at = timeline_.find(kind, partition_idx, index);
  return at >= 0 && current_step >= at;
}

int ViewModel::partition_of_step(int step_index) const {
  const Step& s = step(step_index);
  if (s.partition_idx >= 0) return s.partition_idx;
  if (session_->is_grouped()) return grouped_active_splits(*session_, timeline_.seq_idx) - 1;
  return session_->num_partitions(timeline_.seq_idx) - 1;
}

std::int64_t ViewModel::tb_of_step(int step_index) const {
  return session_->tb_index(timeline_.seq_idx, timeline_.head_idx, partition_of_step(step_index));
}

}  // namespace pal::viz
