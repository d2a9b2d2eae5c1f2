// The debug buffer that the recording probe fills: every intermediate of every thread_block.
//
// Layout: one byte buffer holding the arrays of kernels/record_schema.h back to back, in the
// schema's order, each 16-byte aligned (RecordLayout gives the offsets), so the GPU and the emulator
// fill the same bytes and one copy brings a GPU recording to the host. The buffer starts filled with
// 0xFF bytes: an unwritten float reads as NaN and an unwritten int as -1, so anything the kernel did
// not record is visible as such. What each array holds, and its shape, is the schema's business.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/host_device.h"
#include "kernels/geometry.h"
#include "kernels/record_schema.h"

namespace pal {

struct Scenario;

struct RecordLayout {
  RecordDims dims;
  struct Array {
    std::size_t offset = 0;  // bytes from the buffer's start (16-byte aligned)
    std::size_t bytes = 0;   // 0 for an array this variant does not record
  };
  Array arrays[kNumRecordArrays];
  std::size_t total_bytes = 0;

  const Array& of(RecordArray array) const { return arrays[static_cast<std::size_t>(array)]; }
  RecordPointers pointers(std::byte* base) const;
};

// The default cap on a recording; a larger scenario is refused before launch with a message that
// says how big it would be and which fields to shrink.
inline constexpr std::size_t kDefaultMaxRecordingBytes = std::size_t(2) << 30;

// For the scenario's resolved version, v1 or v2 (grouped: grouped_record_dims in
// kernels/grouped_launch.h, from the plan; this one throws ScenarioError for grouped).
RecordDims record_dims(const Scenario& scenario);
RecordLayout record_layout(const RecordDims& dims);
// "734 bytes", "2048 MiB" (rounded up): sizes of memory in the limits' messages.
std::string describe_memory(std::uint64_t bytes);
// Throws ScenarioError when the layout exceeds max_bytes.
void check_recording_fits(const RecordLayout& layout, std::size_t max_bytes = kDefaultMaxRecordingBytes);

// A recording on the host: owns the buffer, hands out the typed pointers.
class Recording {
 public:
  Recording() = default;
  explicit Recording(const RecordLayout& layout);  // allocates and fills with 0xFF
  Recording(const Recording& other);
  Recording& operator=(const Recording& other);
  Recording(Recording&&) noexcept = default;
  Recording& operator=(Recording&&) noexcept = default;

  const RecordLayout& layout() const { return layout_; }
  const RecordDims& dims() const { return layout_.dims; }
  const RecordPointers& ptr() const { return pointers_; }
  std::byte* data() { return buffer_.data(); }
  const std::byte* data() const { return buffer_.data(); }
  std::size_t size_bytes() const { return buffer_.size(); }
  bool empty() const { return buffer_.empty(); }

 private:
  RecordLayout layout_{};
  std::vector<std::byte> buffer_;
  RecordPointers pointers_{};
};

}  // namespace pal
