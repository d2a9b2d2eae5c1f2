#include "kernels/launch_plan.h"

#include "core/inputs.h"
#include "kernels/dispatch.h"

#include <algorithm>
#include <string>
#include <type_traits>

namespace pal {

std::size_t LaunchShape::main_shared_memory_bytes() const {
  const int num_warps = kNumThreads / kWarpSize;
  // v1 holds the logits of the whole (padded) sequence; v2 only those of one partition.
  const std::size_t logits_floats = version == KernelVersion::v2
                                        ? std::size_t(kPartitionSize)
                                        : std::size_t(divide_round_up(max_seq_len, block_size)) * block_size;
  const std::size_t outputs_floats = std::size_t(num_warps / 2) * head_size;
  return std::max(logits_floats, outputs_floats) * sizeof(float);
}

std::size_t LaunchShape::main_static_shared_memory_bytes() const {
  const int num_warps = kNumThreads / kWarpSize;
  const KernelGeometry geometry{dtype_size_bytes(dtype), head_size, block_size, kNumThreads,
                                is_fp8(kv_cache_dtype) ? 1 : dtype_size_bytes(dtype)};
  const std::size_t q_vecs = std::size_t(geometry.q_vecs_shared_bytes());
  const std::size_t red_smem = 2 * std::size_t(num_warps) * sizeof(float);
  return q_vecs + red_smem;
}

std::size_t LaunchShape::main_total_shared_memory_bytes() const {
  return main_shared_memory_bytes() + main_static_shared_memory_bytes();
}

std::size_t LaunchShape::reduce_shared_memory_bytes() const {
  return 2 * std::size_t(max_num_partitions) * sizeof(float);
}

LaunchShape make_launch_shape(const Scenario& scenario, KernelVersion resolved_version) {
  LaunchShape shape;
  shape.dtype = scenario.dtype;
  shape.kv_cache_dtype = scenario.kv_cache_dtype;
  shape.k_scale = scenario.k_scale;
  shape.v_scale = scenario.v_scale;
  shape.block_sparse = scenario.block_sparse;
  shape.version = resolved_version;
  shape.num_seqs = scenario.num_seqs;
  shape.num_heads = scenario.num_heads;
  shape.num_kv_heads = scenario.num_kv_heads;
  shape.head_size = scenario.head_size;
  shape.block_size = scenario.block_size;
  shape.num_blocks = scenario.effective_num_blocks();
  shape.max_num_blocks_per_seq = scenario.max_num_blocks_per_seq();
  shape.max_seq_len = scenario.max_seq_len();
  shape.max_num_partitions = resolved_version == KernelVersion::v2 ? scenario.max_num_partitions() : 1;
  shape.scale = scenario.effective_scale();
  shape.q_stride = std::int64_t(scenario.num_heads) * scenario.head_size;
  const KvCacheLayout kv_layout = kv_cache_layout(scenario);
  shape.kv_head_stride = kv_layout.kv_head_stride();
  shape.kv_block_stride = kv_layout.kv_block_stride();
  return shape;
}

std::string describe_kernel_variant(DType dtype, KvCacheDtype kv_cache_dtype, int head_size, int block_size,
                                    bool block_sparse) {
  return "dtype " + std::string(dtype_name(dtype)) + ", kv_cache_dtype " + std::string(kv_cache_dtype_name(kv_cache_dtype)) +
         ", head_size " + std::to_string(head_size) + ", block_size " + std::to_string(block_size) +
         (block_sparse ? ", block-sparse" : ", dense");
}

namespace {

// Which configurations the emulator compiled: every auto-cache dense one (emulator_instances_*.cpp),
// plus the fp8 and block-sparse variants that kernels/CMakeLists.txt generated from
// PAL_EMULATOR_INSTANTIATIONS, one PAL_EMULATOR_CONFIG line each.
template <typename scalar_t, typename cache_t, KvCacheDtype KV_DTYPE, int HEAD_SIZE, int BLOCK_SIZE,
          bool IS_BLOCK_SPARSE>
struct EmulatorCompiled : std::bool_constant<KV_DTYPE == KvCacheDtype::automatic && !IS_BLOCK_SPARSE> {};

}  // namespace

namespace {
#define PAL_EMULATOR_CONFIG(scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, IS_BLOCK_SPARSE)                  \
  template <>                                                                                                   \
  struct EmulatorCompiled<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, IS_BLOCK_SPARSE> : std::true_type {};
#include "emulator_variant_configs.inc"
#undef PAL_EMULATOR_CONFIG
}  // namespace

bool emulator_config_compiled(DType dtype, KvCacheDtype kv_cache_dtype, int head_size, int block_size,
                              bool block_sparse) {
  try {
    return dispatch_kernel_variant(dtype, kv_cache_dtype, head_size, block_size, block_sparse,
                                   [](auto scalar, auto cache, auto kv, auto head, auto block, auto sparse) {
                                     return EmulatorCompiled<decltype(scalar), decltype(cache), decltype(kv)::value,
                                                             decltype(head)::value, decltype(block)::value,
                                                             decltype(sparse)::value>::value;
                                   });
  } catch (const ScenarioError&) {
    return false;
  }
}

void emulate_paged_attention_dispatch(const LaunchShape& shape, const LaunchBuffers& buffers,
                                      const RecordPointers* record) {
  dispatch_kernel_variant(shape.dtype, shape.kv_cache_dtype, shape.head_size, shape.block_size,
                          shape.block_sparse.enabled(),
                          [&](auto scalar, auto cache, auto kv, auto head, auto block, auto sparse) {
    using scalar_t = decltype(scalar);
    using cache_t = decltype(cache);
    constexpr KvCacheDtype KV_DTYPE = decltype(kv)::value;
    constexpr int HEAD_SIZE = decltype(head)::value;
    constexpr int BLOCK_SIZE = decltype(block)::value;
    constexpr bool IS_BLOCK_SPARSE = decltype(sparse)::value;
    if constexpr (EmulatorCompiled<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, IS_BLOCK_SPARSE>::value) {
      emulate_paged_attention<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, IS_BLOCK_SPARSE>(shape, buffers, record);
    } else {
      throw ScenarioError("this build did not compile the emulated kernel for " +
                          describe_kernel_variant(shape.dtype, shape.kv_cache_dtype, shape.head_size,
                                                  shape.block_size, shape.block_sparse.enabled()) +
                          " (PAL_EMULATOR_INSTANTIATIONS=reduced compiles a few fp8 and block-sparse kernels, "
                          "listed in kernels/CMakeLists.txt); configure with "
                          "-DPAL_EMULATOR_INSTANTIATIONS=full for every combination upstream dispatches");
    }
  });
}

}  // namespace pal
