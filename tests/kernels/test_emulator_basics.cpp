// The SIMT emulator's semantics, the probe's neutrality and the kernel's refusals.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstring>
#include <thread>

#include "core/cancellation.h"
#include "kernels/dispatch.h"
#include "kernels/launch.h"
#include "kernels/simt/emulator.h"

using namespace pal;

namespace {

KernelRun emulate(const Scenario& scenario, const Inputs& inputs, bool record) {
  RunOptions options;
  options.backend = Backend::emulator;
  options.record = record;
  return run_kernel(scenario, inputs, options);
}

Scenario small_scenario(DType dtype, KernelVersion version) {
  Scenario s;
  s.dtype = dtype;
  s.version = version;
  s.num_seqs = 3;
  s.seq_lens = {1, 33, 1100};
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.head_size = 64;
  s.block_size = 16;
  s.alibi = true;
  return s;
}

}  // namespace

TEST_CASE("the no-op and the recording builds of the kernel write bit-identical outputs") {
  for (DType dtype : {DType::fp32, DType::fp16, DType::bf16})
    for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
      const Scenario scenario = small_scenario(dtype, version);
      const Inputs inputs = generate_inputs(scenario);
      const KernelRun production = emulate(scenario, inputs, false);
      const KernelRun recorded = emulate(scenario, inputs, true);
      INFO(scenario_summary(scenario));
      CHECK(production.output.bytes == recorded.output.bytes);
      CHECK(production.tmp_out.bytes == recorded.tmp_out.bytes);
      CHECK(production.exp_sums.bytes == recorded.exp_sums.bytes);
      CHECK(production.max_logits.bytes == recorded.max_logits.bytes);
    }
}

TEST_CASE("two emulator runs of one scenario are bit-identical, recording included") {
  const Scenario scenario = small_scenario(DType::bf16, KernelVersion::v2);
  const Inputs inputs = generate_inputs(scenario);
  const KernelRun first = emulate(scenario, inputs, true);
  const KernelRun second = emulate(scenario, inputs, true);
  CHECK(first.output.bytes == second.output.bytes);
  REQUIRE(first.recording->size_bytes() == second.recording->size_bytes());
  CHECK(std::memcmp(first.recording->data(), second.recording->data(), first.recording->size_bytes()) == 0);
}

TEST_CASE("NaN poison in unused cache slots never reaches the emulated kernel's output") {
  for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
    Scenario scenario = small_scenario(DType::fp16, version);
    scenario.seq_lens = {3, 17, 1029};  // partial last kv_blocks everywhere
    const Inputs inputs = generate_inputs(scenario);
    const KernelRun run = emulate(scenario, inputs, false);
    for (std::int64_t i = 0; i < run.output.numel(); ++i) REQUIRE(std::isfinite(run.output.get_float(i)));
  }
}

TEST_CASE("shfl_xor and shfl exchange values between the lanes of one warp only") {
  std::vector<float> after_xor(128), after_broadcast(128);
  simt::launch_emulated({1, 1, 1}, 128, 0, [&] {
    const int t = simt::thread_idx();
    after_xor[std::size_t(t)] = simt::shfl_xor(float(t), 5);
    after_broadcast[std::size_t(t)] = simt::shfl(float(t), 3);
  });
  for (int t = 0; t < 128; ++t) {
    CHECK(after_xor[std::size_t(t)] == float((t / 32) * 32 + ((t % 32) ^ 5)));
    CHECK(after_broadcast[std::size_t(t)] == float((t / 32) * 32 + 3));
  }
}

TEST_CASE("sync_threads publishes shared memory writes to every thread of the block") {
  std::vector<float> seen(128);
  simt::launch_emulated({2, 1, 1}, 128, 128 * sizeof(float), [&] {
    float* shared = simt::dynamic_shared<float>();
    const int t = simt::thread_idx();
    shared[t] = float(t + 1000 * simt::block_idx_x());
    simt::sync_threads();
    seen[std::size_t(t)] = shared[(t + 1) % 128];
  });
  for (int t = 0; t < 128; ++t) CHECK(seen[std::size_t(t)] == float((t + 1) % 128 + 1000));
}

TEST_CASE("thread blocks run in blockIdx order, each starting with poisoned dynamic shared memory") {
  std::vector<int> order;
  std::vector<bool> fresh;
  simt::launch_emulated({3, 2, 1}, 32, 4 * sizeof(float), [&] {
    float* shared = simt::dynamic_shared<float>();
    if (simt::thread_idx() == 0) {
      order.push_back(simt::block_idx_y() * 3 + simt::block_idx_x());
      fresh.push_back(std::isnan(shared[0]));
      shared[0] = 1.0f;
    }
  });
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5});
  CHECK(fresh == std::vector<bool>(6, true));
}

