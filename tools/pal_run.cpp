// pal-run: run the decode kernel on a scenario (GPU or CPU emulator, with or without the recording
// probe) and check every stage against the scalar reference.
//
//   pal-run --seq-lens 5,17,300 --head-size 128 --dtype bf16 --backend emulator --record
//   pal-run --inputs my_tensors.safetensors --output dump.safetensors --record
//   pal-run --backend gpu --record --against emulator      (GPU recording vs emulator recording)
//
// Exit status: 0 when every stage is within tolerance, 1 when a stage is not, 2 for bad input.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "compare/stage_compare.h"
#include "core/command_line.h"
#include "core/output_file.h"
#include "core/safetensors.h"
#include "kernels/launch.h"
#include "kernels/simt/emulator.h"
#include "reference/paged_reference.h"
#include "tools/run_dump.h"

int main(int argc, char** argv) {
  using namespace pal;
  CLI::App app{"pal-run: run the paged-attention decode kernel and compare every stage with the reference"};
  ScenarioFlags flags;
  add_scenario_flags(app, flags);
  std::string backend_text = "auto";
  bool record = false;
  std::string inputs_path, output_path, against_text;
  double max_recording_mib = double(kDefaultMaxRecordingBytes >> 20);
  bool exact_fp32 = false;
  app.add_option("--backend", backend_text, "gpu, emulator, or auto (the GPU when one is present)")
      ->check(CLI::IsMember({"gpu", "emulator", "auto"}));
  app.add_flag("--record", record, "build with the recording probe and compare every intermediate stage");
  app.add_option("--inputs", inputs_path, "run on the tensors of this safetensors file instead of generated ones");
  app.add_option("--output", output_path, "write inputs, output and (with --record) every stage to this safetensors file");
  app.add_option("--against", against_text, "also run this backend (recorded) and compare the two runs stage by stage")
      ->check(CLI::IsMember({"gpu", "emulator"}));
  app.add_option("--max-recording-mib", max_recording_mib, "refuse recordings larger than this");
  app.add_flag("--exact-fp32-probabilities", exact_fp32,
               "reference multiplies V by fp32 probabilities (the kernel rounds them to the dtype first)");
  if (auto exit_code = parse_command_line(app, argc, argv)) return *exit_code;

  try {
    RunOptions options;
    options.max_recording_bytes = mib_flag_to_bytes("--max-recording-mib", max_recording_mib);
    if (!output_path.empty()) check_output_path(output_path);
    Scenario scenario;
    Inputs inputs;
    if (!inputs_path.empty()) {
      refuse_scenario_flags(flags, "--inputs", true);
      auto loaded = load_inputs(inputs_path);
      scenario = loaded.first;
      inputs = std::move(loaded.second);
      // Flags may still choose the version; the tensors fix everything else.
      if (flags.version) {
        ScenarioFlags version_only;
        version_only.version = flags.version;
        scenario = resolve_scenario_flags(version_only, scenario);
      }
    } else {
      scenario = resolve_scenario_flags(flags);
      validate_scenario(scenario);
      inputs = generate_inputs(scenario);
    }

    parse_backend(backend_text, options.backend);
    options.record = record || !against_text.empty();

    const KernelRun run = run_kernel(scenario, inputs, options);
    std::printf("scenario : %s\n", scenario_summary(run.scenario).c_str());
    std::printf("backend  : %s (%s), kernel %s%s, %.2f ms\n", std::string(backend_name(run.backend)).c_str(),
                run.device_name.c_str(), std::string(version_name(run.version)).c_str(),
                run.recording ? " with the recording probe" : "", run.elapsed_ms);

    const ReferenceRun reference = reference_attention(
        run.scenario, inputs, run.version,
        exact_fp32 ? ProbabilityPrecision::exact_fp32 : ProbabilityPrecision::rounded_to_dtype);
    const ComparisonReport report = compare_with_reference(run, reference, inputs);
    std::printf("\n%s", report.table().c_str());
    bool passed = report.passed();

    if (!against_text.empty()) {
      RunOptions other = options;
      parse_backend(against_text, other.backend);
      other.record = true;
      const KernelRun second = run_kernel(run.scenario, inputs, other);
      const ComparisonReport between = compare_runs(run, second, inputs);
      std::printf("\n%s", between.table().c_str());
      passed = passed && between.passed();
    }

    if (!output_path.empty()) {
      write_run_dump(output_path, inputs, run, run.recording ? &reference : nullptr);
      std::printf("\nwrote %s\n", output_path.c_str());
    }
    return passed ? 0 : 1;
  } catch (const ScenarioError& e) {
    std::fprintf(stderr, "pal-run: %s\n", e.what());
    return 2;
  } catch (const simt::EmulatorError& e) {
    std::fprintf(stderr, "pal-run: emulator: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pal-run: %s\n", e.what());
    return 2;
  }
}
