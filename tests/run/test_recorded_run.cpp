// Tests of run/recorded_run.h: a recorded run holds what every front end needs, its v1/v2
// look-ups agree with the recording and the reference, bad inputs are refused once with the
// tensor's name, and a recording with an impossible index is refused before anyone walks it.
#include <catch2/catch.hpp>

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
