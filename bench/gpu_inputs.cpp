#include "bench/gpu_inputs.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "bench/device_inputs.h"
#include "core/inputs.h"

namespace pal::bench {

InputSet inputs_from_host(const Scenario& scenario, cudaStream_t stream) {
  const Inputs inputs = generate_inputs(scenario);
  InputSet set;
  set.query = upload(inputs.query, stream);
  set.key_cache = upload(inputs.key_cache, stream);
  set.value_cache = upload(inputs.value_cache, stream);
  set.block_tables = upload(inputs.block_tables, stream);
  set.seq_lens = upload(inputs.seq_lens, stream);
  return set;
}

InputSet inputs_on_device(const BenchShape& shape, const Scenario& scenario, cudaStream_t stream) {
  const std::int64_t query_count = std::int64_t{shape.batch} * shape.num_heads * shape.head_size;
  const std::int64_t cache_count = kv_cache_bytes(shape) / 2 / shape.cache_element_bytes();  // each of K, V
  const float range = float(1.0 / std::sqrt(double(shape.head_size)));
  InputSet set;
  set.query = DeviceBuffer(std::size_t(query_count * dtype_size_bytes(shape.dtype)));
  set.key_cache = DeviceBuffer(std::size_t(cache_count * shape.cache_element_bytes()));
  set.value_cache = DeviceBuffer(std::size_t(cache_count * shape.cache_element_bytes()));
  device_fill_uniform(set.query.get(), shape.dtype, query_count, range, scenario.seed * 3 + 0, stream);
  if (is_fp8(shape.cache_format())) {
    // The fp8 rows read codes of the same draws, quantised with the scenario's scales on the device.
    const Fp8Format format = fp8_format_of(shape.cache_format());
    device_fill_fp8(set.key_cache.get(), shape.dtype, format, scenario.k_scale, cache_count, range,
                    scenario.seed * 3 + 1, stream);
    device_fill_fp8(set.value_cache.get(), shape.dtype, format, scenario.v_scale, cache_count, range,
                    scenario.seed * 3 + 2, stream);
  } else {
    device_fill_uniform(set.key_cache.get(), shape.dtype, cache_count, range, scenario.seed * 3 + 1, stream);
    device_fill_uniform(set.value_cache.get(), shape.dtype, cache_count, range, scenario.seed * 3 + 2, stream);
  }

  // Block table: a seeded shuffle of the pool handed out in order, as core's generator does, so
  // logical neighbours land on unrelated physical blocks. Only ints: small even for 128 x 32k.
  const int num_blocks = scenario.effective_num_blocks();
  const int blocks_per_seq = scenario.max_num_blocks_per_seq();
  std::vector<std::int32_t> pool(static_cast<std::size_t>(num_blocks));
  for (int i = 0; i < num_blocks; ++i) pool[std::size_t(i)] = i;
  SplitMix64 random(scenario.seed);
  for (std::size_t i = pool.size(); i > 1; --i) std::swap(pool[i - 1], pool[std::size_t(random.below(i))]);
  Tensor table(ElementType::i32, {shape.batch, blocks_per_seq});
  std::copy(pool.begin(), pool.begin() + std::ptrdiff_t(table.numel()), table.data<std::int32_t>());
  Tensor seq_lens(ElementType::i32, {shape.batch});
  std::fill_n(seq_lens.data<std::int32_t>(), shape.batch, shape.context_len);
  set.block_tables = upload(table, stream);
  set.seq_lens = upload(seq_lens, stream);
  throw_on_cuda_error(cudaStreamSynchronize(stream), "device input generation");
  return set;
}

InputSet duplicate_set(const InputSet& source, cudaStream_t stream) {
  InputSet set;
  set.query = duplicate(source.query, stream);
  set.key_cache = duplicate(source.key_cache, stream);
  set.value_cache = duplicate(source.value_cache, stream);
  set.block_tables = duplicate(source.block_tables, stream);
  set.seq_lens = duplicate(source.seq_lens, stream);
  return set;
}

Workspace make_workspace(const BenchShape& shape) {
  const std::int64_t element = dtype_size_bytes(shape.dtype);
  const std::int64_t seq_heads = std::int64_t{shape.batch} * shape.num_heads;
  const std::int64_t partitions = (std::int64_t{shape.context_len} + kPartitionSize - 1) / kPartitionSize;
  Workspace workspace;
  workspace.out = DeviceBuffer(std::size_t(seq_heads * shape.head_size * element));
  workspace.tmp_out = DeviceBuffer(std::size_t(seq_heads * partitions * shape.head_size * element));
  workspace.exp_sums = DeviceBuffer(std::size_t(seq_heads * partitions * 4));
  workspace.max_logits = DeviceBuffer(std::size_t(seq_heads * partitions * 4));
  return workspace;
}

LaunchBuffers buffers_for(const InputSet& set, const Workspace& workspace) {
  LaunchBuffers buffers;
  buffers.out = workspace.out.get();
  buffers.tmp_out = workspace.tmp_out.get();
  buffers.exp_sums = workspace.exp_sums.as<float>();
  buffers.max_logits = workspace.max_logits.as<float>();
  buffers.q = set.query.get();
  buffers.k_cache = set.key_cache.get();
  buffers.v_cache = set.value_cache.get();
  buffers.block_tables = set.block_tables.as<int>();
  buffers.seq_lens = set.seq_lens.as<int>();
  buffers.alibi_slopes = nullptr;
  return buffers;
}

std::vector<float> read_output(const BenchShape& shape, const Workspace& workspace, cudaStream_t stream) {
  const std::int64_t count = std::int64_t{shape.batch} * shape.num_heads * shape.head_size;
  Tensor host(element_type_of(shape.dtype), {count});
  download(host, workspace.out, stream);
  std::vector<float> values(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) values[std::size_t(i)] = host.get_float(i);
  return values;
}

}  // namespace pal::bench
