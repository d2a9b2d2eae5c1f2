// pal-run with --version grouped, as a user runs it: every recorded stage of the grouped kernel
// against its reference and the dense oracle over shapes that reach its corners (both math paths,
// splits and split_merge, head chunks, ALiBi, a head size that is not a multiple of 16), a dump that
// reads back, the emulator against itself through --against, and the refusals it owes.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "scratch_dir.h"

using Catch::Contains;
using pal::test::scratch;

namespace {

struct Result {
  int exit_code = -1;
  std::string output;
};

Result pal_run(const std::vector<std::string>& args) {
  const std::string log = scratch("grouped_cli_output.txt");
  std::string command = "timeout 300 '" + std::string(PAL_RUN_EXECUTABLE) + "'";
  for (const std::string& arg : args) command += " '" + arg + "'";  // the arguments below hold no quotes
  command += " > '" + log + "' 2>&1 < /dev/null";
  const int status = std::system(command.c_str());
  Result result;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  result.output = text.str();
  return result;
}

// The rows a recorded grouped run must print: the stages it records and the checks it makes.
void require_grouped_table(const Result& result) {
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  for (const char* row : {"qk_logits", "online_softmax", "block_merge", "output", "split_merge", "final_output",
                          "split_state", "split_partial_out", "oracle_output"})
    CHECK_THAT(result.output, Contains(row));
  CHECK_THAT(result.output, Contains("kernel grouped with the recording probe"));
  CHECK_THAT(result.output, Contains("every stage within tolerance"));
}

}  // namespace

TEST_CASE("pal-run --version grouped --record compares every stage and exits 0 over the kernel's corners",
          "[cli][grouped]") {
  const std::vector<std::vector<std::string>> shapes = {
      // GQA 32/8 on tensor cores, sequences with one split and with several (split_merge runs).
      {"--dtype", "fp16", "--head-size", "128", "--num-heads", "32", "--num-kv-heads", "8", "--seq-lens", "1,100,700"},
      // bf16, an 8-query group of one KV head, 8-token kv_blocks, ALiBi.
      {"--dtype", "bf16", "--head-size", "64", "--block-size", "8", "--num-heads", "8", "--num-kv-heads", "1",
       "--seq-lens", "17,300", "--alibi"},
      // fp32 on CUDA cores, MHA (a group of one), 32-token kv_blocks.
      {"--dtype", "fp32", "--head-size", "80", "--block-size", "32", "--num-heads", "4", "--num-kv-heads", "4",
       "--seq-lens", "33,520"},
      // A 96-query group (two head chunks on tensor cores) and head size 120 (a half k-step).
      {"--dtype", "fp16", "--head-size", "120", "--num-heads", "96", "--num-kv-heads", "1", "--seq-lens", "40"},
  };
  for (const std::vector<std::string>& shape : shapes) {
    std::vector<std::string> args = {"--backend", "emulator", "--version", "grouped", "--record"};
    args.insert(args.end(), shape.begin(), shape.end());
    INFO(shape[1] + " h" + shape[3]);
    const Result result = pal_run(args);
    require_grouped_table(result);
  }
}

TEST_CASE("a recorded grouped dump reads back as inputs, and the emulator agrees with itself", "[cli][grouped]") {
  const std::string dump = scratch("grouped_dump.safetensors");
  const Result written = pal_run({"--backend", "emulator", "--version", "grouped", "--record", "--seq-lens", "5,300",
                                  "--num-heads", "8", "--num-kv-heads", "2", "--output", dump});
  require_grouped_table(written);
  const Result reread = pal_run({"--backend", "emulator", "--inputs", dump, "--version", "grouped", "--record"});
  require_grouped_table(reread);
  const Result against = pal_run({"--backend", "emulator", "--version", "grouped", "--record", "--seq-lens", "5,300",
                                  "--against", "emulator"});
  INFO(against.output);
  CHECK(against.exit_code == 0);
  CHECK_THAT(against.output, Contains("emulator vs emulator, grouped"));
}

TEST_CASE("pal-run refuses what the grouped kernel does not run, naming grouped, with exit code 2",
          "[cli][grouped]") {
  for (const std::vector<std::string>& refused : std::vector<std::vector<std::string>>{
           {"--blocksparse-vert-stride", "4", "--blocksparse-local-blocks", "1"}}) {
    std::vector<std::string> args = {"--backend", "emulator", "--version", "grouped"};
    args.insert(args.end(), refused.begin(), refused.end());
    const Result result = pal_run(args);
    INFO(result.output);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.output, Contains("version = grouped"));
  }
  // An fp8 cache is no longer refused: the grouped kernel reads it (recorded, every stage checked).
  const Result fp8 = pal_run({"--backend", "emulator", "--version", "grouped", "--head-size", "128", "--kv-cache-dtype",
                              "fp8_e5m2", "--k-scale", "0.5", "--v-scale", "0.25", "--record", "--seq-lens", "5,40"});
  INFO(fp8.output);
  CHECK(fp8.exit_code == 0);
  const Result unknown = pal_run({"--version", "grouped2"});
  CHECK(unknown.exit_code == 2);
  const Result help = pal_run({"--help"});
  CHECK_THAT(help.output, Contains("grouped") && Contains("upstream's v1/v2 heuristic"));
}

TEST_CASE("pal-run --compare runs two versions on the same inputs and prints bytes per KV head side by side",
          "[cli][grouped]") {
  const Result result = pal_run({"--backend", "emulator", "--compare", "v1,grouped", "--num-heads", "8", "--num-kv-heads",
                                 "2", "--head-size", "32", "--seq-lens", "20"});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  // 2 kv_blocks x (K + V) x 1024 bytes per KV head, read by 4 query heads' thread_blocks in v1 (the
  // counts are checked by hand in tests/run/test_version_compare.cpp).
  CHECK_THAT(result.output, Contains("KV head 1: loaded (reads/byte)") && Contains("16.0 KiB (4.00x)") &&
                                Contains("2.5 KiB (1.00x)") && Contains("max |v1 - grouped|"));
  for (const std::vector<std::string>& refused : std::vector<std::vector<std::string>>{
           {"--compare", "v1"}, {"--compare", "v1,v1"}, {"--compare", "v1,auto"}, {"--compare", "v1,v3"},
           {"--compare", "v1,grouped", "--version", "v2"},
           {"--compare", "v1,grouped", "--blocksparse-vert-stride", "4"}}) {
    std::vector<std::string> args = {"--backend", "emulator"};
    args.insert(args.end(), refused.begin(), refused.end());
    const Result bad = pal_run(args);
    INFO(bad.output);
    CHECK(bad.exit_code == 2);
  }
}
