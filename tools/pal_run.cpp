// pal-run: run the decode kernel on a scenario (GPU or CPU emulator, with or without the recording
// probe) and check every stage against the scalar reference.
//
//   pal-run --seq-lens 5,17,300 --head-size 128 --dtype bf16 --backend emulator --record
//   pal-run --inputs my_tensors.safetensors --output dump.safetensors --record
//   pal-run --backend gpu --record --against emulator      (GPU recording vs emulator recording)
//   pal-run --version grouped --backend emulator --record  (the grouped kernel, every stage)
//   pal-run --compare v1,grouped --num-heads 8 --num-kv-heads 2   (two versions on the same inputs)
//   pal-run --version v1 --head-size 128 --seq-lens 8192 --profile   (bank conflicts and sectors per line)
//
// Exit status: 0 when every stage is within tolerance, 1 when a stage is not, 2 for bad input.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "compare/stage_compare.h"
#include "core/command_line.h"
#include "core/output_file.h"
#include "core/safetensors.h"
#include "kernels/simt/emulator.h"
#include "kernels/simt/access_profile.h"
#include "run/access_report.h"
#include "run/recorded_run.h"
#include "run/run_dump.h"
#include "run/version_compare.h"

int main(int argc, char** argv) {
  using namespace pal;
  CLI::App app{"pal-run: run the paged-attention decode kernel and compare every stage with the reference"};
  ScenarioFlags flags;
  add_scenario_flags(app, flags, front_end_scenario());
  std::string backend_text = "auto";
  bool record = false;
  std::string inputs_path, output_path, against_text, compare_text;
  double max_recording_mib = double(kDefaultMaxRecordingBytes >> 20);
  bool exact_fp32 = false;
  bool profile = false;
  app.add_option("--backend", backend_text, "gpu, emulator, or auto (the GPU when one is present)")
      ->check(CLI::IsMember({"gpu", "emulator", "auto"}));
  app.add_flag("--record", record, "build with the recording probe and compare every intermediate stage");
  app.add_option("--inputs", inputs_path, "run on the tensors of this safetensors file instead of generated ones");
  app.add_option("--output", output_path, "write inputs, output and (with --record) every stage to this safetensors file");
  app.add_option("--against", against_text, "also run this backend (recorded) and compare the two runs stage by stage")
      ->check(CLI::IsMember({"gpu", "emulator"}));
  app.add_option("--compare", compare_text,
                 "two versions, e.g. v1,grouped: run both (recorded) on the same inputs and print them side by side: "
                 "K/V bytes loaded per KV head from the recorded load addresses, loads per lane, launches, stages, "
                 "shared memory, and the outputs' difference (instead of --version)");
  app.add_option("--max-recording-mib", max_recording_mib, "refuse recordings larger than this");
  app.add_flag("--exact-fp32-probabilities", exact_fp32,
               "reference multiplies V by fp32 probabilities (the kernel rounds them to the dtype first)");
  app.add_flag("--profile", profile,
               "profile memory accesses on the emulator (implies --record --backend emulator): per stage and source "
               "line, shared-memory wavefronts, bank conflicts and global sectors per request");
  if (auto exit_code = parse_command_line(app, argc, argv)) return *exit_code;

  try {
    RecordedRunOptions options;
    options.record = record || profile || !against_text.empty();
    std::optional<simt::AccessProfiler> profiler;
    if (profile) {
      // The profile is the emulator's: it sees every lane's address. A GPU's counters are ncu's
      // (scripts/ncu_vs_emulator.sh sets the two side by side).
      if (backend_text == "gpu")
        throw ScenarioError("--profile counts accesses on the emulator: use --backend emulator (or leave --backend "
                            "out); for the GPU's counters run scripts/ncu_vs_emulator.sh");
      backend_text = "emulator";
      profiler.emplace();
    }
    parse_backend(backend_text, options.backend);
    options.max_recording_bytes = mib_flag_to_bytes("--max-recording-mib", max_recording_mib);
    options.precision = exact_fp32 ? ProbabilityPrecision::exact_fp32 : ProbabilityPrecision::rounded_to_dtype;
    options.writes_dump = !output_path.empty();
    if (!output_path.empty()) check_output_path(output_path);
    if (!inputs_path.empty()) refuse_scenario_flags(flags, "--inputs", true);

    // The grouped reference rounds each probability where the grouped kernel does; the choice of
    // --exact-fp32-probabilities is the paged reference's only, so it is refused, not ignored.
    auto refuse_exact_fp32_for = [&](KernelVersion version) {
      if (exact_fp32 && version == KernelVersion::grouped)
        throw ScenarioError("--exact-fp32-probabilities applies to the v1/v2 reference; the grouped kernel is "
                            "compared with its own reference (and the dense oracle): drop the flag");
    };
    if (!compare_text.empty()) {
      // Two versions, given once each: "v1,grouped" (run/version_compare.h, as pal-viz --compare).
      const std::vector<KernelVersion> versions = parse_compared_versions(compare_text);
      if (flags.version) throw ScenarioError("--compare chooses the versions; drop --version");
      if (!against_text.empty() || !output_path.empty())
        throw ScenarioError("--compare runs two versions; --against and --output take one run: drop them");
      for (KernelVersion version : versions) refuse_exact_fp32_for(version);
      const std::vector<RecordedRun> runs =
          inputs_path.empty()
              ? run_compared_versions(resolve_scenario_flags(flags, front_end_scenario()), versions, options)
              : run_compared_versions(load_checked_inputs(inputs_path), versions, options, "inputs file " + inputs_path);
      bool passed = true;
      for (const RecordedRun& r : runs) {
        const KernelVersion version = r.version();
        std::printf("%-8s : %s on %s, %s\n", std::string(version_name(version)).c_str(),
                    std::string(backend_name(r.kernel().backend)).c_str(), r.kernel().device_name.c_str(),
                    r.report().passed() ? "every stage within tolerance of its reference"
                                        : "a stage is OUT of tolerance (run it alone with --record)");
        passed = passed && r.report().passed();
      }
      std::printf("scenario : %s\n\n", scenario_summary(runs[0].scenario()).c_str());
      std::printf("%s", format_comparison(compare_versions(runs[0], runs[1])).c_str());
      return passed ? 0 : 1;
    }

    std::optional<RecordedRun> run;
    std::optional<QuantizationReport> quantization;  // what generating an fp8 cache did to the values
    if (!inputs_path.empty()) {
      CheckedInputs loaded = load_checked_inputs(inputs_path);
      // Flags may still choose the version; the tensors fix everything else.
      KernelVersion version = loaded.scenario().version;
      if (flags.version && parse_version(*flags.version, version)) loaded.set_version(version);
      refuse_exact_fp32_for(loaded.scenario().version);
      run.emplace(RecordedRun::from_checked(std::move(loaded), options, "inputs file " + inputs_path));
    } else {
      const Scenario scenario = resolve_scenario_flags(flags, front_end_scenario());
      refuse_exact_fp32_for(scenario.version);
      check_run_fits(scenario, options);  // before the inputs are generated: they can take gigabytes
      QuantizationReport report;
      CheckedInputs generated = CheckedInputs::generate(scenario, &report);
      if (is_fp8(scenario.kv_cache_dtype)) quantization = report;
      run.emplace(RecordedRun::from_checked(std::move(generated), options,
                                            "scenario (inputs generated from seed " + std::to_string(scenario.seed) + ")"));
    }
    const KernelRun& kernel = run->kernel();
    std::printf("scenario : %s\n", scenario_summary(kernel.scenario).c_str());
    if (quantization) std::printf("fp8 cache: %s\n", quantization_summary(*quantization).c_str());
    std::printf("backend  : %s (%s), kernel %s%s, %.2f ms\n", std::string(backend_name(kernel.backend)).c_str(),
                kernel.device_name.c_str(), std::string(version_name(kernel.version)).c_str(),
                kernel.recording ? " with the recording probe" : "", kernel.elapsed_ms);
    if (run->requested_scenario().version == KernelVersion::automatic) {
      // Why auto ran this version (kernels/auto_version.h), on the backend and recording as run.
      const AutoChoice choice = choose_auto_version(
          run->requested_scenario(), auto_context(run->requested_scenario(), kernel.backend, kernel.recording.has_value()));
      std::printf("auto     : %s\n", choice.reason.c_str());
    }
    std::printf("\n%s", run->report().table().c_str());
    bool passed = run->report().passed();
    if (profiler) {
      const simt::AccessProfile access_profile = profiler->profile();
      std::printf("\nmemory accesses (emulator; model in kernels/simt/access_profile.h): per warp-wide instruction\n");
      std::printf("%s", access_profile_table(access_profile).c_str());
      std::printf("\nprofile totals:\n%s", access_profile_totals(access_profile).c_str());
      profiler.reset();  // a run --against below is not profiled
    }

    if (!against_text.empty()) {
      RunOptions other;
      parse_backend(against_text, other.backend);
      other.record = true;
      other.max_recording_bytes = options.max_recording_bytes;
      const KernelRun second = run_kernel(run->checked_inputs(), other);
      const ComparisonReport between = compare_runs(kernel, second, run->inputs());
      std::printf("\n%s", between.table().c_str());
      passed = passed && between.passed();
    }

    if (!output_path.empty()) {
      write_run_dump(output_path, run->inputs(), kernel, kernel.recording ? &run->reference() : nullptr);
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
