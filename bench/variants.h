// The kernel-variant axis of pal-bench: what runs on a shape's inputs, one row of results each.
//
// A shape (bench/bench_model.h) fixes the inputs; a variant fixes the kernel version that reads them
// and, for a quantized cache, the cache format the inputs are stored in. A row is (shape, variant),
// named row_name(shape_for(shape, variant), variant.version): "fp16/h128/bs16/32x8/b8/c2048/v2", or
// with a cache of its own "fp16/kv-<cache dtype>/h128/bs16/32x8/b8/c2048/v2".
//
// Adding a variant is one entry in kernel_variants() (bench/variants.cpp), plus, for a new
// version, its line in describe_launch(). For example:
//   - the fp8 cache (issue 10): v1 and v2 with an E4M3 cache on fp16-query, head 128, block 16
//     shapes are there; baseline_of() compares each with the same version on the fp16 cache (the
//     fp8/fp16 time ratio). An E5M2 row is one more entry each:
//       {KernelVersion::v1, KvCacheDtype::fp8_e5m2, fp16_query_h128_bs16}
//   - the grouped kernel (issue 11), an entry: on every shape; its vLLM figures are those of the
//     version vLLM picks (bench/upstream_anchors.h), and describe_grouped_launch() says the split
//     plan it chose on the GPU. Its E4M3 and E5M2 rows are two more entries, against its own
//     fp16-cache row.
// Rows of variants that do not exist are simply absent.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bench/bench_model.h"
#include "core/dtype.h"
#include "core/scenario.h"
#include "kernels/launch_plan.h"
#include "kernels/split_planner.h"

namespace pal::bench {

struct KernelVariant {
  KernelVersion version = KernelVersion::v1;  // what is launched: never automatic
  // A cache format of its own (the shape is re-made with it); unset: the shape's own cache.
  std::optional<KvCacheDtype> kv_cache_dtype;
  bool (*applies)(const BenchShape&) = nullptr;  // on which shapes; null: every shape
};

// Every variant pal-bench knows, in the order its rows are printed for a shape.
std::span<const KernelVariant> kernel_variants();

// The shape a variant's row runs on: `shape` with the variant's cache format, if it has one.
BenchShape shape_for(const BenchShape& shape, const KernelVariant& variant);

// The variant whose row (on the same base shape) this one's time is divided by: a variant with a
// cache format of its own against the same version on the query dtype's cache (the fp8/fp16
// ratio); none for the others, which are compared with upstream's figures instead.
std::optional<KernelVariant> baseline_of(const KernelVariant& variant);

// The names --versions accepts: each version of kernel_variants() ("v1", "v2") and "auto".
std::vector<std::string> selectable_versions();

// The variants that run on `shape` for the --versions names `versions`, in kernel_variants()
// order. "auto" selects the version `auto_pick` (what auto resolves to for the shape on this device).
// A variant with a cache format of its own runs only on shapes that have none.
std::vector<KernelVariant> variants_for(const BenchShape& shape, const std::vector<std::string>& versions,
                                        KernelVersion auto_pick);

// What the launch plan chose, for the row: "grid 32x8", "grid 32x8x4 + reduce" (grouped: its plan is
// made on the GPU, see describe_grouped_launch).
std::string describe_launch(const LaunchShape& launch);
// The grouped kernel's plan: "grid 8x8x4 mma + merge" (blocks per KV head x seqs x splits, the math
// path, and whether split_merge runs).
std::string describe_grouped_launch(const LaunchShape& launch, const GroupedPlan& plan);

}  // namespace pal::bench
