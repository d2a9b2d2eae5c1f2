#include "visualizer/model/session.h"

#include <utility>

namespace pal::viz {

Session::Session(RecordedRun run) : RecordedRun(std::move(run)) {
  (void)recording();  // throws when the run was not recorded: every panel reads the recording
  (void)paged();      // throws for a kernel variant this visualizer does not show
}

Session make_session(const Scenario& scenario, Backend backend) {
  RecordedRunOptions options;
  options.backend = backend;
  return Session(RecordedRun::from_scenario(scenario, options));
}

Session session_from_dump(const std::string& path, Backend backend) {
  RecordedRunOptions options;
  options.backend = backend;
  return Session(RecordedRun::from_dump(path, options));
}

}  // namespace pal::viz
