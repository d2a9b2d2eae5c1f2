// What the fuzz targets do with their bytes, shared with the Catch2 test that replays the seed
// corpus and every crash the fuzzers found (tests/data/fuzz/) in every ctest run, with or without
// clang.
//
// Each function feeds `bytes` to one of the readers a user's file reaches, the way the tools do.
// A ScenarioError is the expected answer to bad bytes; anything else (another exception, a crash,
// a sanitizer report, a broken property) aborts, which is what libFuzzer reports as a finding.
#pragma once

#include <string_view>

namespace pal::fuzz {

// read as a safetensors file, then as kernel inputs (pal-run --inputs): the header's JSON, every
// tensor entry, the scenario in the metadata, validate_inputs and the non-finite check.
void exercise_safetensors(std::string_view bytes);

// read as a scenario file (pal-run --scenario), then validated; a valid scenario must survive a
// JSON round trip unchanged, and a small one must generate inputs that pass every input check.
void exercise_scenario(std::string_view bytes);

// read as a dump, the way pal-viz --dump opens one (run/run_dump.h, then the visualizer's model,
// headless): the dump's recording is validated against the record schema and the scenario, or the
// inputs re-run on the emulator; an accepted dump must then survive every view of the model (the
// timeline, the load index, the derived accumulators, the element descriptions) for a few
// (seq, head) pairs without an error. Returns whether the dump was accepted and walked.
bool exercise_dump(std::string_view bytes);

}  // namespace pal::fuzz