TEST_CASE("a launch whose cancellation flag is set stops between two thread blocks and says how far it got") {
  std::atomic<bool> cancel{false};
  const ScopedCancellation cancellable(cancel);
  std::vector<int> started;
  // The body sets the flag in block 2, as another thread would: the block finishes (every thread of
  // it still reaches its barrier), and no later block starts.
  REQUIRE_THROWS_WITH(simt::launch_emulated({4, 2, 1}, 64, 0,
                                            [&] {
                                              const int block = simt::block_idx_y() * 4 + simt::block_idx_x();
                                              if (simt::thread_idx() == 0) started.push_back(block);
                                              if (block == 2 && simt::thread_idx() == 5) cancel = true;
                                              simt::sync_threads();
                                            }),
                      Catch::Contains("cancelled after 3 of 8 thread_blocks"));
  CHECK(started == std::vector<int>{0, 1, 2});
  // A flag set before the launch stops it before any block; without a flag nothing is cancelled.
  started.clear();
  REQUIRE_THROWS_AS(simt::launch_emulated({2, 1, 1}, 32, 0, [&] { started.push_back(0); }), RunCancelled);
  CHECK(started.empty());
}

TEST_CASE("a cancellation flag belongs to the thread that installed it and ends with its scope") {
  std::atomic<bool> cancel{true};
  {
    const ScopedCancellation cancellable(cancel);
    CHECK_THROWS_AS(throw_if_cancelled("here"), RunCancelled);
    int blocks_on_another_thread = 0;
    std::thread other([&] { simt::launch_emulated({3, 1, 1}, 32, 0, [&] { blocks_on_another_thread += simt::thread_idx() == 0; }); });
    other.join();
    CHECK(blocks_on_another_thread == 3);
  }
  CHECK_NOTHROW(throw_if_cancelled("here"));
  int blocks = 0;
  simt::launch_emulated({3, 1, 1}, 32, 0, [&] { blocks += simt::thread_idx() == 0; });
  CHECK(blocks == 3);
}

TEST_CASE("a barrier that some threads never reach is reported as a deadlock, not a hang") {
  REQUIRE_THROWS_WITH(simt::launch_emulated({1, 1, 1}, 128, 0,
                                            [] {
                                              if (simt::thread_idx() < 64) simt::sync_threads();
                                            }),
                      Catch::Contains("deadlock") && Catch::Contains("__syncthreads"));
  REQUIRE_THROWS_WITH(simt::launch_emulated({1, 1, 1}, 64, 0,
                                            [] {
                                              if (simt::thread_idx() % 32 < 16) simt::shfl_xor(1.0f, 1);
                                            }),
                      Catch::Contains("deadlock") && Catch::Contains("warp shuffle"));
}

TEST_CASE("an exception thrown by a kernel body ends the launch with an EmulatorError") {
  REQUIRE_THROWS_AS(simt::launch_emulated({1, 1, 1}, 32, 0,
                                          [] {
                                            if (simt::thread_idx() == 7) throw std::runtime_error("boom");
                                            simt::sync_threads();
                                          }),
                    simt::EmulatorError);
}

TEST_CASE("an unsupported head size or block size is refused by the dispatcher with the supported list") {
  REQUIRE_THROWS_WITH(dispatch_head_size(100, [](auto) {}), Catch::Contains("head_size = 100") &&
                                                              Catch::Contains("32, 64, 80, 96, 112, 120, 128, 192 and 256"));
  REQUIRE_THROWS_WITH(dispatch_block_size(64, [](auto) {}), Catch::Contains("block_size = 64") &&
                                                              Catch::Contains("8, 16 and 32"));
}

TEST_CASE("v1 with a context too long for shared memory is refused with the fix, before any launch") {
  Scenario scenario;
  scenario.num_seqs = 1;
  scenario.seq_lens = {60000};
  scenario.num_heads = scenario.num_kv_heads = 1;
  scenario.head_size = 32;
  scenario.version = KernelVersion::v1;
  const Inputs inputs = generate_inputs(scenario);
  REQUIRE_THROWS_WITH(emulate(scenario, inputs, false),
                      Catch::Contains("max_seq_len = 60000") && Catch::Contains("use --version v2"));
  scenario.version = KernelVersion::automatic;  // upstream's heuristic picks v2 above 8192 tokens
  CHECK(emulate(scenario, inputs, false).version == KernelVersion::v2);
}

TEST_CASE("a recording larger than its limit is refused before launch, saying how large it would be") {
  const Scenario scenario = small_scenario(DType::fp16, KernelVersion::v1);
  const Inputs inputs = generate_inputs(scenario);
  RunOptions options;
  options.backend = Backend::emulator;
  options.record = true;
  options.max_recording_bytes = 1024;
  REQUIRE_THROWS_WITH(run_kernel(scenario, inputs, options),
                      Catch::Contains("debug buffer of") && Catch::Contains("without --record"));
}

TEST_CASE("a block-table entry outside the pool is refused before the kernel reads it") {
  const Scenario scenario = small_scenario(DType::fp16, KernelVersion::v1);
  Inputs inputs = generate_inputs(scenario);
  inputs.block_tables.data<int>()[0] = scenario.effective_num_blocks() + 5;
  REQUIRE_THROWS_AS(emulate(scenario, inputs, false), ScenarioError);
}

TEST_CASE("asking for the GPU backend without a GPU says why and what to use instead") {
  std::string why;
  if (gpu_available(&why)) return;  // this machine has a GPU: the GPU tests cover it
  const Scenario scenario = small_scenario(DType::fp16, KernelVersion::v1);
  const Inputs inputs = generate_inputs(scenario);
  RunOptions options;
  options.backend = Backend::gpu;
  REQUIRE_THROWS_WITH(run_kernel(scenario, inputs, options), Catch::Contains("--backend emulator"));
}
