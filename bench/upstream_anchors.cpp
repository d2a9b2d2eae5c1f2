#include "bench/upstream_anchors.h"

namespace pal::bench {

namespace {

const UpstreamRow* find_row(const UpstreamTable& table, const BenchShape& shape, int version) {
  for (const UpstreamRow& row : table.rows)
    if (row.num_heads == shape.num_heads && row.num_kv_heads == shape.num_kv_heads && row.batch == shape.batch &&
        row.context_len == shape.context_len && row.version == version)
      return &row;
  return nullptr;
}

}  // namespace

const UpstreamTable* upstream_table_for(const DeviceIdentity& device, std::string* why_none) {
  std::string known;
  for (const UpstreamTable& table : kUpstreamTables) {
    if (device.name == table.device_name && device.compute_major == table.compute_major &&
        device.compute_minor == table.compute_minor && device.sm_count == table.sm_count)
      return &table;
    known += (known.empty() ? "" : ", ") + std::string(table.device_name) + " (" + std::to_string(table.sm_count) +
             " SMs, " + std::string(table.date) + ")";
  }
  if (why_none)
    *why_none = "no upstream figures were measured on a " + device.name + " (compute " +
                std::to_string(device.compute_major) + "." + std::to_string(device.compute_minor) + ", " +
                std::to_string(device.sm_count) + " SMs); tables exist for " + known +
                ", and figures from another GPU would not compare like with like";
  return nullptr;
}

UpstreamFigures upstream_figures(const UpstreamTable& table, const BenchShape& shape, KernelVersion version) {
  UpstreamFigures figures;
  // Upstream timed one configuration, with an unquantized cache.
  if (shape.dtype != table.dtype || is_fp8(shape.cache_format()) || shape.head_size != table.head_size ||
      shape.block_size != table.block_size)
    return figures;
  const int vllm_version = version == KernelVersion::v1   ? 1
                           : version == KernelVersion::v2 ? 2
                           : upstream_pick(shape) == KernelVersion::v1 ? 1
                                                                       : 2;
  if (const UpstreamRow* row = find_row(table, shape, vllm_version)) {
    figures.vllm_hot_us = row->vllm_hot_us;
    figures.vllm_cold_us = row->vllm_cold_us;
    figures.vllm_version = vllm_version;
  }
  // FlashInfer's time repeats on both version rows of a shape; either row that exists carries it.
  for (int any_version : {1, 2})
    if (const UpstreamRow* row = find_row(table, shape, any_version)) {
      if (!figures.flashinfer_cuda_core_hot_us) figures.flashinfer_cuda_core_hot_us = row->flashinfer_cuda_core_hot_us;
      if (!figures.flashinfer_tensor_core_hot_us)
        figures.flashinfer_tensor_core_hot_us = row->flashinfer_tensor_core_hot_us;
    }
  return figures;
}

}  // namespace pal::bench
