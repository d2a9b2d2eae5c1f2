// The visualizer's model: one Session, the (seq, head) in focus, that focus's timeline, load index
// and warp-wide loads. Everything the panels draw is read from here; nothing here knows about ImGui,
// so tests and command-line tools drive it directly.
#pragma once

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "visualizer/model/coalescing.h"
#include "visualizer/model/comparison.h"
#include "visualizer/model/memory_lookup.h"
#include "visualizer/model/session.h"
#include "visualizer/model/timeline.h"

namespace pal::viz {

class ViewModel {
 public:
  // Replace the session. On failure (ScenarioError) the previous session, if any, stays.
  void open_scenario(const Scenario& scenario, Backend backend);
  void open_dump(const std::string& path, Backend backend);
  void open_session(Session session);
  // Runs the scenario with each of `versions` (two) on the same inputs, keeps their comparison for
  // the compare panel, and opens the last version's run as the session the other panels show. On
  // failure (ScenarioError) nothing changes.
  void open_comparison(const Scenario& scenario, const std::vector<KernelVersion>& versions, Backend backend);
  const ComparisonView* comparison() const { return comparison_ ? &*comparison_ : nullptr; }
  // Focus another (seq, head); rebuilds the timeline and indexes. Throws ScenarioError when out of range.
  void set_focus(int seq_idx, int head_idx);

  // Runs a scenario off the calling thread, so a window stays live while the kernel and the
  // reference run; poll_background() applies the result once it is there. One run at a time: call
  // it only when !background_running().
  void start_background(const Scenario& scenario, Backend backend);
  bool background_running() const { return background_.valid(); }
  double background_seconds() const;  // since the running background run started
  // Asks the running background run to stop and returns at once: the emulator stops before its next
  // thread_block, the run layer and the reference between their phases (core/cancellation.h). The
  // next poll that finds the run ended answers `cancelled`, and the current session stays. No-op
  // when nothing runs.
  void cancel_background();
  bool background_cancelling() const { return background_running() && cancel_ && cancel_->load(); }
  enum class Poll : unsigned char { idle, running, opened, failed, cancelled };
  // opened: the run's session replaced the current one; failed: `error` says why (the current
  // session stays); cancelled: cancel_background() stopped it (the current session stays; `error`
  // says where it stopped); running / idle: nothing changed.
  Poll poll_background(std::string& error);

  ViewModel() = default;
  ViewModel(const ViewModel&) = delete;
  ViewModel& operator=(const ViewModel&) = delete;
  // A background run still going is cancelled, then waited for (its future's destructor waits).
  ~ViewModel();

  bool ready() const { return session_ != nullptr; }
  const Session& session() const { return *session_; }
  const Timeline& timeline() const { return timeline_; }
  const LoadIndex& load_index() const { return load_index_; }
  const std::vector<WarpLoad>& warp_loads() const { return warp_loads_; }
  int seq_idx() const { return timeline_.seq_idx; }
  int head_idx() const { return timeline_.head_idx; }
  double last_build_ms() const { return last_build_ms_; }  // run + reference + timeline + indexes

  int clamp_step(int step) const;
  const Step& step(int index) const { return timeline_.steps.at(static_cast<std::size_t>(clamp_step(index))); }
  // True once the timeline has passed (or is at) the step (kind, partition, index). False when the
  // timeline has no such step.
  bool reached(int current_step, StepKind kind, int partition_idx, int index) const;
  // The partition (grouped: split) whose thread_block a step shows: the step's own, or for a step of
  // the second kernel (reduce, split_merge) the last one.
  int partition_of_step(int step) const;
  std::int64_t tb_of_step(int step) const;  // v1/v2 only

 private:
  void rebuild_focus();
  std::unique_ptr<Session> session_;
  std::optional<ComparisonView> comparison_;
  std::future<Session> background_;
  std::shared_ptr<std::atomic<bool>> cancel_;  // the running background run's flag (shared with its thread)
  std::chrono::steady_clock::time_point background_started_;
  Timeline timeline_;
  LoadIndex load_index_;
  std::vector<WarpLoad> warp_loads_;
  double last_build_ms_ = 0.0;
};

}  // namespace pal::viz
