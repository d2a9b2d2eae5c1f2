// run_grouped(): validate, choose the backend and math path, plan, run, collect the results.
#include "kernels/grouped_launch.h"

#include <chrono>
#include <cstring>

#include "kernels/dispatch.h"
#include "kernels/grouped_gpu_backend.h"

namespace pal {

GroupedWorkspaceBytes grouped_workspace_bytes(const LaunchShape& shape, const GroupedPlan& plan) {
  GroupedWorkspaceBytes bytes;
  if (!plan.uses_split_merge()) return bytes;
  const std::size_t states = std::size_t(shape.num_seqs) * std::size_t(shape.num_heads) * std::size_t(plan.num_splits);
  bytes.partial_out = states * std::size_t(shape.head_size) * sizeof(float);
  bytes.max_logits = states * sizeof(float);
  bytes.exp_sums = states * sizeof(float);
  return bytes;
}

GroupedPlanRequest grouped_plan_request(const LaunchShape& shape, GroupedMath math, int forced_num_splits,
                                        int min_split_tokens) {
  GroupedPlanRequest request;
  request.num_seqs = shape.num_seqs;
  request.num_heads = shape.num_heads;
  request.num_kv_heads = shape.num_kv_heads;
  request.max_seq_len = shape.max_seq_len;
  request.geometry = GroupedGeometry{dtype_size_bytes(shape.dtype), shape.head_size, shape.block_size, math};
  request.forced_num_splits = forced_num_splits;
  request.min_split_tokens = min_split_tokens;
  return request;
}

RecordDims grouped_record_dims(const Scenario& scenario, const GroupedPlan& plan) {
  RecordDims d;
  d.version = KernelVersion::grouped;
  d.num_seqs = scenario.num_seqs;
  d.num_heads = scenario.num_heads;
  d.head_size = scenario.head_size;
  d.block_size = scenario.block_size;
  d.num_threads = kGroupedNumThreads;
  d.num_warps = kGroupedNumWarps;
  d.num_kv_heads = scenario.num_kv_heads;
  d.num_head_chunks = plan.num_head_chunks;
  d.heads_per_chunk = plan.heads_per_chunk;
  d.row_tiles = plan.row_tiles;
  d.rows_per_warp = plan.geometry.rows_per_warp();
  d.tensor_cores = plan.geometry.math == GroupedMath::tensor_cores ? 1 : 0;
  d.num_splits = plan.num_splits;
  d.kv_blocks_per_split = plan.kv_blocks_per_split;
  d.num_split_steps = plan.kv_blocks_per_split * scenario.block_size / kGroupedWarpTokens;
  // Each tile of the split, every thread issues copies_per_thread copies (some of zero bytes).
  d.max_loads_per_thread = plan.kv_blocks_per_split / plan.geometry.tile_blocks() * plan.geometry.copies_per_thread();
  return d;
}

GroupedPlan grouped_plan_from_dims(const Scenario& scenario, const RecordDims& dims) {
  if (dims.tensor_cores != 0 && dims.tensor_cores != 1)
    throw ScenarioError("record_dims tensor_cores = " + std::to_string(dims.tensor_cores) + " must be 0 or 1");
  const GroupedMath math = dims.tensor_cores == 1 ? GroupedMath::tensor_cores : GroupedMath::cuda_cores;
  if (math == GroupedMath::tensor_cores && dtype_size_bytes(scenario.dtype) != 2)
    throw ScenarioError("record_dims tensor_cores = 1, but the tensor-core path takes fp16 or bf16, not " +
                        std::string(dtype_name(scenario.dtype)));
  // Everything but the split size follows from the scenario and the math path.
  const LaunchShape shape = make_launch_shape(scenario, KernelVersion::v1);
  GroupedPlan plan = plan_grouped(grouped_plan_request(shape, math, 1));
  const int tile_blocks = plan.geometry.tile_blocks();
  const int max_blocks = scenario.max_num_blocks_per_seq();
  const int k = dims.kv_blocks_per_split;
  if (k < tile_blocks || k % tile_blocks != 0 || k > divide_round_up(max_blocks, tile_blocks) * tile_blocks)
    throw ScenarioError("record_dims kv_blocks_per_split = " + std::to_string(k) + " is not a whole number of " +
                        std::to_string(tile_blocks) + "-block tiles between one tile and the longest sequence");
  plan.kv_blocks_per_split = k;
  plan.num_splits = divide_round_up(max_blocks, k);
  plan.reason = "as recorded";
  const RecordDims expected = grouped_record_dims(scenario, plan);
#define PAL_CHECK_GROUPED_DIM(name, meaning)                                                                  \
  if (dims.name != expected.name)                                                                             \
    throw ScenarioError("record_dims " #name " = " + std::to_string(dims.name) + ", but the grouped plan of " \
                        "this scenario has " + std::to_string(expected.name));
  PAL_RECORD_DIMS_FIELDS(PAL_CHECK_GROUPED_DIM)
#undef PAL_CHECK_GROUPED_DIM
  return plan;
}

namespace {

GroupedMath resolve_math(const Scenario& scenario, const GroupedOptions& options) {
  const int element_size = dtype_size_bytes(scenario.dtype);
  const GroupedMath math = options.math.value_or(default_grouped_math(element_size));
  if (math == GroupedMath::tensor_cores && element_size != 2)
    throw ScenarioError("the grouped kernel's tensor-core path takes fp16 or bf16 (mma.sync m16n8k16); dtype " +
                        std::string(dtype_name(scenario.dtype)) + " runs on CUDA cores");
  return math;
}

// The emulator plans against modeled_h200: the occupancy depends on the shared memory, which
// depends on the row tiles, which the plan chooses first.
GroupedPlan plan_for_emulator(const LaunchShape& shape, GroupedMath math, const GroupedOptions& options) {
  GroupedPlanRequest request = grouped_plan_request(shape, math, options.forced_num_splits, options.min_split_tokens);
  const GroupedPlan first = plan_grouped(request);
  request.device = modeled_h200(first.shared_bytes);
  return plan_grouped(request);
}

Tensor poisoned(ElementType type, std::vector<std::int64_t> shape) {
  Tensor tensor(type, std::move(shape));
  std::memset(tensor.bytes.data(), 0xFF, tensor.bytes.size());  // NaN in every float type
  return tensor;
}

}  // namespace

GroupedRun run_grouped(const Scenario& scenario, const Inputs& inputs, Backend backend, const GroupedOptions& options) {
  validate_scenario(scenario);
  validate_inputs(scenario, inputs);
  if (options.forced_num_splits < 0)
    throw ScenarioError("forced_num_splits = " + std::to_string(options.forced_num_splits) +
                        " is negative; give 0 to let the split planner choose");
  if (options.min_split_tokens < 1)
    throw ScenarioError("min_split_tokens = " + std::to_string(options.min_split_tokens) + " must be at least 1");
  const GroupedMath math = resolve_math(scenario, options);

  std::string why_no_gpu;
  if (backend == Backend::automatic) backend = grouped_gpu_available(&why_no_gpu) ? Backend::gpu : Backend::emulator;
  else if (backend == Backend::gpu && !grouped_gpu_available(&why_no_gpu))
    throw ScenarioError("--backend gpu: " + why_no_gpu + "; use --backend emulator (or auto)");
  const LaunchShape shape = make_launch_shape(scenario, KernelVersion::v1);

  if (backend == Backend::gpu) {
    if (options.record)
      throw ScenarioError("the grouped kernel records its stages on the emulator only (its GPU build has the "
                          "production probe); use --backend emulator to record it, or run on the GPU without "
                          "--record (the outputs and every split's state are still compared)");
    GroupedRun run = run_grouped_on_gpu(shape, inputs, math, options);
    run.backend = Backend::gpu;
    run.device_name = grouped_gpu_device_name();
    run.math = math;
    return run;
  }

  GroupedRun run;
  run.backend = Backend::emulator;
  run.device_name = "CPU emulator (Boost.Fiber, one fiber per CUDA thread), planned as an H200";
  run.math = math;
  run.plan = plan_for_emulator(shape, math, options);
  if (std::size_t(run.plan.shared_bytes) > kEmulatedMaxSharedMemoryBytes)
    throw ScenarioError("the grouped kernel needs " + std::to_string(run.plan.shared_bytes) +
                        " bytes of shared memory per thread block, above the emulated limit of " +
                        std::to_string(kEmulatedMaxSharedMemoryBytes));
  const std::int64_t seqs = shape.num_seqs, heads = shape.num_heads, splits = run.plan.num_splits;
  run.output = poisoned(element_type_of(scenario.dtype), {seqs, heads, shape.head_size});
  run.partial_out = poisoned(ElementType::f32, {seqs, heads, splits, shape.head_size});
  run.max_logits = poisoned(ElementType::f32, {seqs, heads, splits});
  run.exp_sums = poisoned(ElementType::f32, {seqs, heads, splits});
  if (options.record) {
    const RecordLayout layout = record_layout(grouped_record_dims(scenario, run.plan));
    check_recording_fits(layout, options.max_recording_bytes);
    run.recording.emplace(layout);
  }
  const RecordPointers* record = run.recording ? &run.recording->ptr() : nullptr;

  LaunchBuffers buffers;
  buffers.out = run.output.bytes.data();
  buffers.q = inputs.query.bytes.data();
  buffers.k_cache = inputs.key_cache.bytes.data();
  buffers.v_cache = inputs.value_cache.bytes.data();
  buffers.block_tables = inputs.block_tables.data<int>();
  buffers.seq_lens = inputs.seq_lens.data<int>();
  buffers.alibi_slopes = inputs.alibi_slopes.numel() > 0 ? inputs.alibi_slopes.data<float>() : nullptr;
  const GroupedWorkspace workspace{run.partial_out.data<float>(), run.max_logits.data<float>(),
                                   run.exp_sums.data<float>()};

  const auto start = std::chrono::steady_clock::now();
  dispatch_kernel_config(shape.dtype, shape.head_size, shape.block_size, [&](auto scalar, auto head, auto block) {
    using scalar_t = decltype(scalar);
    constexpr int HEAD_SIZE = decltype(head)::value;
    constexpr int BLOCK_SIZE = decltype(block)::value;
    if constexpr (sizeof(scalar_t) == 2) {
      if (math == GroupedMath::tensor_cores) {
        emulate_grouped<scalar_t, HEAD_SIZE, BLOCK_SIZE, GroupedMath::tensor_cores>(shape, buffers, workspace, run.plan,
                                                                                 record);
        return;
      }
    }
    emulate_grouped<scalar_t, HEAD_SIZE, BLOCK_SIZE, GroupedMath::cuda_cores>(shape, buffers, workspace, run.plan,
                                                                             record);
  });
  run.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return run;
}

}  // namespace pal
