// The programs as a user runs them (issue 14): every usage or input error exits with code 2 and a
// message that says what is wrong; nothing crashes, nothing is silently ignored, and no output
// path that is not a regular file is ever replaced. docs/pages/bad_input.md cites these tests.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "scratch_dir.h"

using Catch::Contains;
using pal::test::scratch;
using pal::test::scratch_dir;
namespace fs = std::filesystem;

namespace {

struct Result {
  int exit_code = -1;  // -1: killed by a signal
  int signal = 0;
  std::string output;  // stdout and stderr together
};

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

Result run(const std::string& program, const std::vector<std::string>& args) {
  const std::string log = scratch("cli_output.txt");
  std::string command = "timeout 300 " + quoted(program);
  for (const std::string& arg : args) command += " " + quoted(arg);
  command += " > " + quoted(log) + " 2>&1 < /dev/null";
  const int status = std::system(command.c_str());
  Result result;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  result.output = text.str();
  return result;
}

Result pal_run(const std::vector<std::string>& args) { return run(PAL_RUN_EXECUTABLE, args); }

// A small scenario's inputs, written by pal-run itself.
const std::string& inputs_file() {
  static const std::string path = [] {
    const std::string file = scratch("cli_inputs.safetensors");
    const Result made = pal_run({"--backend", "emulator", "--seq-lens", "5,20", "--head-size", "32", "--output", file});
    REQUIRE(made.exit_code == 0);
    return file;
  }();
  return path;
}

}  // namespace

TEST_CASE("pal-run exits with 2 and points to --help for an unknown flag or a malformed value", "[cli]") {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--no-such-flag"}, {"--num-heads", "abc"}, {"--backend", "tpu"}, {"--seq-lens"}, {"stray"}}) {
    INFO(args.front());
    const Result result = pal_run(args);
    INFO(result.output);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.output, Contains("--help"));
  }
}

TEST_CASE("pal-run checks every stage of an fp8 E5M2 block-sparse run and reports what quantisation did", "[cli][fp8]") {
  // fp16 queries, head 128, block 16: the configuration every build compiles with both features.
  for (const char* version : {"v1", "v2"}) {
    INFO(version);
    const Result result = pal_run({"--backend", "emulator", "--record", "--version", version, "--head-size", "128",
                                   "--seq-lens", "40,600", "--kv-cache-dtype", "fp8_e5m2", "--k-scale", "0.5",
                                   "--v-scale", "0.25", "--blocksparse-local-blocks", "1", "--blocksparse-vert-stride",
                                   "3", "--blocksparse-block-size", "32", "--blocksparse-head-sliding-step", "-1",
                                   "--tp-rank", "1"});
    INFO(result.output);
    CHECK(result.exit_code == 0);
    CHECK_THAT(result.output, Contains("every stage within tolerance") && Contains("dequantized_kv") &&
                                  Contains("values quantised"));
  }
}

#if PAL_EMULATOR_INSTANTIATIONS_REDUCED
TEST_CASE("pal-run refuses an fp8 configuration the build did not compile with exit 2, naming the option", "[cli][fp8]") {
  const Result result = pal_run({"--backend", "emulator", "--dtype", "bf16", "--kv-cache-dtype", "fp8"});
  INFO(result.output);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.output, Contains("PAL_EMULATOR_INSTANTIATIONS"));
}
#endif

TEST_CASE("pal-run --help exits with 0", "[cli]") {
  const Result result = pal_run({"--help"});
  CHECK(result.exit_code == 0);
  CHECK_THAT(result.output, Contains("--seq-lens"));
}

TEST_CASE("an integer flag beyond int's range is called too large, not 'not an integer'", "[cli]") {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--seq-lens", "2147483648"}, {"--seq-lens", "5,99999999999"}, {"--num-heads", "2147483648"},
           {"--num-blocks", "-99999999999"}}) {
    INFO(args[0] + " " + args[1]);
    const Result result = pal_run(args);
    INFO(result.output);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.output, Contains("too ") && !Contains("not an integer"));
  }
}

TEST_CASE("--max-recording-mib refuses negative, NaN, zero and absurd sizes", "[cli]") {
  for (const char* value : {"-1", "nan", "1e30", "0", "inf"}) {
    INFO(value);
    const Result result = pal_run({"--backend", "emulator", "--record", "--max-recording-mib", value});
    INFO(result.output);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.output, Contains("--max-recording-mib"));
  }
}

TEST_CASE("scenario flags given with --inputs are refused by name, not ignored", "[cli]") {
  const Result result = pal_run({"--backend", "emulator", "--inputs", inputs_file(), "--num-heads", "8", "--seed", "3"});
  INFO(result.output);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.output, Contains("--num-heads") && Contains("--seed") && Contains("--inputs"));
  // --version still chooses the kernel for the file's tensors.
  CHECK(pal_run({"--backend", "emulator", "--inputs", inputs_file(), "--version", "v2"}).exit_code == 0);
}

