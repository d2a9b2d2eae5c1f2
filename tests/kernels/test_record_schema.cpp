// Tests of kernels/record_schema.h and the recording's layout: the arrays tile the debug buffer
// without overlapping, each `<name>_at` indexes its declared shape row-major, a variant that does
// not record an array gives it no bytes, and every array a variant records is written by a run.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/inputs.h"
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
  return record_dims(s);
}

}  // namespace

TEST_CASE("the recorded arrays tile the debug buffer in schema order, 16-byte aligned", "[record_schema]") {
  for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
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
      CHECK((placed.bytes > 0) == records_array(layout.dims, array));
      end = placed.offset + placed.bytes;
    }
    CHECK(layout.total_bytes >= end);
    CHECK(layout.total_bytes % 16 == 0);
  }
  // The reduce kernel's arrays are v2's only.
  CHECK(record_layout(dims_for(KernelVersion::v1)).of(RecordArray::reduce_max_logit).bytes == 0);
  CHECK(record_layout(dims_for(KernelVersion::v2)).of(RecordArray::reduce_max_logit).bytes > 0);
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
  for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
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
