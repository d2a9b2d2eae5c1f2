#include "visualizer/model/session.h"

#include <utility>

namespace pal::viz {

namespace {

// Refused before anything runs: every panel reads the v1/v2 kernel's thread_blocks and lanes.
void refuse_grouped(KernelVersion version) {
  if (version == KernelVersion::grouped)
    throw ScenarioError("pal-viz shows the v1/v2 kernel (one thread block per query head, its lanes and "
                        "reductions); it has no panels for the grouped kernel yet. For a grouped run, "
                        "`pal-run --version grouped --record` prints every stage against its reference; here, "
                        "choose --version v1, v2 or auto");
}

}  // namespace

Session::Session(RecordedRun run) : RecordedRun(std::move(run)) {
  refuse_grouped(version());  // e.g. a grouped dump
  (void)recording();  // throws when the run was not recorded: every panel reads the recording
  (void)paged();      // throws for a kernel variant this visualizer does not show
}

Session::Session(RecordedRun run, simt::AccessProfile access_profile) : Session(std::move(run)) {
  access_profile_ = std::move(access_profile);
}

Session make_session(const Scenario& scenario, Backend backend) {
  refuse_grouped(scenario.version);
  RecordedRunOptions options;
  options.backend = backend;
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