TEST_CASE("pal-run refuses a scenario file nested 100,000 deep with exit code 2", "[cli][json]") {
  const std::string path = scratch("cli_deep.json");
  std::ofstream(path) << std::string(100'000, '[') << std::string(100'000, ']');
  const Result result = pal_run({"--scenario", path});
  INFO(result.output.substr(0, 2000));
  CHECK(result.signal == 0);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.output, Contains("nested deeper than"));
  CHECK(result.output.size() < 1000);
}

TEST_CASE("pal-run calls a symbolic-link loop a loop", "[cli][files]") {
  const fs::path a = scratch_dir() / "cli_loop_a", b = scratch_dir() / "cli_loop_b";
  fs::remove(a);
  fs::remove(b);
  fs::create_symlink(b, a);
  fs::create_symlink(a, b);
  for (const char* flag : {"--scenario", "--inputs"}) {
    const Result result = pal_run({flag, a.string()});
    INFO(result.output);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.output, Contains("symbolic links") && !Contains("does not exist"));
  }
}

TEST_CASE("pal-run refuses NaN in the query of an --inputs file instead of calling the run ok", "[cli][inputs]") {
  const std::string path = scratch("cli_nan.safetensors");
  pal::SafetensorsFile file = pal::read_safetensors(inputs_file());
  file.tensors.at(pal::kQueryName).set_float(7, std::numeric_limits<float>::quiet_NaN());
  pal::write_safetensors(path, file);
  const Result result = pal_run({"--backend", "emulator", "--record", "--inputs", path});
  INFO(result.output);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.output, Contains("query") && Contains("non-finite") && !Contains("within tolerance"));
}

TEST_CASE("pal-run --output onto a FIFO or a symbolic link refuses and leaves it in place", "[cli][output]") {
  const std::string fifo = scratch("cli_output.fifo");
  fs::remove(fifo);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const Result onto_fifo = pal_run({"--backend", "emulator", "--seq-lens", "5", "--output", fifo});
  INFO(onto_fifo.output);
  CHECK(onto_fifo.exit_code == 2);
  CHECK_THAT(onto_fifo.output, Contains("FIFO") && !Contains("wrote"));
  CHECK(fs::is_fifo(fifo));

  const fs::path target = scratch_dir() / "cli_link_target", link = scratch_dir() / "cli_link";
  fs::remove(link);
  std::ofstream(target) << "precious";
  fs::create_symlink(target, link);
  const Result onto_link = pal_run({"--backend", "emulator", "--seq-lens", "5", "--output", link.string()});
  INFO(onto_link.output);
  CHECK(onto_link.exit_code == 2);
  CHECK_THAT(onto_link.output, Contains("symbolic link") && !Contains("wrote"));
  CHECK(fs::is_symlink(link));
  CHECK(fs::file_size(target) == 8);
}

TEST_CASE("every program exits with 2 and points to --help for an unknown flag", "[cli]") {
  std::vector<std::string> programs = {PAL_RUN_EXECUTABLE, PAL_CHAPTER_EXECUTABLE, PAL_BENCH_EMULATOR_EXECUTABLE};
#ifdef PAL_VIZ_EXECUTABLE
  programs.push_back(PAL_VIZ_EXECUTABLE);
#endif
#ifdef PAL_BENCH_EXECUTABLE
  programs.push_back(PAL_BENCH_EXECUTABLE);
#endif
  for (const std::string& program : programs) {
    const Result result = run(program, {"--no-such-flag"});
    INFO(program << ": " << result.output);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.output, Contains("--no-such-flag") && Contains("--help"));
  }
}

#ifdef PAL_VIZ_EXECUTABLE
TEST_CASE("pal-viz lists a grouped run's steps, and --compare with one version twice exits 2 saying what to give",
          "[cli]") {
  const Result result = run(PAL_VIZ_EXECUTABLE, {"--version", "grouped", "--seq-lens", "5", "--list-steps"});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK_THAT(result.output, Contains("kv_tile_load") && Contains("online_softmax") && Contains("block_merge"));
  const Result twice = run(PAL_VIZ_EXECUTABLE, {"--compare", "grouped,grouped", "--seq-lens", "5", "--list-steps"});
  INFO(twice.output);
  CHECK(twice.exit_code == 2);
  CHECK_THAT(twice.output, Contains("the same version twice") && Contains("--compare v1,grouped"));
}

TEST_CASE("pal-viz refuses scenario flags given with --dump by name", "[cli]") {
  const Result result = run(PAL_VIZ_EXECUTABLE, {"--dump", inputs_file(), "--num-heads", "8", "--list-steps"});
  INFO(result.output);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.output, Contains("--num-heads") && Contains("--dump"));
}
#endif

