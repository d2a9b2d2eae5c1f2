// Shared helpers of the visualizer tests: small scenarios and a cached session per scenario, so each
// test file does not re-run the emulator for every test case.
#pragma once

#include <map>
#include <string>

#include "visualizer/model/session.h"
#include "visualizer/model/view_model.h"

namespace pal::viz::test {

// The app's default: 2 sequences (37 and 100 tokens), 4 query heads over 2 kv heads, head_size 64,
// block_size 16, fp16, v1.
inline Scenario default_scenario() { return Scenario{}; }

inline const Session& cached_session(const Scenario& scenario) {
  static std::map<std::string, Session> sessions;
  const std::string key = scenario_summary(scenario) + " " + std::string(version_name(scenario.version));
  auto found = sessions.find(key);
  if (found == sessions.end()) found = sessions.emplace(key, make_session(scenario, Backend::emulator)).first;
  return found->second;
}

}  // namespace pal::viz::test
