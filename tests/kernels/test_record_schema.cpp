// Tests of kernels/record_schema.h and the recording's layout: the arrays tile the debug buffer
// without overlapping, each `<name>_at` indexes its declared shape row-major, a variant that does
// not record an array gives it no bytes, and every array a variant records is written by a run.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/inputs.h"
#include "kernels/grouped_launch.h"
#include "kernels/launch.h"
#include "kernels/record_view.h"
#include "kernels/recording.h"

using namespace pal;

namespace {

RecordDims dims_for(KernelVersion version) {
  Scenario s;
  s.seq_lens = {37, 600};
  s.num_seqs = 2;
  s.version = version;
  if (version != KernelVersion::grouped) return record_dims(s);
  // Three splits of 256 tokens, as a plan of the emulator's H200 model might choose.
  GroupedPlan plan = plan_grouped(grouped_plan_request(make_launch_shape(s, KernelVersion::v1),
                                                       GroupedMath::tensor_cores, 3));
  return grouped_record_dims(s, plan);
}

}  // namespace

TEST_CASE("the recorded arrays tile the debug buffer in schema order, 16-byte aligned", "[record_schema]") {
  for (KernelVersion version : kKernelVariants) {
    const RecordLayout layout = record_layout(dims_for(version));
    std::size_t end = 0;
    for (int i = 0; i < kNumRecordArrays; ++i) {
      const RecordArray array = static_cast<RecordArray>(i);
      const RecordLayout::Array& placed = layout.of(array);
      const RecordArrayInfo& info = record_array_info(array);
      INFO(version_name(version) << " " << info.name);
      CHECK(placed.offset % 16 == 0);
      CHECK(placed.offset >= end);
      CHECK(placed.bytes == std::size_t(record_array_shape(array, layout.dims).numel()) * std::size_t(info.element_bytes));
      // An array takes space only in the variants that record it; a recorded one may still be empty
      // for a run (dequantized_kv of an auto cache, whose loads dequantise nothing).
      if (placed.bytes > 0) CHECK(records_array(layout.dims, array));
      end = placed.offset + placed.bytes;
    }
    CHECK(layout.total_bytes >= end);
    CHECK(layout.total_bytes % 16 == 0);
  }
  // The dequantised K/V elements are recorded by v1/v2, and empty with an auto cache.
  CHECK(records_array(dims_for(KernelVersion::v1), RecordArray::dequantized_kv));
  CHECK(record_layout(dims_for(KernelVersion::v1)).of(RecordArray::dequantized_kv).bytes == 0);
  // The reduce kernel's arrays are v2's only; the grouped kernel's arrays are its own.
  CHECK(record_layout(dims_for(KernelVersion::v1)).of(RecordArray::reduce_max_logit).bytes == 0);
  CHECK(record_layout(dims_for(KernelVersion::v2)).of(RecordArray::reduce_max_logit).bytes > 0);
  CHECK(record_layout(dims_for(KernelVersion::grouped)).of(RecordArray::reduce_max_logit).bytes == 0);
  CHECK(record_layout(dims_for(KernelVersion::grouped)).of(RecordArray::tokens).bytes == 0);
  CHECK(record_layout(dims_for(KernelVersion::grouped)).of(RecordArray::grouped_logits).bytes > 0);
  for (KernelVersion paged : {KernelVersion::v1, KernelVersion::v2})
    for (RecordArray grouped : {RecordArray::grouped_logits, RecordArray::split_max_logit, RecordArray::merge_out})
      CHECK(record_layout(dims_for(paged)).of(grouped).bytes == 0);
  Scenario grouped;
  grouped.version = KernelVersion::grouped;
  CHECK_THROWS_AS(record_dims(grouped), ScenarioError);  // its dims need the plan
}

TEST_CASE("the grouped arrays are indexed by (seq, KV head, head chunk, split) blocks", "[record_schema]") {
  const RecordDims d = dims_for(KernelVersion::grouped);
  REQUIRE(d.num_splits == 3);
  REQUIRE(d.num_head_chunks == 1);
  CHECK(d.num_grouped_blocks() == std::int64_t(d.num_seqs) * d.num_kv_heads * d.num_head_chunks * d.num_splits);
  CHECK(d.gb_index(1, 1, 0, 2) == ((1 * d.num_kv_heads + 1) * d.num_head_chunks + 0) * d.num_splits + 2);
  CHECK(d.num_split_steps * kRecordStepTokens == d.kv_blocks_per_split * d.block_size);
  const RecordLayout layout = record_layout(d);
  Recording recording(layout);
  const RecordPointers& p = recording.ptr();
  const std::int64_t gb = d.num_grouped_blocks() - 1;
  CHECK(&p.grouped_logits_at(gb, 1, 0, 5) ==
        p.grouped_logits + ((gb * d.num_split_steps + 1) * d.heads_per_chunk + 0) * kRecordStepTokens + 5);
  CHECK(&p.grouped_warp_acc_at(gb, 3, 1, 7) ==
        p.grouped_warp_acc + ((gb * d.num_warps + 3) * d.rows_per_warp + 1) * d.head_size + 7);
  CHECK(&p.merge_out_at(d.sh_index(1, 3), 2) == p.merge_out + (1 * d.num_heads + 3) * d.head_size + 2);
}

