#include "bench/variants.h"

#include <algorithm>
#include <array>

namespace pal::bench {

namespace {

// The fp8 rows (issue 10): fp16 queries at head 128, block 16 (the primary grid's configuration,
// which every build compiles with E4M3 and E5M2 caches, for v1/v2 and the grouped kernel), so each
// has its fp16-cache row of the same version beside it (the fp8/fp16 time ratio).
bool fp16_query_h128_bs16(const BenchShape& shape) {
  return shape.dtype == DType::fp16 && shape.head_size == 128 && shape.block_size == 16;
}

// The faithful kernel's two versions, the grouped kernel (issue 11: on GQA and MHA shapes, with
// any cache), then v1/v2 and the grouped kernel with an fp8 E4M3 and an E5M2 cache. Each fp8 row
// comes after its baseline, so that the baseline's time is known when the row is reported. New
// variants go here (see variants.h).
constexpr std::array<KernelVariant, 9> kVariants{{
    {KernelVersion::v1, {}, nullptr},
    {KernelVersion::v2, {}, nullptr},
    {KernelVersion::grouped, {}, nullptr},
    {KernelVersion::v1, KvCacheDtype::fp8_e4m3, fp16_query_h128_bs16},
    {KernelVersion::v2, KvCacheDtype::fp8_e4m3, fp16_query_h128_bs16},
    {KernelVersion::v1, KvCacheDtype::fp8_e5m2, fp16_query_h128_bs16},
    {KernelVersion::v2, KvCacheDtype::fp8_e5m2, fp16_query_h128_bs16},
    {KernelVersion::grouped, KvCacheDtype::fp8_e4m3, fp16_query_h128_bs16},
    {KernelVersion::grouped, KvCacheDtype::fp8_e5m2, fp16_query_h128_bs16},
}};

bool selected(const std::vector<std::string>& versions, KernelVersion version, KernelVersion auto_pick) {
  const std::string name(version_name(version));
  for (const std::string& wanted : versions)
    if (wanted == name || (wanted == "auto" && version == auto_pick)) return true;
  return false;
}

}  // namespace

std::span<const KernelVariant> kernel_variants() { return kVariants; }

BenchShape shape_for(const BenchShape& shape, const KernelVariant& variant) {
  BenchShape variant_shape = shape;
  if (variant.kv_cache_dtype) variant_shape.kv_cache_dtype = *variant.kv_cache_dtype;
  return variant_shape;
}

std::optional<KernelVariant> baseline_of(const KernelVariant& variant) {
  if (!variant.kv_cache_dtype) return std::nullopt;
  return KernelVariant{variant.version, {}, nullptr};
}

std::vector<std::string> selectable_versions() {
  std::vector<std::string> names;
  for (const KernelVariant& variant : kernel_variants()) {
    const std::string name(version_name(variant.version));
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  names.emplace_back("auto");
  return names;
}

std::vector<KernelVariant> variants_for(const BenchShape& shape, const std::vector<std::string>& versions,
                                        KernelVersion auto_pick) {
  std::vector<KernelVariant> chosen;
  for (const KernelVariant& variant : kernel_variants()) {
    if (variant.kv_cache_dtype && shape.kv_cache_dtype) continue;
    if (variant.applies && !variant.applies(shape)) continue;
    if (selected(versions, variant.version, auto_pick)) chosen.push_back(variant);
  }
  return chosen;
}

std::string describe_launch(const LaunchShape& launch) {
  if (launch.version == KernelVersion::grouped) return "split plan made on the GPU";
  std::string text = "grid " + std::to_string(launch.num_heads) + "x" + std::to_string(launch.num_seqs);
  if (launch.version == KernelVersion::v2) text += "x" + std::to_string(launch.max_num_partitions) + " + reduce";
  return text;
}

std::string describe_grouped_launch(const LaunchShape& launch, const GroupedPlan& plan) {
  std::string text = "grid " + std::to_string(plan.grid_x(launch.num_kv_heads)) + "x" + std::to_string(launch.num_seqs) +
                     "x" + std::to_string(plan.num_splits) +
                     (plan.geometry.math == GroupedMath::tensor_cores ? " mma" : " fma");
  if (plan.uses_split_merge()) text += " + merge";
  return text;
}

}  // namespace pal::bench
