// The kernel's stages and the run's other checks, each named once.
//
// A stage is one `//! [name]` section of a kernel source. Its entry here is the only place its name
// is spelled as a string: the recording's arrays (kernels/record_schema.h) say which stage they
// belong to, the reference's stage functions carry the name, compare/ takes the stage's tolerance
// rule from here, dumps name their tensors after it, and the visualizer, the walkthroughs and the
// docs look it up. A test (tests/kernels/test_stage_registry.cpp) fails when a marker in a kernel
// source has no entry here, or an entry no marker in the kernels of the variants that have it.
//
// A Check is something compared that is not one section of the kernel: the final output, v2's
// intermediate tensors, and the integer records (which lane computed a token, which addresses
// each lane loaded) that two backends must agree on exactly.
//
// Kernel variants are KernelVersion values (v1, v2 and grouped); each stage and check says which
// variants have it, so a front end never assumes one variant's list. A stage name shared by two
// kernels (prologue, query_load, qk_logits, value_accumulation, output) is the same step of the
// algorithm in each; its title says what it does in both.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

#include "core/scenario.h"

namespace pal {

enum class Stage : std::uint8_t {
  prologue,            // which (head, seq, partition) this thread_block is, and its token range
  query_load,          // q copied into shared q_vecs
  qk_logits,           // every token's scale * q.k (+ ALiBi)
  qk_max,              // the thread_block's largest logit
  exp_sum,             // exp(logit - max) and its sum
  softmax,             // probabilities (and v2's partition state)
  value_accumulation,  // probabilities times V rows, per lane
  lv_warp_reduction,   // token slices of a row added inside a warp
  cross_warp_tree,     // warps folded through shared memory
  output,              // warp 0 writes the head's output (v2: the partition's partial output)
  partition_reduce,    // v2's second kernel merges the partitions
  // The grouped kernel's own stages (it also has prologue, query_load, qk_logits,
  // value_accumulation and output); after v1/v2's so that their values stay as they were.
  kv_tile_load,        // cp.async copies of a tile of kv_blocks into shared memory
  kv_tile_wait,        // wait for the oldest tile in flight, start the next copy
  online_softmax,      // each 16-token step's max, the running max and the rescale of the old state
  block_merge,         // the warps' (token slices') states and accumulators merged per query head
  split_merge,         // the grouped kernel's second kernel merges a sequence's KV splits
};
inline constexpr int kNumStages = 16;

enum class Check : std::uint8_t {
  final_output,      // the output after the last kernel
  partition_state,   // v2: max_logits and exp_sums of every partition
  tmp_out,           // v2: every partition's normalised partial output
  token_assignment,  // which warp, thread group and lane computed each token (integers)
  load_addresses,    // every load's kind, address, iteration and vec, per thread (integers)
  split_state,       // grouped: max_logit and exp_sum of every active KV split
  split_partial_out, // grouped: each split's normalised fp32 partial output
  oracle_output,     // grouped: the final output against the dense double-precision oracle
  dequantized_kv,    // fp8 caches: the K/V elements each load produced, after dequantisation
};
inline constexpr int kNumChecks = 9;

// A set of kernel variants.
class VariantSet {
 public:
  constexpr VariantSet(std::initializer_list<KernelVersion> versions) {
    for (KernelVersion version : versions) bits_ |= bit(version);
  }
  constexpr bool contains(KernelVersion version) const { return (bits_ & bit(version)) != 0; }

 private:
  static constexpr std::uint32_t bit(KernelVersion version) { return std::uint32_t{1} << unsigned(version); }
  std::uint32_t bits_ = 0;
};
inline constexpr VariantSet kV1AndV2{KernelVersion::v1, KernelVersion::v2};
inline constexpr VariantSet kV2Only{KernelVersion::v2};
inline constexpr VariantSet kGroupedOnly{KernelVersion::grouped};
inline constexpr VariantSet kAllVariants{KernelVersion::v1, KernelVersion::v2, KernelVersion::grouped};
// The kernel variants a front end may list (auto is a choice between them, not a variant).
inline constexpr KernelVersion kKernelVariants[] = {KernelVersion::v1, KernelVersion::v2, KernelVersion::grouped};

// How values are compared with the expected ones (llm.c's rule): an element passes when
//     |actual - expected| <= atol + rtol * |expected|
// with atol = atol_fixed + (atol_dtype_ulps * ulp(dtype) + atol_value_scale) * value_scale and
//      rtol = rtol_fixed + rtol_dtype_ulps * ulp(dtype),
// where value_scale is the largest |v| the run's sequences use (output-side errors scale with it).
// compare/ evaluates the rule for a run (stage_tolerance); `reason` says why it has this size.
struct ToleranceRule {
  bool compared = true;  // false: the stage is not compared on its own (the reason says where it is)
  double atol_fixed = 0.0;
  double atol_dtype_ulps = 0.0;
  double atol_value_scale = 0.0;
  double rtol_fixed = 0.0;
  double rtol_dtype_ulps = 0.0;
  std::string_view reason;
};

struct StageInfo {
  Stage stage;
  std::string_view name;       // the `//! [name]` marker; the reference function; pal-viz --step name
  std::string_view title;      // for people: "qk_max: the thread_block's largest logit"
  // The docs page that explains it, e.g. "06_softmax"; the grouped kernel's own stages, chapter 13.
  std::string_view chapter;
  std::string_view dump_name;  // `kernel.<dump_name>` / `reference.<dump_name>` in a dump ("" = none)
  ToleranceRule tolerance;
  VariantSet variants;
};

struct CheckInfo {
  Check check;
  std::string_view name;   // the comparison report's row: "final_output"
  std::string_view title;  // what is compared, in words
  ToleranceRule tolerance;
  VariantSet variants;
};

// A stage or a check: what a recorded array belongs to, or what a row of a comparison compares.
struct StageOrCheck {
  constexpr StageOrCheck(Stage of_stage) : stage(of_stage) {}
  constexpr StageOrCheck(Check of_check) : check(of_check), is_check(true) {}
  Stage stage = Stage::prologue;
  Check check = Check::final_output;
  bool is_check = false;

  std::string_view name() const;
  const ToleranceRule& tolerance() const;
  VariantSet variants() const;
  constexpr bool operator==(const StageOrCheck& other) const {
    return is_check == other.is_check && (is_check ? check == other.check : stage == other.stage);
  }
};

// The kernel source that holds a variant's stages (for the marker test and the docs).
std::string_view kernel_source_of(KernelVersion variant);

std::span<const StageInfo> all_stages();  // in kernel order
const StageInfo& stage_info(Stage stage);
std::string_view stage_name(Stage stage);
bool parse_stage(std::string_view name, Stage& stage);  // false when no stage has that name
bool stage_in_variant(Stage stage, KernelVersion variant);

std::span<const CheckInfo> all_checks();
const CheckInfo& check_info(Check check);
std::string_view check_name(Check check);
bool parse_check(std::string_view name, Check& check);

}  // namespace pal
