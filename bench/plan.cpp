#include "bench/plan.h"

#include <algorithm>
#include <cmath>

#include "kernels/grouped_launch.h"
#include "kernels/launch.h"

namespace pal::bench {

namespace {

constexpr double kMiB = double(std::int64_t{1} << 20);
constexpr double kGiB = double(std::int64_t{1} << 30);

}  // namespace

std::string gib(std::int64_t bytes) { return format_fixed(double(bytes) / kGiB, 2) + " GiB"; }
std::string mib(std::int64_t bytes) { return format_fixed(double(bytes) / kMiB, 1) + " MiB"; }

std::string_view cold_method_name(ColdMethod method) {
  switch (method) {
    case ColdMethod::rotate: return "rotate";
    case ColdMethod::flush: return "flush";
    case ColdMethod::none: break;
  }
  return "none";
}

bool ShapePlan::any_runnable() const {
  return std::any_of(rows.begin(), rows.end(), [](const PlannedRow& row) { return row.skipped.empty(); });
}

KernelVersion upstream_auto_pick(const BenchShape& shape, const DeviceLimits& limits) {
  return upstream_auto_version(make_scenario(shape, KernelVersion::automatic, 0),
                               std::size_t(std::max<std::int64_t>(limits.shared_memory_per_block, 0)));
}

KernelVersion auto_pick(const BenchShape& shape, const DeviceLimits& limits, bool grouped_compiled) {
  const Scenario scenario = make_scenario(shape, KernelVersion::automatic, 0);
  AutoContext ctx;
  ctx.shared_memory_limit = std::size_t(std::max<std::int64_t>(limits.shared_memory_per_block, 0));
  if (grouped_compiled && grouped_measured_faster(scenario)) {
    const LaunchShape launch = make_launch_shape(scenario, KernelVersion::grouped);
    const GroupedPlan plan =
        plan_grouped(grouped_plan_request(launch, default_grouped_math(dtype_size_bytes(shape.dtype)), 0));
    ctx.grouped_candidate = std::size_t(plan.shared_bytes) <= ctx.shared_memory_limit;
  }
  return choose_auto_version(scenario, ctx).version;
}

ShapePlan plan_shape(const BenchShape& shape, const std::vector<KernelVariant>& variants, bool compiled,
                     const DeviceLimits& limits, const PlanOptions& options) {
  ShapePlan plan;
  plan.shape = shape;
  for (const KernelVariant& variant : variants) {
    PlannedRow row;
    row.variant = variant;
    row.launch = make_launch_shape(make_scenario(shape, variant.version, options.seed), variant.version);
    plan.rows.push_back(row);
  }
  auto skip_runnable = [&plan](const std::string& reason) {
    for (PlannedRow& row : plan.rows)
      if (row.skipped.empty()) row.skipped = reason;
  };

  // Everything that decides "skip" before any allocation, cheapest first.
  if (!compiled) {
    skip_runnable("this build did not compile dtype/head_size/block_size " + std::string(dtype_name(shape.dtype)) +
                  "/" + std::to_string(shape.head_size) + "/" + std::to_string(shape.block_size) +
                  " (configure with -DPAL_CUDA_INSTANTIATIONS=full)");
    return plan;
  }
  for (PlannedRow& row : plan.rows) {
    // The grouped kernel's shared memory is its plan's (a few K/V tiles, independent of the context).
    const std::int64_t needed =
        row.variant.version == KernelVersion::grouped
            ? std::int64_t(plan_grouped(grouped_plan_request(row.launch, default_grouped_math(dtype_size_bytes(shape.dtype)),
                                                             0))
                               .shared_bytes)
            : std::int64_t(row.launch.main_total_shared_memory_bytes());
    if (needed > limits.shared_memory_per_block)
      row.skipped = "needs " + std::to_string(needed) + " B of shared memory per thread block; this GPU allows " +
                    std::to_string(limits.shared_memory_per_block);
  }
  if (!plan.any_runnable()) return plan;

  const std::int64_t usable = limits.free_memory_bytes - limits.memory_margin_bytes;
  const std::int64_t set_bytes = input_set_bytes(shape);
  const std::int64_t work_bytes = workspace_bytes(shape);
  if (set_bytes + work_bytes > usable) {
    skip_runnable("needs " + gib(set_bytes + work_bytes) + " of device memory; " +
                  gib(std::max<std::int64_t>(usable, 0)) + " usable (" + gib(limits.free_memory_bytes) +
                  " free minus the margin)");
    return plan;
  }

  // Cold rotation: enough copies that the inputs of one launch were evicted from L2 by the others.
  const std::int64_t kv_bytes = kv_cache_bytes(shape);
  if (options.cold_method == ColdMethod::rotate) {
    const double cold_target = options.cold_l2_multiple * double(limits.l2_bytes);
    plan.cold_sets_wanted = std::clamp(int(std::ceil(cold_target / double(std::max<std::int64_t>(kv_bytes, 1)))), 1,
                                       std::max(options.max_cold_sets, 1));
  }
  const std::int64_t sets_fit = std::max<std::int64_t>((usable - work_bytes) / set_bytes, 1);
  plan.cold_sets = int(std::min<std::int64_t>(plan.cold_sets_wanted, sets_fit));
  plan.inputs_on_host = kv_bytes <= options.host_generation_max_bytes;
  return plan;
}

}  // namespace pal::bench
