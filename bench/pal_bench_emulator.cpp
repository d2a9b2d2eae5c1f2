// pal-bench-emulator: how long the CPU emulator (the kernel body run with one Boost.Fiber per CUDA
// thread) takes for the scenarios people look at in the visualizer, with and without the recording
// probe. Needs no GPU. The emulator exists to show every step, not to be fast: these numbers say how
// long a user waits, and catch a change that makes the emulator much slower.
//
// Each case is timed end to end through run_kernel() (validation, output and recording buffers,
// the emulated launch) and by run_kernel's own clock around the emulated launch alone; the median
// of --repeats runs after one untimed warm-up run. Input generation is timed once, apart.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_model.h"
#include "core/command_line.h"
#include "core/output_file.h"
#include "core/inputs.h"
#include "core/scenario.h"
#include "kernels/launch.h"
#include "kernels/recording.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Case {
  std::string name;
  pal::Scenario scenario;
  int repeats;
};

struct CaseResult {
  std::string name;
  std::string version;
  bool record = false;
  pal::bench::TimingSummary total_ms;   // run_kernel end to end
  pal::bench::TimingSummary launch_ms;  // the emulated launch alone
  std::int64_t thread_blocks = 0;
  std::size_t record_bytes = 0;
  double generate_ms = 0;
};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::vector<Case> make_cases(int repeats_small, int repeats_large, bool skip_large) {
  std::vector<Case> cases;
  // The visualizer opens on core's default scenario: 2 sequences of 37 and 100 tokens, 4 query
  // heads over 2 KV heads, head_size 64, block_size 16, fp16.
  for (pal::KernelVersion version : {pal::KernelVersion::automatic, pal::KernelVersion::v1, pal::KernelVersion::v2}) {
    pal::Scenario scenario;
    scenario.version = version;
    cases.push_back({"default", scenario, repeats_small});
  }
  if (!skip_large) {
    // One 4096-token sequence with 32 query heads and 32 KV heads (multi-head attention, as in a
    // 7B Llama-2 layer), head_size 128, block_size 16, fp16: auto resolves to v2 (8 partitions, only
    // 32 (seq, head) pairs), so v1 is timed too for the comparison.
    for (pal::KernelVersion version : {pal::KernelVersion::automatic, pal::KernelVersion::v1}) {
      pal::Scenario scenario;
      scenario.num_seqs = 1;
      scenario.num_heads = 32;
      scenario.num_kv_heads = 32;
      scenario.head_size = 128;
      scenario.block_size = 16;
      scenario.seq_lens = {4096};
      scenario.version = version;
      cases.push_back({"4k-32heads", scenario, repeats_large});
    }
  }
  return cases;
}

