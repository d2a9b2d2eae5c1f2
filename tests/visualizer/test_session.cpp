// Sessions from scenarios and from dump files; bad input gives a message, never a crash.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <chrono>
#include <fstream>
#include <thread>

#include "core/cancellation.h"
#include "core/safetensors.h"
#include "run/run_dump.h"
#include "tests/visualizer/viz_test_support.h"
#include "visualizer/model/view_model.h"

namespace pal::viz {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("pal_viz_test_" + name)).string();
}

TEST_CASE("a session from the default scenario holds the run, its recording and the reference") {
  const Session session = make_session(Scenario{}, Backend::emulator);
  CHECK(session.kernel().backend == Backend::emulator);
  CHECK(session.kernel().version == KernelVersion::v1);
  CHECK_FALSE(session.recording().empty());
  CHECK(session.reference().thread_blocks.size() == 2u * 4u);
  // The block table read backwards: every block a sequence uses has that sequence as owner.
  for (int seq = 0; seq < 2; ++seq)
    for (int logical = 0; logical < divide_round_up(session.seq_len(seq), 16); ++logical) {
      const BlockOwner& owner = session.block_owners()[static_cast<std::size_t>(session.physical_block(seq, logical))];
      CHECK(owner.seq_idx == seq);
      CHECK(owner.logical_block_idx == logical);
    }
  // 37 tokens: the last block holds 5.
  CHECK(session.block_owners()[static_cast<std::size_t>(session.physical_block(0, 2))].num_valid_tokens == 5);
}

TEST_CASE("an invalid scenario is refused with the field's name") {
  Scenario scenario;
  scenario.head_size = 100;
  CHECK_THROWS_WITH(make_session(scenario, Backend::emulator), Catch::Contains("head_size"));
  ViewModel model;
  CHECK_THROWS_AS(model.open_scenario(scenario, Backend::emulator), ScenarioError);
  CHECK_FALSE(model.ready());
}

TEST_CASE("a failed re-run keeps the previous session") {
  ViewModel model;
  model.open_scenario(Scenario{}, Backend::emulator);
  Scenario bad;
  bad.block_size = 7;
  CHECK_THROWS_WITH(model.open_scenario(bad, Backend::emulator), Catch::Contains("block_size"));
  REQUIRE(model.ready());
  CHECK(model.session().scenario().block_size == 16);
}

TEST_CASE("a dump with a recording is shown as recorded, without a re-run") {
  const Session original = make_session(Scenario{}, Backend::emulator);
  const std::string path = temp_path("recorded.safetensors");
  write_run_dump(path, original.inputs(), original.kernel(), &original.reference());
  const Session reloaded = session_from_dump(path, Backend::emulator);
  CHECK(reloaded.dump_path() == path);
  CHECK_FALSE(reloaded.rerun_from_dump());
  CHECK(reloaded.kernel().output.bytes == original.kernel().output.bytes);
  REQUIRE(reloaded.recording().size_bytes() == original.recording().size_bytes());
  CHECK(std::memcmp(reloaded.kernel().recording->data(), original.kernel().recording->data(),
                    original.recording().size_bytes()) == 0);
  CHECK_THAT(reloaded.dump_check(), Catch::Contains("nothing was re-run"));
  std::filesystem::remove(path);
}

TEST_CASE("a dump without a recording is re-run and checked against its stored output") {
  const Session original = make_session(Scenario{}, Backend::emulator);
  const std::string path = temp_path("unrecorded.safetensors");
  KernelRun without_recording = original.kernel();
  without_recording.recording.reset();
  write_run_dump(path, original.inputs(), without_recording, nullptr);
  const Session reloaded = session_from_dump(path, Backend::emulator);
  CHECK(reloaded.rerun_from_dump());
  CHECK(reloaded.kernel().output.bytes == original.kernel().output.bytes);
  CHECK_THAT(reloaded.dump_check(), Catch::Contains("exactly"));

  // A different stored output is reported, not hidden.
  without_recording.output.set_float(3, without_recording.output.get_float(3) + 1.0f);
  write_run_dump(path, original.inputs(), without_recording, nullptr);
  CHECK_THAT(session_from_dump(path, Backend::emulator).dump_check(), Catch::Contains("1 of"));
  std::filesystem::remove(path);
}

TEST_CASE("a file holding only inputs is re-run") {
  const Session original = make_session(Scenario{}, Backend::emulator);
  const std::string path = temp_path("inputs.safetensors");
  save_inputs(path, original.requested_scenario(), original.inputs());
  const Session reloaded = session_from_dump(path, Backend::emulator);
  CHECK(reloaded.rerun_from_dump());
  CHECK(reloaded.kernel().output.bytes == original.kernel().output.bytes);
  CHECK_THAT(reloaded.dump_check(), Catch::Contains("inputs only"));
  std::filesystem::remove(path);
}

TEST_CASE("a file that is not a dump gives a message naming the file") {
  const std::string path = temp_path("garbage.safetensors");
  {
    std::ofstream out(path, std::ios::binary);
    out << "this is not a safetensors file at all";
  }
  CHECK_THROWS_WITH(session_from_dump(path, Backend::emulator), Catch::Contains(path));
  CHECK_THROWS_AS(session_from_dump(temp_path("does_not_exist.safetensors"), Backend::emulator), ScenarioError);
  std::filesystem::remove(path);
}

