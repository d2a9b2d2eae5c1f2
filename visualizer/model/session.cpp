#include "visualizer/model/session.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "kernels/launch.h"
#include "kernels/recording.h"
#include "reference/paged_reference.h"

namespace pal::viz {

Session::Session(RecordedRun run) : RecordedRun(std::move(run)) {
  (void)recording();  // throws when the run was not recorded: every panel reads the recording
  if (!is_grouped()) (void)paged();  // throws for a kernel variant this visualizer does not show
}

SessionMemory session_memory(const Scenario& scenario, Backend backend) {
  validate_scenario(scenario);
  RunOptions options;
  options.backend = backend;
  options.record = true;
  // The budget, not the run layer's recording limit, decides here: plan the layout without it.
  options.max_recording_bytes = std::numeric_limits<std::size_t>::max();
  const RunPlan plan = plan_run(scenario, options);
  SessionMemory memory;
  memory.tensors = static_cast<std::uint64_t>(estimated_buffer_bytes(scenario));
  memory.recording = plan.recording ? plan.recording->total_bytes : 0;
  memory.reference = reference_run_bytes(scenario, plan.version);
  return memory;
}

Session::Session(RecordedRun run, simt::AccessProfile access_profile) : Session(std::move(run)) {
  access_profile_ = std::move(access_profile);
}

Session make_session(const Scenario& scenario, Backend backend) {
  const SessionMemory memory = session_memory(scenario, backend);
  if (memory.total() > kVizMemoryBudgetBytes) {
    const std::uint64_t tokens = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(scenario.num_blocks_needed()) *
                                                                 static_cast<std::uint64_t>(scenario.block_size));
    throw ScenarioError("pal-viz keeps the whole recorded run in memory, and this scenario needs " +
                        describe_memory(memory.total()) + " (recording " + describe_memory(memory.recording) +
                        ", tensors " + describe_memory(memory.tensors) + ", reference stages " +
                        describe_memory(memory.reference) + "), more than its budget of " +
                        describe_memory(kVizMemoryBudgetBytes) + ": about " +
                        describe_memory(memory.total() / tokens) + " per token of context here. Shorten seq_lens "
                        "or use fewer heads (a few thousand tokens show every stage just as well), or run the long "
                        "context with pal-run, which needs no recording");
  }
  RecordedRunOptions options;
  options.backend = backend;
  options.max_recording_bytes = kVizMemoryBudgetBytes;  // the budget above is the limit that applies
  // The emulator reports every lane's shared and global access to it (nothing when the GPU runs).
  simt::AccessProfiler profiler;
  RecordedRun run = RecordedRun::from_scenario(scenario, options);
  return Session(std::move(run), profiler.profile());
}

Session session_from_dump(const std::string& path, Backend backend) {
  RecordedRunOptions options;
  options.backend = backend;
  return Session(RecordedRun::from_dump(path, options));
}

}  // namespace pal::viz
