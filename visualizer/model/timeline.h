// The timeline: the kernel's story for one (seq, head) as a list of small steps, in the order the
// kernel runs them (for v2: every partition's thread_block in turn, then the reduce kernel; for the
// grouped kernel: every split's thread_block in turn, then split_merge, model/grouped.h).
//
// Each step says which threads of the thread_block do its work (the lanes a view highlights) and
// carries a description with the values the recording holds at that point, beside the reference's
// where the reference computes the same quantity.
#pragma once

#include <string>
#include <vector>

#include "visualizer/model/session.h"
#include "visualizer/model/stages.h"

namespace pal::viz {

struct Step {
  StepKind kind = StepKind::query_load;
  int partition_idx = 0;  // v2 partition (grouped: split) of the thread_block (0 in v1); -1 for the second kernel
  int index = 0;          // iteration or pass (from 0); butterfly step (from 1, as recorded); tree level (from 0)
  int xor_mask = 0;       // the shuffle's lane mask for butterfly steps, else 0
  std::vector<unsigned char> active_threads;  // [num_threads]: 1 where the thread does this step's work
  std::string title;        // short: "qk_logits: iteration 1 of 2"
  std::string description;  // what happens, with the recorded values

  Stage stage() const { return stage_of(kind); }
  bool is_active(int thread) const;
  int num_active() const;
};

struct Timeline {
  int seq_idx = 0;
  int head_idx = 0;
  std::vector<Step> steps;

  int size() const { return static_cast<int>(steps.size()); }
  // Index of the step (kind, partition, index), or -1 when the timeline has none.
  int find(StepKind kind, int partition_idx, int index) const;
  int first_of(Stage stage) const;        // -1 when the timeline has no step of that stage
  int first_of(StepKind kind) const;
  int last_of(StepKind kind, int partition_idx) const;
  // Parses "12" (a step index), "last", or a stage name from the registry (its first step). -1 when unknown.
  int parse_step(const std::string& text) const;
};

// Builds the timeline of (seq_idx, head_idx). Throws ScenarioError when out of range.
Timeline build_timeline(const Session& session, int seq_idx, int head_idx);

}  // namespace pal::viz