CaseResult run_case(const Case& c, bool record, bool warmup) {
  CaseResult result;
  result.name = c.name;
  result.record = record;
  const pal::KernelVersion resolved = c.scenario.resolved_version();
  result.version = std::string(pal::version_name(c.scenario.version));
  if (c.scenario.version == pal::KernelVersion::automatic)
    result.version += "->" + std::string(pal::version_name(resolved));
  result.thread_blocks = std::int64_t{c.scenario.num_seqs} * c.scenario.num_heads *
                         (resolved == pal::KernelVersion::v2 ? c.scenario.max_num_partitions() : 1);

  const auto generate_start = Clock::now();
  const pal::Inputs inputs = pal::generate_inputs(c.scenario);
  result.generate_ms = ms_since(generate_start);

  pal::RunOptions options;
  options.backend = pal::Backend::emulator;
  options.record = record;
  // One untimed run first: the first emulated launch of a process also pays for allocating fiber
  // stacks and faulting in memory, which is not what a user waits for on every run.
  if (warmup) (void)pal::run_kernel(c.scenario, inputs, options);
  std::vector<double> totals, launches;
  for (int i = 0; i < c.repeats; ++i) {
    const auto start = Clock::now();
    const pal::KernelRun run = pal::run_kernel(c.scenario, inputs, options);
    totals.push_back(ms_since(start));
    launches.push_back(run.elapsed_ms);
    if (run.recording) result.record_bytes = run.recording->size_bytes();
  }
  result.total_ms = pal::bench::summarize(totals);
  result.launch_ms = pal::bench::summarize(launches);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pal-bench-emulator: time the CPU emulator (no GPU needed) on the visualizer's default scenario "
               "and on a 4096-token, 32-head sequence"};
  int repeats_small = 21, repeats_large = 3;
  bool skip_large = false;
  bool warmup = true;
  std::string csv_path;
  app.add_option("--repeats", repeats_small, "Runs of each small case (the median is reported)")->check(CLI::Range(1, 1000));
  app.add_option("--repeats-large", repeats_large, "Runs of each 4k-token case")->check(CLI::Range(1, 100));
  app.add_flag("--skip-large", skip_large, "Only the default scenario");
  app.add_flag("!--no-warmup", warmup, "Time the first run of each case too (by default one untimed run comes first)");
  app.add_option("--csv", csv_path, "Also write the results to this CSV file");
  if (auto exit_code = pal::parse_command_line(app, argc, argv)) return *exit_code;

  try {
    if (!csv_path.empty()) pal::check_output_path(csv_path);  // before minutes of timing, not after
    std::vector<CaseResult> results;
    std::printf("pal-bench-emulator: CPU emulator (Boost.Fiber, one fiber per CUDA thread), %u hardware threads\n",
                std::max(1u, std::thread::hardware_concurrency()));
    std::printf("%-11s %-9s %-6s %6s %12s %12s %12s %10s %12s\n", "case", "version", "record", "runs", "total ms",
                "launch ms", "us/block", "record", "inputs ms");
    for (const Case& c : make_cases(repeats_small, repeats_large, skip_large)) {
      std::printf("  %s\n", pal::scenario_summary(c.scenario).c_str());
      for (bool record : {false, true}) {
        const CaseResult r = run_case(c, record, warmup);
        std::printf("%-11s %-9s %-6s %6d %12.1f %12.1f %12.1f %10s %12.1f\n", r.name.c_str(), r.version.c_str(),
                    record ? "yes" : "no", r.total_ms.count, r.total_ms.median, r.launch_ms.median,
                    1e3 * r.launch_ms.median / double(r.thread_blocks),
                    record ? (pal::bench::format_fixed(double(r.record_bytes) / double(1 << 20), 1) + "M").c_str() : "-",
                    r.generate_ms);
        std::fflush(stdout);
        results.push_back(r);
      }
    }
    if (!csv_path.empty()) {
      std::ostringstream csv;
      csv << "case,version,record,runs,total_ms_median,total_ms_min,launch_ms_median,launch_ms_min,thread_blocks,"
             "record_bytes,generate_inputs_ms\n";
      for (const CaseResult& r : results)
        csv << r.name << ',' << r.version << ',' << (r.record ? "yes" : "no") << ',' << r.total_ms.count << ','
            << pal::bench::format_fixed(r.total_ms.median, 2) << ',' << pal::bench::format_fixed(r.total_ms.min, 2)
            << ',' << pal::bench::format_fixed(r.launch_ms.median, 2) << ','
            << pal::bench::format_fixed(r.launch_ms.min, 2) << ',' << r.thread_blocks << ',' << r.record_bytes << ','
            << pal::bench::format_fixed(r.generate_ms, 2) << '\n';
      pal::write_output_file(csv_path, csv.str());
    }
  } catch (const pal::ScenarioError& error) {  // a --csv path that cannot be written
    std::fprintf(stderr, "pal-bench-emulator: %s\n", error.what());
    return pal::kExitUsageError;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "pal-bench-emulator: %s\n", error.what());
    return 1;
  }
  return 0;
}
