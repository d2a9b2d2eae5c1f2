// The shared logits buffer fills in place along the timeline: raw logits as the QK iterations write
// them, exp(logit - max) pass by pass, then probabilities, each value the recording's, and for v2 one
// buffer per partition that sums to 1 on its own.
#include <catch2/catch.hpp>

#include <cmath>

#include "kernels/record_view.h"
#include "tests/visualizer/viz_test_support.h"
#include "visualizer/model/logits_buffer.h"
#include "visualizer/model/timeline.h"

namespace pal::viz {
namespace {

using test::cached_session;

Scenario scenario_with(std::vector<int> seq_lens, KernelVersion version = KernelVersion::v1) {
  Scenario scenario;
  scenario.num_seqs = static_cast<int>(seq_lens.size());
  scenario.seq_lens = std::move(seq_lens);
  scenario.version = version;
  return scenario;
}

int count_state(const LogitsBuffer& buffer, LogitsState state) {
  int count = 0;
  for (const LogitsSlot& slot : buffer.slots) count += !slot.padding && slot.state == state;
  return count;
}

TEST_CASE("the exp and normalise passes cover every token slot once, NUM_THREADS slots at a time") {
  const int num_threads = GENERATE(32, 128, 256);
  const int num_tokens = GENERATE(1, 31, 128, 129, 300, 512);
  int next = 0;
  for (int pass = 0; pass < num_token_passes(num_threads, num_tokens); ++pass) {
    const SlotRange slots = token_pass_slots(pass, num_threads, num_tokens);
    CHECK(slots.begin == next);
    CHECK(slots.end - slots.begin <= num_threads);
    for (int slot = slots.begin; slot < slots.end; ++slot) CHECK(token_pass_of_slot(slot, num_threads) == pass);
    next = slots.end;
  }
  CHECK(next == num_tokens);
}

TEST_CASE("at a qk_logits iteration the slots written so far hold the recorded logits and the rest are empty") {
  // 300 tokens, block 16: 19 kv_blocks over 4 warps, 5 QK iterations; 3 exp passes of 128 threads.
  const Session& session = cached_session(scenario_with({300}));
  const KernelGeometry g = session.geometry();
  const Timeline timeline = build_timeline(session, 0, 1);
  const ThreadBlockRecord record(session.recording(), session.tb_index(0, 1, 0));
  const int num_blocks = divide_round_up(300, g.block_size);
  for (int iteration = 0; iteration < divide_round_up(num_blocks, g.num_warps()); ++iteration) {
    const int step = timeline.find(StepKind::qk_iteration, 0, iteration);
    REQUIRE(step >= 0);
    const LogitsBuffer buffer = logits_buffer_at(session, timeline, step);
    REQUIRE(static_cast<int>(buffer.slots.size()) == num_blocks * g.block_size);
    // Warp w takes kv_block w + i * NUM_WARPS: after iteration i the first (i + 1) * NUM_WARPS blocks are written.
    const int written = std::min(num_blocks, (iteration + 1) * g.num_warps()) * g.block_size;
    INFO("iteration " << iteration << ", " << written << " slots written");
    for (int slot = 0; slot < static_cast<int>(buffer.slots.size()); ++slot) {
      const LogitsSlot& s = buffer.slots[static_cast<std::size_t>(slot)];
      INFO("slot " << slot);
      CHECK(s.token_idx == slot);
      if (slot >= written) {
        CHECK(s.state == LogitsState::empty);
      } else if (s.padding) {
        CHECK(s.value == 0.0f);  // the QK loop writes 0 past seq_len
      } else {
        CHECK(s.state == LogitsState::raw_logit);
        CHECK(s.value == record.token(slot).logit);
      }
    }
    CHECK(buffer.span(LogitsState::raw_logit).num_slots == std::min(written, 300));
  }
  // The max steps read the logits without changing them.
  const LogitsBuffer at_max = logits_buffer_at(session, timeline, timeline.first_of(StepKind::qk_max_broadcast));
  CHECK(count_state(at_max, LogitsState::raw_logit) == 300);
}

TEST_CASE("each exp pass turns its slots into the recorded exp values, each normalise pass into probabilities") {
  const Session& session = cached_session(scenario_with({300}));
  const int num_threads = session.dims().num_threads;
  const Timeline timeline = build_timeline(session, 0, 1);
  const ThreadBlockRecord record(session.recording(), session.tb_index(0, 1, 0));
  const int num_passes = num_token_passes(num_threads, 300);
  REQUIRE(num_passes == 3);
  for (StepKind kind : {StepKind::exp_pass, StepKind::normalize_pass}) {
    const LogitsState after = kind == StepKind::exp_pass ? LogitsState::exp_value : LogitsState::probability;
    const LogitsState before = kind == StepKind::exp_pass ? LogitsState::raw_logit : LogitsState::exp_value;
    for (int pass = 0; pass < num_passes; ++pass) {
      const LogitsBuffer buffer = logits_buffer_at(session, timeline, timeline.find(kind, 0, pass));
      const int done = token_pass_slots(pass, num_threads, 300).end;
      INFO(stage_name(stage_of(kind)) << " pass " << pass);
      for (int slot = 0; slot < 300; ++slot) {
        const LogitsSlot& s = buffer.slots[static_cast<std::size_t>(slot)];
        INFO("slot " << slot);
        CHECK(s.state == (slot < done ? after : before));
        const float expected = s.state == LogitsState::exp_value     ? record.exp_value(slot)
                               : s.state == LogitsState::probability ? record.prob(slot)
                                                                     : record.token(slot).logit;
        CHECK(s.value == expected);
      }
      CHECK(buffer.span(after).num_slots == done);
      CHECK(buffer.span(after).first_slot == 0);
      CHECK(buffer.span(after).last_slot == done - 1);
    }
  }
  // The caption names the states present with their slots and value range, latest state first.
  const LogitsBuffer mixed = logits_buffer_at(session, timeline, timeline.find(StepKind::exp_pass, 0, 0));
  const std::string caption = mixed.caption();
  CHECK(caption.rfind("exp(logit - max) in slots 0-127 [", 0) == 0);
  CHECK(caption.find("; raw logits in slots 128-299 [") != std::string::npos);
  CHECK(mixed.span(LogitsState::exp_value).max_value <= 1.0f);
}

TEST_CASE("after normalisation the logits buffer holds probabilities that sum to 1, padding slots 0") {
  // 37 tokens in 3 kv_blocks of 16: 11 padding slots.
  const Session& session = cached_session(scenario_with({37, 100}));
  const Timeline timeline = build_timeline(session, 0, 3);
  for (int step : {timeline.last_of(StepKind::normalize_pass, 0), timeline.first_of(StepKind::v_iteration),
                   timeline.size() - 1}) {
    const LogitsBuffer buffer = logits_buffer_at(session, timeline, step);
    REQUIRE(buffer.slots.size() == 48);
    double sum = 0.0;
    for (const LogitsSlot& s : buffer.slots) {
      if (s.padding) {
        CHECK(s.value == 0.0f);
        continue;
      }
      CHECK(s.state == LogitsState::probability);
      sum += s.value;
    }
    CHECK(sum == Approx(1.0).epsilon(1e-5));
    CHECK(buffer.span(LogitsState::probability).num_slots == 37);
    CHECK(buffer.span(LogitsState::probability).last_slot == 36);
    CHECK(buffer.caption().rfind("probabilities in slots 0-36 [", 0) == 0);
  }
  // Before the QK loop nothing is written.
  const LogitsBuffer first = logits_buffer_at(session, timeline, 0);
  CHECK(count_state(first, LogitsState::empty) == 37);
  CHECK(first.caption() == "not written yet in slots 0-36");
}

TEST_CASE("v2: each partition's buffer fills on its own and its probabilities sum to 1 per partition") {
  // 1300 tokens with partition_size 512: three thread_blocks of 512, 512 and 276 tokens.
  const Session& session = cached_session(scenario_with({1300}, KernelVersion::v2));
  REQUIRE(session.is_v2());
  REQUIRE(session.num_partitions(0) == 3);
  const Timeline timeline = build_timeline(session, 0, 2);
  for (int partition = 0; partition < 3; ++partition) {
    const TokenRange range = session.range(0, partition);
    INFO("partition " << partition);
    // At the partition's first QK iteration its own buffer is being written, from its first token.
    const LogitsBuffer filling = logits_buffer_at(session, timeline, timeline.find(StepKind::qk_iteration, partition, 0));
    CHECK(filling.partition_idx == partition);
    CHECK(filling.range.start_token_idx == range.start_token_idx);
    CHECK(filling.slots.front().token_idx == range.start_token_idx);
    CHECK(filling.slots.front().state == LogitsState::raw_logit);
    CHECK(filling.slots.back().state == (range.num_blocks() <= session.geometry().num_warps() ? LogitsState::raw_logit
                                                                                            : LogitsState::empty));
    // After its last normalise pass: probabilities of this partition only, summing to 1.
    const LogitsBuffer normalised = logits_buffer_at(session, timeline, timeline.last_of(StepKind::normalize_pass, partition));
    double sum = 0.0;
    int count = 0;
    for (const LogitsSlot& s : normalised.slots) {
      if (s.padding) continue;
      CHECK(s.state == LogitsState::probability);
      sum += s.value;
      ++count;
    }
    CHECK(count == range.num_tokens());
    CHECK(sum == Approx(1.0).epsilon(1e-5));
  }
  // The reduce steps show the last partition's buffer, normalised.
  const LogitsBuffer at_reduce = logits_buffer_at(session, timeline, timeline.first_of(StepKind::reduce_max));
  CHECK(at_reduce.partition_idx == 2);
  CHECK(count_state(at_reduce, LogitsState::probability) == 1300 - 2 * 512);
}

}  // namespace
}  // namespace pal::viz