TEST_CASE("the view model keeps the focus across re-runs when it still exists") {
  ViewModel model;
  model.open_scenario(Scenario{}, Backend::emulator);
  model.set_focus(1, 3);
  Scenario smaller;
  smaller.num_heads = 2;
  smaller.num_kv_heads = 1;
  model.open_scenario(smaller, Backend::emulator);
  CHECK(model.seq_idx() == 1);
  CHECK(model.head_idx() == 1);  // clamped to the last head
  CHECK(model.timeline().size() > 0);
  CHECK(model.clamp_step(100000) == model.timeline().size() - 1);
}

// Polls until the background run has finished (a run of these small scenarios takes well under a
// second; the bound only keeps a broken run from hanging the test).
ViewModel::Poll wait_for_background(ViewModel& model, std::string& error) {
  for (int i = 0; i < 6000; ++i) {
    const ViewModel::Poll poll = model.poll_background(error);
    if (poll != ViewModel::Poll::running) return poll;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ViewModel::Poll::running;
}

TEST_CASE("a background run replaces the session only when it has finished, and a failed one keeps it") {
  ViewModel model;
  model.open_scenario(Scenario{}, Backend::emulator);
  const int before = model.timeline().size();
  std::string error;
  CHECK(model.poll_background(error) == ViewModel::Poll::idle);
  Scenario longer;
  longer.seq_lens = {37, 300};
  model.start_background(longer, Backend::emulator);
  CHECK(model.background_running());
  CHECK_THROWS_AS(model.start_background(longer, Backend::emulator), ScenarioError);  // one at a time
  REQUIRE(wait_for_background(model, error) == ViewModel::Poll::opened);
  CHECK_FALSE(model.background_running());
  CHECK(model.session().seq_len(1) == 300);
  model.set_focus(1, 0);
  CHECK(model.timeline().size() > before);
  // An invalid scenario fails with the validator's message; the session stays.
  Scenario invalid;
  invalid.head_size = 100;
  model.start_background(invalid, Backend::emulator);
  REQUIRE(wait_for_background(model, error) == ViewModel::Poll::failed);
  CHECK_THAT(error, Catch::Contains("head_size = 100"));
  CHECK(model.session().seq_len(1) == 300);
}

TEST_CASE("a cancelled background run stops early and keeps the session that was shown") {
  ViewModel model;
  model.open_scenario(Scenario{}, Backend::emulator);
  const int steps_before = model.timeline().size();
  std::string error;
  model.cancel_background();  // nothing runs: nothing happens
  CHECK(model.poll_background(error) == ViewModel::Poll::idle);
  // 30,000 tokens x 4 heads: seconds of emulation, against the microseconds before the cancel.
  Scenario long_run;
  long_run.num_seqs = 1;
  long_run.seq_lens = {30000};
  long_run.version = KernelVersion::v1;
  model.start_background(long_run, Backend::emulator);
  model.cancel_background();
  CHECK(model.background_cancelling());
  REQUIRE(wait_for_background(model, error) == ViewModel::Poll::cancelled);
  CHECK_THAT(error, Catch::StartsWith("cancelled"));
  CHECK_FALSE(model.background_running());
  CHECK_FALSE(model.background_cancelling());
  CHECK(model.session().scenario().seq_lens == std::vector<int>{37, 100});
  CHECK(model.timeline().size() == steps_before);
  // The next run starts clean (no flag left set) and opens.
  Scenario next;
  next.seq_lens = {37, 60};
  model.start_background(next, Backend::emulator);
  REQUIRE(wait_for_background(model, error) == ViewModel::Poll::opened);
  CHECK(model.session().seq_len(1) == 60);
}

TEST_CASE("a run under a cancellation flag that is already set is refused before the kernel starts") {
  std::atomic<bool> cancel{true};
  const ScopedCancellation cancellable(cancel);
  CHECK_THROWS_AS(make_session(Scenario{}, Backend::emulator), RunCancelled);
}

TEST_CASE("a million-token context is refused at once, naming pal-viz's memory budget and what to do") {
  Scenario huge;
  huge.seq_lens = {1048576};
  huge.num_seqs = 1;
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(session_memory(huge, Backend::emulator).total() > kVizMemoryBudgetBytes);
  try {
    (void)make_session(huge, Backend::emulator);
    FAIL("a scenario beyond the budget was run");
  } catch (const ScenarioError& error) {
    CHECK_THAT(error.what(), Catch::Contains("budget of"));
    CHECK_THAT(error.what(), Catch::Contains("pal-run"));
  }
  // Refused from the plan, before any input is generated: well under a second, not minutes.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("the memory a session plans for is what its recording takes") {
  const Scenario scenario = GENERATE(Scenario{}, [] {
    Scenario v2;
    v2.seq_lens = {1500, 20};
    v2.version = KernelVersion::v2;
    return v2;
  }());
  const SessionMemory planned = session_memory(scenario, Backend::emulator);
  const Session& session = test::cached_session(scenario);
  CHECK(planned.recording == session.recording().size_bytes());
  CHECK(planned.tensors > 0);
  CHECK(planned.reference > 0);
  CHECK(planned.total() <= kVizMemoryBudgetBytes);
}

}  // namespace
}  // namespace pal::viz
