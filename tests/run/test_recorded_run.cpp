// Tests of run/recorded_run.h: a recorded run holds what every front end needs, its v1/v2
// look-ups agree with the recording and the reference, bad inputs are refused once with the
// tensor's name, and a recording with an impossible index is refused before anyone walks it.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "kernels/record_view.h"
#include "run/paged_lookups.h"
#include "run/recorded_run.h"
#include "run/run_dump.h"

using namespace pal;
using Catch::Contains;

namespace {

RecordedRunOptions on_emulator() {
  RecordedRunOptions options;
  options.backend = Backend::emulator;
  return options;
}

// The process's peak resident memory (VmHWM, KiB) since reset_peak_memory(); -1 where Linux does
// not let a process reset it (writing 5 to /proc/self/clear_refs).
bool reset_peak_memory() { return static_cast<bool>(std::ofstream("/proc/self/clear_refs") << "5"); }
long peak_memory_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      long kib = -1;
      status >> kib;
      return kib;
    }
    status.ignore(1 << 12, '\n');
  }
  return -1;
}
long current_memory_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      long kib = -1;
      status >> kib;
      return kib;
    }
    status.ignore(1 << 12, '\n');
  }
  return -1;
}

// Runs `refused`, which must throw a ScenarioError containing `phrase`, and checks that it did so
// without touching more than 256 MiB of new memory (issue 14: the inputs used to be generated,
// hundreds of MB, before the limit was checked).
template <typename Body>
void check_refused_before_allocating(Body&& refused, const std::string& phrase) {
  const bool can_measure = reset_peak_memory();
  const long before = current_memory_kib();
  CHECK_THROWS_WITH(refused(), Contains(phrase));
  if (!can_measure || before < 0) {
    WARN("this kernel does not let a process reset its peak memory; the allocation was not measured");
    return;
  }
  CHECK(peak_memory_kib() - before < 256 * 1024);
}

}  // namespace

TEST_CASE("a recorded run holds the kernel run, its recording, the reference and the comparison", "[run]") {
  for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
    Scenario scenario;
    scenario.seq_lens = {37, 600};
    scenario.num_seqs = 2;
    scenario.version = version;
    const RecordedRun run = RecordedRun::from_scenario(scenario, on_emulator());
    INFO(version_name(version));
    CHECK(run.version() == version);
    CHECK(run.requested_scenario().version == version);
    CHECK(run.recorded());
    CHECK(run.report().passed());
    CHECK(run.report().find(Check::final_output) != nullptr);
    CHECK((run.report().find(Stage::partition_reduce) != nullptr) == (version == KernelVersion::v2));
    CHECK(run.reference().version == version);
    CHECK(run.origin() == "scenario (inputs generated from seed 0)");
  }
}

TEST_CASE("the v1/v2 look-ups index the same thread blocks as the recording and the reference", "[run]") {
  Scenario scenario;
  scenario.seq_lens = {37, 1100, 5};
  scenario.num_seqs = 3;
  scenario.version = KernelVersion::v2;
  const RecordedRun run = RecordedRun::from_scenario(scenario, on_emulator());
  const PagedLookups paged = run.paged();
  for (int seq = 0; seq < scenario.num_seqs; ++seq)
    for (int head = 0; head < scenario.num_heads; ++head) {
      CHECK(paged.sh_index(seq, head) == run.dims().sh_index(seq, head));
      for (int part = 0; part < paged.num_partitions(seq); ++part) {
        CHECK(paged.tb_index(seq, head, part) == run.dims().tb_index(seq, head, part));
        const TokenRange range = paged.range(seq, part);
        const ThreadBlockStages& reference = paged.reference(seq, head, part);
        CHECK(reference.range.start_token_idx == range.start_token_idx);
        CHECK(reference.range.end_token_idx == range.end_token_idx);
        // The recorded token in the range's first slot is the range's first token.
        CHECK(paged.thread_block(seq, head, part).token(0).token_idx == range.start_token_idx);
      }
    }
  CHECK(paged.num_partitions(1) == 3);  // 1100 tokens in 512-token partitions
  CHECK(paged.num_partitions(2) == 1);
}

TEST_CASE("inputs that disagree with their scenario are refused with the tensor's name", "[run]") {
  Scenario scenario;
  Inputs inputs = generate_inputs(scenario);
  inputs.block_tables.data<std::int32_t>()[0] = 9999;
  CHECK_THROWS_WITH(RecordedRun::from_inputs(scenario, inputs, on_emulator(), "crafted"), Contains("block_tables[0][0]"));
  Scenario bad = scenario;
  bad.head_size = 100;
  CHECK_THROWS_WITH(RecordedRun::from_scenario(bad, on_emulator()), Contains("head_size"));
}