TEST_CASE("a grouped plan comes back from its recording's dims, and damaged dims are refused", "[record_schema]") {
  Scenario s;
  s.seq_lens = {37, 600};
  s.num_seqs = 2;
  s.version = KernelVersion::grouped;
  const RecordDims d = dims_for(KernelVersion::grouped);
  const GroupedPlan plan = grouped_plan_from_dims(s, d);
  CHECK(plan.num_splits == d.num_splits);
  CHECK(plan.kv_blocks_per_split == d.kv_blocks_per_split);
  CHECK(grouped_record_dims(s, plan).num_split_steps == d.num_split_steps);
  RecordDims damaged = d;
  damaged.kv_blocks_per_split += 1;  // not whole tiles
  CHECK_THROWS_AS(grouped_plan_from_dims(s, damaged), ScenarioError);
  damaged = d;
  damaged.num_splits = 1000;  // more splits than the plan's
  CHECK_THROWS_AS(grouped_plan_from_dims(s, damaged), ScenarioError);
  damaged = d;
  damaged.heads_per_chunk = 64;  // an index range the kernel never writes
  CHECK_THROWS_AS(grouped_plan_from_dims(s, damaged), ScenarioError);
  damaged = d;
  damaged.tensor_cores = 7;
  CHECK_THROWS_AS(grouped_plan_from_dims(s, damaged), ScenarioError);
}

TEST_CASE("each array's accessor indexes its declared shape row-major", "[record_schema]") {
  const RecordLayout layout = record_layout(dims_for(KernelVersion::v2));
  Recording recording(layout);
  const RecordPointers& p = recording.ptr();
  const RecordDims& d = layout.dims;
  // Distinct index tuples, last axis fastest: the flat offset is the sum of index * stride.
  const auto shape = record_array_shape(RecordArray::accs, d);
  for (std::int64_t tb : {std::int64_t(0), d.num_thread_blocks() - 1})
    for (int level : {0, d.num_acc_levels - 1})
      for (int thread : {0, 77, d.num_threads - 1})
        for (int row : {0, d.num_rows_per_thread - 1}) {
          const std::int64_t flat = ((tb * shape.extents[1] + level) * shape.extents[2] + thread) * shape.extents[3] + row;
          CHECK(&p.accs_at(tb, level, thread, row) == p.accs + flat);
        }
  CHECK(&p.qk_max_warp_at(3, 2, 5) == p.qk_max_warp + (3 * (d.num_qk_max_warp_steps + 1) + 2) * d.num_threads + 5);
  CHECK(&p.reduce_rescaled_exp_sums_at(1, 1) == p.reduce_rescaled_exp_sums + d.max_num_partitions + 1);
  CHECK(&p.loads_at(2, 3, 4) == p.loads + (2 * d.num_threads + 3) * d.max_loads_per_thread + 4);
  // The last element of every recorded array ends inside the buffer, at its array's end.
  for (int i = 0; i < kNumRecordArrays; ++i) {
    const RecordArray array = static_cast<RecordArray>(i);
    const RecordLayout::Array& placed = layout.of(array);
    CHECK(placed.offset + placed.bytes <= layout.total_bytes);
  }
}

TEST_CASE("a recorded run writes every array its variant records", "[record_schema]") {
  for (KernelVersion version : kKernelVariants) {
    Scenario s;
    s.seq_lens = {37, 600};
    s.num_seqs = 2;
    s.version = version;
    RunOptions options;
    options.backend = Backend::emulator;
    options.record = true;
    const KernelRun run = run_kernel(s, generate_inputs(s), options);
    const Recording& recording = *run.recording;
    for (int i = 0; i < kNumRecordArrays; ++i) {
      const RecordArray array = static_cast<RecordArray>(i);
      const RecordLayout::Array& placed = recording.layout().of(array);
      INFO(version_name(version) << " " << record_array_info(array).name);
      if (placed.bytes == 0) continue;
      // The buffer starts as 0xFF bytes; a written array has at least one byte that is not.
      const std::byte* first = recording.data() + placed.offset;
      CHECK(std::any_of(first, first + placed.bytes, [](std::byte b) { return b != std::byte{0xFF}; }));
    }
  }
}
