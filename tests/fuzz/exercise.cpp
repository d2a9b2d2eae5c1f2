// The fuzz targets' work (see exercise.h).
#include "exercise.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include <nlohmann/json.hpp>

#include "core/inputs.h"
#include "core/safetensors.h"
#include "core/scenario.h"
#include "core/untrusted_json.h"

namespace pal::fuzz {

namespace {

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what.c_str());
  std::abort();
}

// Scenarios whose inputs are this small are generated and checked in full; larger ones only
// validated (generation time grows with the cache, and the fuzzer should stay fast).
constexpr std::int64_t kMaxGeneratedBytes = 64 << 10;

template <typename Body>
void expecting_only_scenario_errors(const char* reader, Body&& body) {
  try {
    body();
  } catch (const ScenarioError&) {
    // The clear refusal every bad input should get.
  } catch (const std::exception& error) {
    finding(std::string(reader) + " threw something other than ScenarioError: " + error.what());
  }
}

}  // namespace

void exercise_safetensors(std::string_view bytes) {
  expecting_only_scenario_errors("the safetensors reader", [&] {
    SafetensorsFile file = parse_safetensors(bytes, "fuzz input");
    auto [scenario, inputs] = inputs_from_safetensors(std::move(file), "fuzz input");
    // Whatever was accepted is a valid, finite, consistent set of inputs.
    if (!scenario_problems(scenario).empty()) finding("accepted inputs with an invalid scenario");
    if (!non_finite_input_problems(scenario, inputs).empty()) finding("accepted non-finite inputs");
    validate_inputs(scenario, inputs);
    (void)scenario_summary(scenario);
  });
}

void exercise_scenario(std::string_view bytes) {
  expecting_only_scenario_errors("the scenario reader", [&] {
    const Scenario scenario = scenario_from_json(parse_untrusted_json(bytes));
    (void)scenario_summary(scenario);
    (void)estimated_buffer_bytes(scenario);
    validate_scenario(scenario);
    // A valid scenario round-trips through its JSON exactly.
    const std::string text = scenario_to_json(scenario).dump();
    const Scenario back = scenario_from_json(parse_untrusted_json(text));
    if (scenario_to_json(back).dump() != text) finding("scenario JSON round trip changed " + text);
    if (estimated_buffer_bytes(scenario) <= kMaxGeneratedBytes) {
      const Inputs inputs = generate_inputs(scenario);
      validate_inputs(scenario, inputs);
      if (!non_finite_input_problems(scenario, inputs).empty())
        finding("generated inputs hold non-finite values where the kernel reads: " + text);
    }
  });
}

}  // namespace pal::fuzz
