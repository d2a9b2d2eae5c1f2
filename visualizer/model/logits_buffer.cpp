#include "visualizer/model/logits_buffer.h"

#include <algorithm>

#include "kernels/record_view.h"
#include "visualizer/model/format.h"

namespace pal::viz {

std::string_view logits_state_name(LogitsState state) {
  switch (state) {
    case LogitsState::empty: return "not written yet";
    case LogitsState::raw_logit: return "raw logits";
    case LogitsState::exp_value: return "exp(logit - max)";
    case LogitsState::probability: return "probabilities";
  }
  return "?";
}

int qk_iteration_of_slot(int slot, int block_size, int num_warps) { return (slot / block_size) / num_warps; }

int token_pass_of_slot(int slot, int num_threads) { return slot / num_threads; }

SlotRange token_pass_slots(int pass, int num_threads, int num_tokens) {
  const int begin = pass * num_threads;
  return {begin, std::max(begin, std::min(begin + num_threads, num_tokens))};
}

int num_token_passes(int num_threads, int num_tokens) { return std::max(1, divide_round_up(num_tokens, num_threads)); }

std::string LogitsBuffer::caption() const {
  std::string text;
  for (int s = kNumLogitsStates - 1; s >= 0; --s) {
    const LogitsStateSpan& sp = spans[s];
    if (sp.num_slots == 0) continue;
    if (!text.empty()) text += "; ";
    text += std::string(logits_state_name(static_cast<LogitsState>(s)));
    text += sp.first_slot == sp.last_slot ? " in slot " + std::to_string(sp.first_slot)
                                          : " in slots " + std::to_string(sp.first_slot) + "-" + std::to_string(sp.last_slot);
    if (sp.has_values) text += " [" + format_value(sp.min_value) + ", " + format_value(sp.max_value) + "]";
  }
  return text.empty() ? "empty" : text;
}

LogitsBuffer logits_buffer_at(const Session& session, const Timeline& timeline, int step) {
  LogitsBuffer buffer;
  if (timeline.size() == 0) return buffer;
  step = std::clamp(step, 0, timeline.size() - 1);
  const Step& now = timeline.steps[static_cast<std::size_t>(step)];
  const int seq = timeline.seq_idx;
  buffer.partition_idx = now.partition_idx >= 0 ? now.partition_idx : session.num_partitions(seq) - 1;
  const int partition = buffer.partition_idx;
  buffer.range = session.range(seq, partition);
  const KernelGeometry g = session.geometry();
  const int num_threads = session.dims().num_threads;
  const int num_tokens = buffer.range.num_tokens();
  const int seq_len = session.seq_len(seq);

  // Where each write of this thread_block sits in the timeline; a write is done once the step is at
  // or past it. A write the timeline does not have (-1) is never reached.
  const auto reached = [&](StepKind kind, int index) {
    const int at = timeline.find(kind, partition, index);
    return at >= 0 && step >= at;
  };
  const int num_iterations = divide_round_up(buffer.range.num_blocks(), g.num_warps());
  const int num_passes = num_token_passes(num_threads, num_tokens);
  std::vector<char> qk_done(static_cast<std::size_t>(num_iterations)), exp_done(static_cast<std::size_t>(num_passes)),
      normalise_done(static_cast<std::size_t>(num_passes));
  for (int i = 0; i < num_iterations; ++i) qk_done[static_cast<std::size_t>(i)] = reached(StepKind::qk_iteration, i);
  for (int p = 0; p < num_passes; ++p) {
    exp_done[static_cast<std::size_t>(p)] = reached(StepKind::exp_pass, p);
    normalise_done[static_cast<std::size_t>(p)] = reached(StepKind::normalize_pass, p);
  }

  const ThreadBlockRecord record(session.recording(), session.tb_index(seq, timeline.head_idx, partition));
  const int num_slots = buffer.range.num_blocks() * g.block_size;
  buffer.slots.resize(static_cast<std::size_t>(num_slots));
  for (int slot = 0; slot < num_slots; ++slot) {
    LogitsSlot& out = buffer.slots[static_cast<std::size_t>(slot)];
    out.token_idx = buffer.range.start_token_idx + slot;
    out.padding = out.token_idx >= seq_len;
    if (!qk_done[static_cast<std::size_t>(qk_iteration_of_slot(slot, g.block_size, g.num_warps()))]) continue;
    const TokenRecord& token = record.token(slot);
    out.skipped = token.skipped != 0;
    out.state = LogitsState::raw_logit;
    // The QK loop stores 0 in a padding slot (the record keeps the raw score) and -FLT_MAX in a
    // skipped one; the exp and normalise loops stop at num_tokens and leave padding slots alone.
    out.value = out.padding ? 0.0f : token.logit;
    if (slot >= num_tokens) continue;
    const int pass = token_pass_of_slot(slot, num_threads);
    if (normalise_done[static_cast<std::size_t>(pass)]) {
      out.state = LogitsState::probability;
      out.value = record.prob(slot);
    } else if (exp_done[static_cast<std::size_t>(pass)]) {
      out.state = LogitsState::exp_value;
      out.value = record.exp_value(slot);
    }
  }

  for (int slot = 0; slot < num_slots; ++slot) {
    const LogitsSlot& s = buffer.slots[static_cast<std::size_t>(slot)];
    if (s.padding) continue;  // no score: drawn as padding, not counted in any state's span
    LogitsStateSpan& sp = buffer.spans[static_cast<int>(s.state)];
    ++sp.num_slots;
    if (sp.first_slot < 0) sp.first_slot = slot;
    sp.last_slot = slot;
    if (s.state == LogitsState::empty || s.skipped) continue;
    sp.min_value = sp.has_values ? std::min(sp.min_value, s.value) : s.value;
    sp.max_value = sp.has_values ? std::max(sp.max_value, s.value) : s.value;
    sp.has_values = true;
  }
  return buffer;
}

}  // namespace pal::viz
