// Kernel inputs generated directly in device memory, for shapes whose KV cache is too large for the
// host generator (core's generate_inputs is scalar and would need minutes and tens of GB of host
// memory for, say, 128 sequences x 32768 tokens x 32 KV heads: 64 GiB of fp16 K and V).
//
// The values follow the same distribution as core's generator (uniform in [-range, range), rounded
// to the dtype) but not the same sequence: a counter-based hash of (seed, element index), so every
// element is computed independently and the fill runs at memory speed. Unlike core's generator,
// nothing here is poisoned with NaN: benchmark shapes have no unused cache slots (num_blocks is
// exactly what the sequences need and every context is a whole number of blocks), and correctness
// is the tests' business, not the benchmark's.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/fp8.h"

namespace pal::bench {

// Fills `count` elements of `dtype` at device address `data` on `stream` (a cudaStream_t passed as
// void*). Asynchronous; throws std::runtime_error when the launch itself fails.
void device_fill_uniform(void* data, DType dtype, std::int64_t count, float range, std::uint64_t seed, void* stream);

// The same draws (rounded to `dtype`, as core's generator rounds them before quantising) stored as
// fp8 codes of `format`: code = fp8(value / scale), round to nearest even, saturating (core/fp8.h's
// quantize_fp8, the same function on the device as on the host).
void device_fill_fp8(void* data, DType dtype, Fp8Format format, float scale, std::int64_t count, float range,
                     std::uint64_t seed, void* stream);

}  // namespace pal::bench
