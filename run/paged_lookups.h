// The v1/v2 kernel's look-ups over a recorded run (kernels/paged_attention_kernel.h): how its grid
// divides the work into thread_blocks (one per query head and sequence, and for v2 per 512-token
// partition), which records and reference stages belong to a thread_block, and which lane owns which
// data (kernels/thread_mapping.h). A view: it holds a reference to its run.
#pragma once

#include <cstdint>
#include <span>

#include "kernels/geometry.h"
#include "kernels/record_view.h"
#include "kernels/thread_mapping.h"
#include "run/recorded_run.h"

namespace pal {

class PagedLookups {
 public:
  explicit PagedLookups(const RecordedRun& run);  // throws ScenarioError for a variant other than v1/v2

  bool is_v2() const { return run_.version() == KernelVersion::v2; }
  int partition_size() const { return is_v2() ? run_.scenario().partition_size : 0; }  // 0 for v1
  int max_num_partitions() const { return is_v2() ? run_.scenario().max_num_partitions() : 1; }
  int num_partitions(int seq_idx) const;  // partitions with work: 1 in v1
  TokenRange range(int seq_idx, int partition_idx) const;
  // tb = (seq * num_heads + head) * max_num_partitions + partition; sh = seq * num_heads + head.
  std::int64_t tb_index(int seq_idx, int head_idx, int partition_idx) const;
  std::int64_t sh_index(int seq_idx, int head_idx) const;
  ThreadMapping mapping() const { return ThreadMapping{run_.geometry()}; }

  // The records of one thread_block, and of the v2 reduce for one (seq, head); the run must be recorded.
  ThreadBlockRecord thread_block(int seq_idx, int head_idx, int partition_idx) const;
  ThreadBlockRecord thread_block(std::int64_t tb) const;
  ReduceRecord reduce(int seq_idx, int head_idx) const;
  // The reference's stages of the same thread_block.
  const ThreadBlockStages& reference(int seq_idx, int head_idx, int partition_idx) const;

 private:
  const RecordedRun& run_;
};

}  // namespace pal