TEST_CASE("pal-bench-emulator refuses a --csv path that is not a regular file before timing anything", "[cli][output]") {
  const std::string fifo = scratch("cli_bench.fifo");
  fs::remove(fifo);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const Result result = run(PAL_BENCH_EMULATOR_EXECUTABLE, {"--skip-large", "--repeats", "1", "--csv", fifo});
  INFO(result.output);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.output, Contains("FIFO") && !Contains("hardware threads"));  // the banner of a started run
  CHECK(fs::is_fifo(fifo));
}

TEST_CASE("the chapters and pal-viz refuse a scenario file nested 100,000 deep with exit code 2", "[cli][json]") {
  const std::string path = scratch("cli_deep_everywhere.json");
  std::ofstream(path) << std::string(100'000, '[') << std::string(100'000, ']');
  std::vector<std::pair<std::string, std::vector<std::string>>> runs = {{PAL_CHAPTER_EXECUTABLE, {"--scenario", path}}};
#ifdef PAL_VIZ_EXECUTABLE
  runs.push_back({PAL_VIZ_EXECUTABLE, {"--scenario", path, "--list-steps"}});
  // A dump whose scenario metadata is the deep value.
  const std::string dump = scratch("cli_deep_metadata.safetensors");
  pal::SafetensorsFile file = pal::read_safetensors(inputs_file());
  file.metadata[pal::kScenarioKey] = std::string(100'000, '[') + std::string(100'000, ']');
  pal::write_safetensors(dump, file);
  runs.push_back({PAL_VIZ_EXECUTABLE, {"--dump", dump, "--list-steps"}});
#endif
  for (const auto& [program, args] : runs) {
    const Result result = run(program, args);
    INFO(program << " " << args[0] << ": " << result.output.substr(0, 2000));
    CHECK(result.signal == 0);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.output, Contains("nested deeper than"));
    CHECK(result.output.size() < 1000);
  }
}

TEST_CASE("pal-run refuses a recording over the limit before generating inputs, and writes no --output", "[cli][memory]") {
  const std::string out = scratch("cli_too_big.safetensors");
  fs::remove(out);
  // About 2 GiB of inputs; the recording needs far more than 1 MiB.
  const Result result = pal_run({"--backend", "emulator", "--record", "--seq-lens", "32768,32768,32768,32768",
                                 "--num-heads", "32", "--num-kv-heads", "32", "--head-size", "128", "--dtype", "fp16",
                                 "--max-recording-mib", "1", "--output", out});
  INFO(result.output);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.output, Contains("debug buffer") && !Contains("wrote"));
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("pal-run counts what --output adds to a recording against --max-recording-mib", "[cli][memory]") {
  const std::string out = scratch("cli_dump_over_limit.safetensors");
  fs::remove(out);
  // 2 sequences of 1024 tokens, 4 heads (v2): the recording alone takes 3.7 MiB, with the dump's
  // copies 12 MiB (tests/run "with writes_dump, ..." checks the arithmetic); the limit is between.
  const std::vector<std::string> scenario = {"--backend", "emulator", "--record", "--seq-lens", "1024,1024",
                                             "--num-heads", "4", "--num-kv-heads", "4", "--max-recording-mib", "6"};
  std::vector<std::string> with_output = scenario;
  with_output.insert(with_output.end(), {"--output", out});
  const Result refused = pal_run(with_output);
  INFO(refused.output);
  CHECK(refused.exit_code == 2);
  CHECK_THAT(refused.output, Contains("--output") && Contains("recording limit"));
  CHECK_FALSE(fs::exists(out));
  const Result without = pal_run(scenario);
  INFO(without.output);
  CHECK(without.exit_code == 0);
}

// The GPU benchmarks (built with CUDA) check their output paths before looking for a GPU, so this
// runs on any machine that builds them.
TEST_CASE("the GPU benchmarks refuse a --csv or --markdown path that is not a regular file before timing", "[cli][output]") {
  std::vector<std::string> programs;
#ifdef PAL_BENCH_EXECUTABLE
  programs.push_back(PAL_BENCH_EXECUTABLE);
#endif
  if (programs.empty()) {
    WARN("built without CUDA: pal-bench and pal-bench-grouped do not exist here");
    return;
  }
  const std::string fifo = scratch("cli_gpu_bench.fifo");
  fs::remove(fifo);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::string missing = scratch("no_such_folder/bench.md");
  for (const std::string& program : programs) {
    const Result onto_fifo = run(program, {"--csv", fifo});
    INFO(program << ": " << onto_fifo.output);
    CHECK(onto_fifo.exit_code == 2);
    CHECK_THAT(onto_fifo.output, Contains("FIFO"));
    const Result into_missing = run(program, {"--markdown", missing});
    INFO(program << ": " << into_missing.output);
    CHECK(into_missing.exit_code == 2);
    CHECK_THAT(into_missing.output, Contains("does not exist"));
  }
  CHECK(fs::is_fifo(fifo));
}
