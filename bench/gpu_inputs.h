// One benchmark shape's buffers in device memory: its inputs (made on the host by core's generator,
// or on the device for caches too large for it), copies of them for the cold rotation, and the
// outputs the kernels write. Host C++ over the CUDA runtime; the memory is kernels/cuda_support's.
#pragma once

#include <cuda_runtime.h>

#include <vector>

#include "bench/bench_model.h"
#include "kernels/cuda_support.cuh"
#include "kernels/launch_plan.h"

namespace pal::bench {

struct InputSet {
  DeviceBuffer query;         // [num_seqs, num_heads, head_size]                              dtype
  DeviceBuffer key_cache;     // [num_blocks, num_kv_heads, head_size/x, block_size, x]         cache dtype
  DeviceBuffer value_cache;   // [num_blocks, num_kv_heads, head_size, block_size]              cache dtype
  DeviceBuffer block_tables;  // [num_seqs, max_num_blocks_per_seq]                            i32
  DeviceBuffer seq_lens;      // [num_seqs]                                                    i32
};

// Sized for v2 so that every version of a shape writes into the same buffers.
struct Workspace {
  DeviceBuffer out;         // [num_seqs, num_heads, head_size]                                dtype
  DeviceBuffer tmp_out;     // [num_seqs, num_heads, max_num_partitions, head_size]            dtype
  DeviceBuffer exp_sums;    // [num_seqs, num_heads, max_num_partitions]                       f32
  DeviceBuffer max_logits;  // [num_seqs, num_heads, max_num_partitions]                       f32
};

// core's generate_inputs(scenario), uploaded: the inputs the tests use.
InputSet inputs_from_host(const Scenario& scenario, cudaStream_t stream);
// The same distribution made on the device (bench/device_inputs.h), with core's kind of block
// table: a seeded shuffle of the pool. Waits until the inputs are ready.
InputSet inputs_on_device(const BenchShape& shape, const Scenario& scenario, cudaStream_t stream);
// A copy of every buffer, asynchronous on `stream`.
InputSet duplicate_set(const InputSet& source, cudaStream_t stream);

Workspace make_workspace(const BenchShape& shape);
LaunchBuffers buffers_for(const InputSet& set, const Workspace& workspace);

// The output ([num_seqs, num_heads, head_size]) as floats; waits for the stream.
std::vector<float> read_output(const BenchShape& shape, const Workspace& workspace, cudaStream_t stream);

}  // namespace pal::bench