TEST_CASE("an unrecorded run answers the comparison and refuses recording look-ups with a message", "[run]") {
  RecordedRunOptions options = on_emulator();
  options.record = false;
  const RecordedRun run = RecordedRun::from_scenario(Scenario{}, options);
  CHECK_FALSE(run.recorded());
  CHECK(run.report().passed());
  CHECK(run.report().find(Stage::qk_max) == nullptr);  // only the outputs are compared
  CHECK_THROWS_WITH(run.recording(), Contains("--record"));
}

TEST_CASE("a recording whose loads point outside their tensor is refused before it is walked", "[run]") {
  const RecordedRun run = RecordedRun::from_scenario(Scenario{}, on_emulator());
  CHECK_NOTHROW(check_recorded_indices(run.recording(), run.scenario(), run.inputs()));
  {
    Recording damaged = run.recording();
    damaged.ptr().loads_at(0, 5, 0).element_offset = run.inputs().query.numel();
    CHECK_THROWS_WITH(check_recorded_indices(damaged, run.scenario(), run.inputs()), Contains("thread 5"));
  }
  {
    Recording damaged = run.recording();
    damaged.ptr().load_counts_at(1, 0) = run.dims().max_loads_per_thread + 1;
    CHECK_THROWS_WITH(check_recorded_indices(damaged, run.scenario(), run.inputs()), Contains("claims"));
  }
  {
    Recording damaged = run.recording();
    damaged.ptr().tokens_at(0, 3).lane = 40;
    CHECK_THROWS_WITH(check_recorded_indices(damaged, run.scenario(), run.inputs()), Contains("token slot 3"));
  }
}

TEST_CASE("a grouped recorded run is compared stage by stage with its reference and the oracle", "[run][grouped]") {
  Scenario scenario;
  scenario.seq_lens = {37, 600};
  scenario.num_seqs = 2;
  scenario.num_heads = 8;
  scenario.num_kv_heads = 2;
  scenario.alibi = true;
  scenario.version = KernelVersion::grouped;
  const RecordedRun run = RecordedRun::from_scenario(scenario, on_emulator());
  CHECK(run.version() == KernelVersion::grouped);
  CHECK(run.recorded());
  const ComparisonReport& report = run.report();
  INFO(report.table());
  CHECK(report.passed());
  // Every stage and check of the grouped kernel that compares values has a row with values in it;
  // v1/v2's rows are absent.
  for (StageOrCheck subject : {StageOrCheck(Stage::qk_logits), StageOrCheck(Stage::online_softmax),
                               StageOrCheck(Stage::block_merge), StageOrCheck(Stage::output),
                               StageOrCheck(Stage::split_merge), StageOrCheck(Check::final_output),
                               StageOrCheck(Check::split_state), StageOrCheck(Check::split_partial_out),
                               StageOrCheck(Check::oracle_output)}) {
    INFO(subject.name());
    const StageComparison* row = report.find(subject);
    REQUIRE(row != nullptr);
    CHECK(row->num_compared > 0);
    CHECK(subject.variants().contains(KernelVersion::grouped));
  }
  CHECK(report.find(Stage::qk_max) == nullptr);
  CHECK(report.find(Check::token_assignment) == nullptr);
  CHECK(run.grouped_reference().plan.num_splits == run.kernel().grouped_plan.num_splits);
  CHECK_THROWS_AS(run.paged(), ScenarioError);  // the v1/v2 view does not describe this kernel
}

TEST_CASE("a grouped comparison fails when the kernel's result is off by more than the tolerance", "[run][grouped]") {
  Scenario scenario;
  scenario.seq_lens = {200};
  scenario.num_seqs = 1;
  scenario.version = KernelVersion::grouped;
  RunOptions options;
  options.backend = Backend::emulator;
  options.record = true;
  const Inputs inputs = generate_inputs(scenario);
  KernelRun kernel = run_kernel(scenario, inputs, options);
  const GroupedReferenceRun reference = grouped_reference(scenario, inputs, kernel.grouped_plan);
  const DenseOutput oracle = dense_attention_oracle(inputs);
  REQUIRE(compare_grouped_with_reference(kernel, reference, oracle, inputs).passed());
  // One recorded logit moved by 0.01 and one output element by 1 % + 1e-3: their rows fail, with coordinates.
  const RecordPointers& rec = kernel.recording->ptr();
  rec.grouped_logits_at(0, 0, 0, 3) += 0.01f;
  kernel.output.set_float(5, kernel.output.get_float(5) * 1.01f + 1e-3f);
  const ComparisonReport report = compare_grouped_with_reference(kernel, reference, oracle, inputs);
  CHECK_FALSE(report.passed());
  REQUIRE(report.find(Stage::qk_logits) != nullptr);
  CHECK(report.find(Stage::qk_logits)->num_failed == 1);
  CHECK_THAT(report.find(Stage::qk_logits)->worst_where, Contains("token 3"));
  CHECK(report.find(Check::final_output)->num_failed == 1);
  CHECK(report.find(Check::oracle_output)->num_failed == 1);
}

