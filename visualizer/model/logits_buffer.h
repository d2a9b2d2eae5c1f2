// The shared logits buffer of one thread_block as it is at a step of the timeline: the kernel writes
// it three times in place, and the design doc's point is that one float array carries the softmax
// from raw scores to probabilities.
//
//   qk_logits   iteration i: each warp's kv_block of that iteration gets scale * q.k (+ ALiBi) in
//               its slots (padding slots past seq_len get 0, slots of a kv_block block sparsity
//               skipped -FLT_MAX);
//   exp_sum     pass p: slots [p * NUM_THREADS, (p + 1) * NUM_THREADS) become exp(logit - max);
//   softmax     pass p: the same slots become probabilities, e / (exp_sum + 1e-6).
//
// Which step writes which slot is said once below (the kernel's loops: warp w takes kv_block
// w + i * NUM_WARPS; thread t takes slots t, t + NUM_THREADS, ...); the timeline builds its passes
// from the same functions, and a slot's state at a step follows from where that step lies in the
// timeline's order. The values are the recording's (TokenRecord.logit, exp_values, probs), never
// recomputed. v2: one buffer per partition (each partition's thread_block normalises its own slots).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "visualizer/model/session.h"
#include "visualizer/model/timeline.h"

namespace pal::viz {

// What a slot of the buffer holds, in the order the kernel moves it along.
enum class LogitsState : unsigned char { empty, raw_logit, exp_value, probability };
inline constexpr int kNumLogitsStates = 4;
// "not written yet", "raw logits", "exp(logit - max)", "probabilities"
std::string_view logits_state_name(LogitsState state);

// ---- which step writes a slot (the kernel's loops) ------------------------------------------------
// A slot is token_idx - start_token_idx of the thread_block; partitions start on a kv_block edge.
int qk_iteration_of_slot(int slot, int block_size, int num_warps);  // the qk_logits iteration that writes it
int token_pass_of_slot(int slot, int num_threads);                  // the exp / normalise pass that rewrites it
struct SlotRange {
  int begin = 0;  // [begin, end)
  int end = 0;
};
// The slots pass `pass` of the exp or normalise loop covers, of a thread_block with num_tokens tokens.
SlotRange token_pass_slots(int pass, int num_threads, int num_tokens);
int num_token_passes(int num_threads, int num_tokens);  // at least 1, as the timeline shows an empty pass

struct LogitsSlot {
  LogitsState state = LogitsState::empty;
  float value = 0.0f;   // what the buffer holds (0 while empty)
  int token_idx = 0;    // position in the sequence
  bool padding = false;  // past seq_len in a partial last kv_block: 0 from the QK write on
  bool skipped = false;  // block sparsity skipped its kv_block: -FLT_MAX, then exp 0, probability 0
};

// The values of one state in the buffer: where they are and their range (padding and skipped slots
// left out of the range, as they hold no score).
struct LogitsStateSpan {
  int num_slots = 0;
  int first_slot = -1;  // -1 when no slot is in this state
  int last_slot = -1;
  float min_value = 0.0f;
  float max_value = 0.0f;
  bool has_values = false;  // some slot in this state has a value (not only padding / skipped)
};

struct LogitsBuffer {
  int partition_idx = 0;
  TokenRange range{0, 0, 0, 0};
  std::vector<LogitsSlot> slots;  // [range.num_blocks() * block_size]: every slot the QK loop writes
  LogitsStateSpan spans[kNumLogitsStates];

  const LogitsStateSpan& span(LogitsState state) const { return spans[static_cast<int>(state)]; }
  // The figure's caption: each state present, with its slots and value range, latest state first:
  // "exp(logit - max) in slots 0-127 [0.0312, 1]; raw logits in slots 128-199 [-3.1, 2.4]".
  std::string caption() const;
};

// The buffer of the thread_block a step shows (its partition; for the v2 reduce steps, the last
// partition's, whose buffer holds probabilities by then), at that step: a slot's state is the
// latest of its three writes the timeline has reached at `step` (inclusive).
LogitsBuffer logits_buffer_at(const Session& session, const Timeline& timeline, int step);

}  // namespace pal::viz
