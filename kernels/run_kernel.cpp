// run_kernel(): choose the backend and version, size the recording, run, collect the results.
#include "kernels/launch.h"

#include <chrono>
#include <cstring>

#include "kernels/gpu_backend.h"
#include "kernels/grouped_gpu_backend.h"
#include "kernels/grouped_launch.h"
#include "kernels/launch_plan.h"

namespace pal {

std::string_view backend_name(Backend backend) {
  switch (backend) {
    case Backend::gpu: return "gpu";
    case Backend::emulator: return "emulator";
    case Backend::automatic: break;
  }
  return "auto";
}

bool parse_backend(std::string_view text, Backend& backend) {
  if (text == "gpu") backend = Backend::gpu;
  else if (text == "emulator") backend = Backend::emulator;
  else if (text == "auto") backend = Backend::automatic;
  else return false;
  return true;
}

bool gpu_available(std::string* why_not) { return gpu_backend_available(why_not); }

namespace {

KernelVersion choose_version(const Scenario& scenario, std::size_t shared_memory_limit, const char* device) {
  const KernelVersion version = scenario.version;
  if (version != KernelVersion::v1) return version;  // v2's and grouped's shared memory do not grow with the context
  const LaunchShape shape = make_launch_shape(scenario, KernelVersion::v1);
  const std::size_t needed = shape.main_total_shared_memory_bytes();
  if (needed <= shared_memory_limit) return version;
  // The largest context v1 can hold: the logits are 4 bytes per (block-padded) token.
  const std::size_t room = shared_memory_limit - shape.main_static_shared_memory_bytes();
  const std::size_t max_tokens = (room / sizeof(float)) / std::size_t(scenario.block_size) * std::size_t(scenario.block_size);
  throw ScenarioError("version v1 keeps every logit of a sequence in shared memory: max_seq_len = " +
                      std::to_string(scenario.max_seq_len()) + " needs " + std::to_string(needed) +
                      " bytes per thread block, but " + device + " allows " + std::to_string(shared_memory_limit) +
                      "; use --version v2 (or auto), or keep every seq_len at or below " +
                      std::to_string(max_tokens) + " tokens for v1");
}

}  // namespace

AutoContext auto_context(const Scenario& scenario, Backend backend, bool record) {
  AutoContext ctx;
  const bool on_gpu = backend == Backend::gpu;
  ctx.shared_memory_limit = on_gpu ? gpu_max_shared_memory_per_block() : kEmulatedMaxSharedMemoryBytes;
  if (!on_gpu) {
    ctx.why_not_grouped = "the rule is from GPU timings; on the emulator auto keeps upstream's choice";
    return ctx;
  }
  if (record) {
    ctx.why_not_grouped = "a recorded run keeps upstream's choice (the grouped kernel records on the emulator only)";
    return ctx;
  }
  if (!grouped_measured_faster(scenario, &ctx.why_not_grouped)) return ctx;
  const LaunchShape shape = make_launch_shape(scenario, KernelVersion::grouped);
  const GroupedMath math = default_grouped_math(dtype_size_bytes(scenario.dtype));
  if (!gpu_grouped_config_compiled(scenario.dtype, scenario.kv_cache_dtype, scenario.head_size, scenario.block_size, math)) {
    ctx.why_not_grouped = "this build did not compile the grouped GPU kernel for this dtype, head size and block size";
    return ctx;
  }
  const GroupedPlan plan = plan_grouped(grouped_plan_request(shape, math, 0));
  ctx.grouped_candidate = std::size_t(plan.shared_bytes) <= ctx.shared_memory_limit;
  if (!ctx.grouped_candidate)
    ctx.why_not_grouped = "its " + std::to_string(plan.shared_bytes) + " bytes of shared memory exceed this GPU's " +
                          std::to_string(ctx.shared_memory_limit);
  return ctx;
}

std::size_t v1_shared_memory_bytes(const Scenario& scenario) {
  return make_launch_shape(scenario, KernelVersion::v1).main_shared_memory_bytes();
}

std::size_t v2_shared_memory_bytes(const Scenario& scenario) {
  return make_launch_shape(scenario, KernelVersion::v2).main_shared_memory_bytes();
}

RunPlan plan_run(const Scenario& scenario, const RunOptions& options) {
  RunPlan plan;
  plan.backend = options.backend;
  std::string why_no_gpu;
  if (plan.backend == Backend::automatic)
    plan.backend = gpu_backend_available(&why_no_gpu) ? Backend::gpu : Backend::emulator;
  else if (plan.backend == Backend::gpu && !gpu_backend_available(&why_no_gpu))
    throw ScenarioError("--backend gpu: " + why_no_gpu + "; use --backend emulator (or auto)");
  const bool on_gpu = plan.backend == Backend::gpu;
  if (scenario.version == KernelVersion::automatic) {
    const AutoChoice choice = choose_auto_version(scenario, auto_context(scenario, plan.backend, options.record));
    plan.version = choice.version;
    plan.auto_reason = choice.reason;
  } else {
    plan.version = choose_version(scenario, on_gpu ? gpu_max_shared_memory_per_block() : kEmulatedMaxSharedMemoryBytes,
                                  on_gpu ? "this GPU" : "the emulator (which enforces an H100's 232448-byte limit)");
  }
  // The grouped kernel sizes (and checks) its own recording once its split plan is made.
  if (options.record && plan.version != KernelVersion::grouped) {
    Scenario resolved = scenario;
    resolved.version = plan.version;
    plan.recording = record_layout(record_dims(resolved));
    check_recording_fits(*plan.recording, options.max_recording_bytes);
  }
  return plan;
}

namespace {

// The grouped kernel, through run_grouped (which plans its splits, and records on the emulator).
KernelRun run_grouped_kernel(const Scenario& scenario, const Inputs& inputs, const RunOptions& options) {
  // Only the emulator records the grouped kernel (its GPU build has the production probe): `auto`
  // with a recording goes to the emulator, and a GPU run asked to record runs unrecorded; both say
  // so in the device name, which every front end prints.
  GroupedOptions grouped;
  grouped.record = options.record && options.backend != Backend::gpu;
  grouped.max_recording_bytes = options.max_recording_bytes;
  const bool emulator_for_recording = options.record && options.backend == Backend::automatic;
  GroupedRun result =
      run_grouped(scenario, inputs, emulator_for_recording ? Backend::emulator : options.backend, grouped);
  if (emulator_for_recording) result.device_name += " (auto: the grouped kernel records on the emulator only)";
  if (options.record && options.backend == Backend::gpu)
    result.device_name += " (not recorded: the grouped kernel records on the emulator only; outputs and split states "
                          "are compared)";
  KernelRun run;
  run.scenario = scenario;
  run.scenario.version = KernelVersion::grouped;  // records and reports describe what ran (auto may pick it)
  run.version = KernelVersion::grouped;
  run.backend = result.backend;
  run.device_name = result.device_name;
  run.output = std::move(result.output);
  run.grouped_plan = result.plan;
  run.split_partial_out = std::move(result.partial_out);
  run.split_max_logits = std::move(result.max_logits);
  run.split_exp_sums = std::move(result.exp_sums);
  run.recording = std::move(result.recording);
  run.elapsed_ms = result.elapsed_ms;
  return run;
}

// The scenario and inputs are valid.
KernelRun run_valid(const Scenario& scenario, const Inputs& inputs, const RunOptions& options) {
  const RunPlan plan = plan_run(scenario, options);
  if (plan.version == KernelVersion::grouped) return run_grouped_kernel(scenario, inputs, options);
  KernelRun run;
  run.scenario = scenario;
  run.backend = plan.backend;
  const bool on_gpu = run.backend == Backend::gpu;
  run.device_name = on_gpu ? gpu_device_name() : "CPU emulator (Boost.Fiber, one fiber per CUDA thread)";
  run.version = plan.version;
  run.scenario.version = run.version;  // records and reports describe what ran
  const LaunchShape shape = make_launch_shape(scenario, run.version);

  if (plan.recording) run.recording.emplace(*plan.recording);

  if (on_gpu) {
    GpuRunResult result = run_on_gpu(shape, inputs, run.recording ? &*run.recording : nullptr);
    run.output = std::move(result.output);
    run.tmp_out = std::move(result.tmp_out);
    run.exp_sums = std::move(result.exp_sums);
    run.max_logits = std::move(result.max_logits);
    run.elapsed_ms = result.elapsed_ms;
    return run;
  }

  // Emulator: outputs start as 0xFF bytes (NaN) so an element the kernel misses cannot look right.
  const ElementType element = element_type_of(scenario.dtype);
  const bool v2 = run.version == KernelVersion::v2;
  auto poisoned = [](ElementType type, std::vector<std::int64_t> shape_dims) {
    Tensor tensor(type, std::move(shape_dims));
    std::memset(tensor.bytes.data(), 0xFF, tensor.bytes.size());
    return tensor;
  };
  run.output = poisoned(element, {shape.num_seqs, shape.num_heads, shape.head_size});
  if (v2) {
    run.tmp_out = poisoned(element, {shape.num_seqs, shape.num_heads, shape.max_num_partitions, shape.head_size});
    run.exp_sums = poisoned(ElementType::f32, {shape.num_seqs, shape.num_heads, shape.max_num_partitions});
    run.max_logits = poisoned(ElementType::f32, {shape.num_seqs, shape.num_heads, shape.max_num_partitions});
  }
  LaunchBuffers buffers;
  buffers.out = run.output.bytes.data();
  buffers.tmp_out = v2 ? run.tmp_out.bytes.data() : nullptr;
  buffers.exp_sums = v2 ? run.exp_sums.data<float>() : nullptr;
  buffers.max_logits = v2 ? run.max_logits.data<float>() : nullptr;
  buffers.q = inputs.query.bytes.data();
  buffers.k_cache = inputs.key_cache.bytes.data();
  buffers.v_cache = inputs.value_cache.bytes.data();
  buffers.block_tables = inputs.block_tables.data<int>();
  buffers.seq_lens = inputs.seq_lens.data<int>();
  buffers.alibi_slopes = inputs.alibi_slopes.numel() > 0 ? inputs.alibi_slopes.data<float>() : nullptr;

  const auto start = std::chrono::steady_clock::now();
  emulate_paged_attention_dispatch(shape, buffers, run.recording ? &run.recording->ptr() : nullptr);
  run.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return run;
}

}  // namespace

KernelRun run_kernel(const Scenario& scenario, const Inputs& inputs, const RunOptions& options) {
  validate_inputs(scenario, inputs);  // the scenario first, then the tensors against it
  return run_valid(scenario, inputs, options);
}

KernelRun run_kernel(const CheckedInputs& checked, const RunOptions& options) {
  return run_valid(checked.scenario(), checked.inputs(), options);
}

}  // namespace pal