TEST_CASE("a recording over the limit is refused before the inputs are generated", "[run][memory]") {
  Scenario scenario;  // inputs of about 2 GiB: 4 sequences of 32k tokens, 32 kv heads of 128
  scenario.seq_lens = {32768, 32768, 32768, 32768};
  scenario.num_seqs = 4;
  scenario.num_heads = 32;
  scenario.num_kv_heads = 32;
  scenario.head_size = 128;
  scenario.dtype = DType::fp16;
  REQUIRE(estimated_buffer_bytes(scenario) > (std::int64_t{1} << 30));
  RecordedRunOptions options = on_emulator();
  options.max_recording_bytes = std::size_t{1} << 20;
  check_refused_before_allocating([&] { (void)RecordedRun::from_scenario(scenario, options); }, "debug buffer");
}

TEST_CASE("with writes_dump, the dump's copies of the recording count against the recording limit", "[run][memory]") {
  Scenario scenario;
  scenario.seq_lens = {37, 600};
  scenario.num_seqs = 2;
  RunOptions kernel_options;
  kernel_options.backend = Backend::emulator;
  kernel_options.record = true;
  const RunPlan plan = plan_run(scenario, kernel_options);
  REQUIRE(plan.recording.has_value());
  const std::uint64_t recording = plan.recording->total_bytes;
  const std::uint64_t dump = run_dump_recording_bytes(plan.recording->dims, true);
  CHECK(dump > recording);  // the per-field copies, the raw buffer and the reference's stages

  RecordedRunOptions options = on_emulator();
  options.max_recording_bytes = recording + dump / 2;
  CHECK_NOTHROW(RecordedRun::from_scenario(scenario, options));
  options.writes_dump = true;
  CHECK_THROWS_WITH(RecordedRun::from_scenario(scenario, options), Contains("--output") && Contains("recording limit"));
  options.max_recording_bytes = recording + dump;
  CHECK_NOTHROW(RecordedRun::from_scenario(scenario, options));
}

TEST_CASE("a run whose reference stages outgrow the host-memory limit is refused before allocating", "[run][memory]") {
  Scenario scenario;  // small tensors (one kv head), but 4096 query heads x 1M tokens of logits
  scenario.num_seqs = 64;
  scenario.seq_lens = std::vector<int>(64, 16384);
  scenario.num_heads = 4096;
  scenario.num_kv_heads = 1;
  scenario.head_size = 32;
  REQUIRE(scenario_problems(scenario).empty());
  CHECK(reference_run_bytes(scenario, KernelVersion::v2) > std::uint64_t(kMaxBufferBytes));
  RecordedRunOptions options = on_emulator();
  options.record = false;
  check_refused_before_allocating([&] { (void)RecordedRun::from_scenario(scenario, options); }, "reference's stages");
}

TEST_CASE("reference_run_bytes is at least what the reference keeps for its token vectors", "[run][memory]") {
  for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
    Scenario scenario;
    scenario.seq_lens = {37, 600, 1100};
    scenario.num_seqs = 3;
    scenario.version = version;
    const RecordedRun run = RecordedRun::from_scenario(scenario, on_emulator());
    std::uint64_t kept = 0;
    for (const ThreadBlockStages& stages : run.reference().thread_blocks)
      kept += sizeof(stages) + (stages.q_vecs.size() + stages.logits.size() + stages.exp_values.size() +
                                stages.probs.size() + stages.accumulators.size() + stages.out.size()) * sizeof(float);
    INFO(version_name(version) << ": kept " << kept);
    CHECK(reference_run_bytes(scenario, version) >= kept);
    CHECK(reference_run_bytes(scenario, version) <= 2 * kept + (std::uint64_t{1} << 20));
  }
}
