// The registry's table: one entry per stage and per check. This is the one source file that spells
// the stage names as strings (see stage_registry.h).
#include "kernels/stage_registry.h"

#include <array>

namespace pal {

namespace {

// ---- tolerance rules, with the reason each has its size ------------------------------------------

constexpr ToleranceRule kNotCompared(std::string_view reason) {
  ToleranceRule rule;
  rule.compared = false;
  rule.reason = reason;
  return rule;
}

constexpr ToleranceRule kExact{true, 0.0, 0.0, 0.0, 0.0, 0.0,
                               "a copy: the kernel stores the query's own elements, bit for bit"};

constexpr ToleranceRule kLogits{true, 1e-5, 0.0, 0.0, 1e-5, 0.0,
                                "fp32 dot products summed in another order (thread-group butterfly vs a plain loop): "
                                "a few fp32 ulps of the products' magnitude"};

constexpr ToleranceRule kExponentials{true, 1e-6, 0.0, 0.0, 2e-5, 0.0,
                                      "fp32 exp and sums in another order; on the GPU __expf and __fdividef add up to "
                                      "~2 ulp plus |x| * 2^-24 from scaling the argument"};

constexpr ToleranceRule kAccumulators{true, 0.0, 1.0, 0.0, 1e-4, 0.0,
                                      "fp32 sums of p*v in another order; and a probability within an fp32 ulp of a "
                                      "rounding midpoint may round to the neighbouring dtype value on one side (one "
                                      "dtype ulp of p*v)"};

constexpr ToleranceRule kRoundedOutput{true, 0.0, 1.0, 1e-6, 1e-4, 1.0,
                                       "the accumulators (fp32 sums in another order, see cross_warp_tree) rounded to "
                                       "the dtype: one dtype ulp, relative to the value and to the largest |v|"};

constexpr ToleranceRule kIntegers(std::string_view reason) { return {true, 0.0, 0.0, 0.0, 0.0, 0.0, reason}; }

constexpr ToleranceRule kSplitState{true, 1e-5, 0.0, 0.0, 1e-4, 0.0,
                                    "the grouped kernel's split max and exp sum: the same logits and exponentials "
                                    "as its reference, summed in another fp32 order (mma or lane partial sums), "
                                    "and __expf on the GPU (the grid tests' rule, measured on the H200; compare/ "
                                    "adds the logits' rounding, which ALiBi makes large)"};

constexpr ToleranceRule kPartialOutput{true, 0.0, 1.0, 1e-6, 1e-4, 1.0,
                                       "a split's fp32 partial output: fp32 sums in another order, and a probability "
                                       "near a rounding midpoint may round to the neighbouring dtype value (one "
                                       "dtype ulp of p*v, relative to the largest |v|)"};

constexpr ToleranceRule kRoundedProbabilities{true, 1e-6, 0.0, 0.0, 2e-5, 1.0,
                                              "the grouped kernel's step maxima and rescale factors (fp32, __expf on "
                                              "the GPU) and its probabilities rounded to the dtype before P.V: a value "
                                              "within fp32 error of a rounding midpoint may round to the neighbouring "
                                              "dtype value (one dtype ulp)"};

constexpr ToleranceRule kWarpStates{true, 0.0, 1.0, 0.0, 1e-4, 0.0,
                                    "each warp's state and unnormalised accumulators, and the block's merged "
                                    "state: fp32 sums in another order (mma, lane partial sums), and a probability "
                                    "near a rounding midpoint may round the other way (one dtype ulp of p*v)"};

constexpr ToleranceRule kSplitMerge{true, 0.0, 1.0, 1e-6, 1e-4, 1.0,
                                    "the splits' merged state (fp32 sums of rescaled sums) and the output rounded to "
                                    "the dtype once: one dtype ulp, relative to the value and to the largest |v|"};

// Twice the scalar reference's own distance from the oracle (tests/reference/reference_test_support.h:
// one dtype unit roundoff of max|v| from rounding each probability, plus fp32 slack): the grouped
// reference rounds each probability against the running max, the paged one against the final max,
// so each is within that of the oracle and the kernel within twice it.
constexpr ToleranceRule kAgainstOracle{true, 2e-6, 1.0, 0.0, 2e-5, 1.0,
                                       "against the double-precision oracle: each probability is rounded to the "
                                       "dtype before P.V (u * max|v| each way), plus fp32 arithmetic; twice the "
                                       "paged reference's own distance from the oracle"};
constexpr ToleranceRule kDequantized{
    true, 0.0, 0.0, 0.0, 0.0, 0.0,
    "fp8 caches: code -> fp16 is exact, and the product with the scale is rounded once to the query dtype (for fp32 "
    "queries through fp16 when a load converts 2-8 codes), the same rounding on every side: bit for bit"};

// ---- the tables ----------------------------------------------------------------------------------

constexpr std::array<StageInfo, kNumStages> kStages{{
    {Stage::prologue, "prologue", "prologue: which thread_block, which tokens", "02_concepts", "",
     kNotCompared("index arithmetic only: checked through token_assignment and load_addresses (grouped: "
                  "through every split's state and output)"),
     kAllVariants},
    {Stage::query_load, "query_load", "query_load: q copied into shared memory (v1/v2: q_vecs; grouped: the group's rows)",
     "03_query", "query_load", kExact, kAllVariants},
    {Stage::qk_logits, "qk_logits", "qk_logits: every token's scaled q.k", "05_qk", "qk_logits", kLogits,
     kAllVariants},
    {Stage::qk_max, "qk_max", "qk_max: the thread_block's largest logit", "06_softmax", "qk_max", kLogits, kV1AndV2},
    {Stage::exp_sum, "exp_sum", "exp_sum: exp(logit - max) and its sum", "06_softmax", "exp_sum", kExponentials,
     kV1AndV2},
    {Stage::softmax, "softmax", "softmax: probabilities = exp / sum", "06_softmax", "softmax", kExponentials,
     kV1AndV2},
    {Stage::value_accumulation, "value_accumulation", "value_accumulation: probabilities x V rows", "07_value", "",
     kNotCompared("each lane holds only a slice of a row's sum: compared once the slices are added "
                  "(lv_warp_reduction; grouped: once the warps are merged, in split_partial_out and the output)"),
     kAllVariants},
    {Stage::lv_warp_reduction, "lv_warp_reduction", "lv_warp_reduction: token slices of a row added", "08_lv", "",
     kAccumulators, kV1AndV2},
    {Stage::cross_warp_tree, "cross_warp_tree", "cross_warp_tree: warps folded through shared memory", "08_lv", "",
     kAccumulators, kV1AndV2},
    {Stage::output, "output", "output: the thread_block writes each head's output (or a partial one)", "09_output",
     "output", kRoundedOutput, kAllVariants},
    {Stage::partition_reduce, "partition_reduce", "partition_reduce: v2 merges the partitions", "10_v2_partitions",
     "", kExponentials, kV2Only},
    {Stage::kv_tile_load, "kv_tile_load", "kv_tile_load: cp.async copies a tile of kv_blocks to shared memory",
     "13_grouped_kernel", "", kNotCompared("copies: every value copied is checked through the logits and outputs it feeds"),
     kGroupedOnly},
    {Stage::kv_tile_wait, "kv_tile_wait", "kv_tile_wait: wait for the oldest tile, start the next copy", "13_grouped_kernel",
     "", kNotCompared("a barrier and a copy's start: no values of its own"), kGroupedOnly},
    {Stage::online_softmax, "online_softmax", "online_softmax: each step's max, the running max, the rescale",
     "13_grouped_kernel", "", kRoundedProbabilities, kGroupedOnly},
    {Stage::block_merge, "block_merge", "block_merge: the warps' states and accumulators merged per head", "13_grouped_kernel",
     "", kWarpStates, kGroupedOnly},
    {Stage::split_merge, "split_merge", "split_merge: the grouped kernel merges a sequence's KV splits", "13_grouped_kernel",
     "", kSplitMerge, kGroupedOnly},
}};

constexpr std::array<CheckInfo, kNumChecks> kChecks{{
    {Check::final_output, "final_output", "out[seq][head][dim] after the last kernel", kRoundedOutput, kAllVariants},
    {Check::partition_state, "partition_state", "max_logits and exp_sums of every active partition", kExponentials,
     kV2Only},
    {Check::tmp_out, "tmp_out", "tmp_out: each partition's normalised partial output", kRoundedOutput, kV2Only},
    {Check::token_assignment, "token_assignment", "warp, thread group, lane, iteration, physical block of every token",
     kIntegers("integers: the same lanes must compute the same tokens"), kV1AndV2},
    {Check::load_addresses, "load_addresses", "every load's kind, element offset, iteration and vec, per thread",
     kIntegers("integers: the same lanes must load the same addresses in the same order"), kV1AndV2},
    {Check::split_state, "split_state", "max_logit and exp_sum of every active KV split (sequences with several)",
     kSplitState, kGroupedOnly},
    {Check::split_partial_out, "split_partial_out", "each active split's normalised fp32 partial output",
     kPartialOutput, kGroupedOnly},
    {Check::oracle_output, "oracle_output", "out[seq][head][dim] against the dense double-precision oracle",
     kAgainstOracle, kGroupedOnly},
    {Check::dequantized_kv, "dequantized_kv", "fp8 caches: every K/V element a lane loaded, after dequantisation",
     kDequantized, kV1AndV2},
}};

constexpr bool stages_in_enum_order() {
  for (int i = 0; i < kNumStages; ++i)
    if (static_cast<int>(kStages[static_cast<std::size_t>(i)].stage) != i) return false;
  return true;
}
constexpr bool checks_in_enum_order() {
  for (int i = 0; i < kNumChecks; ++i)
    if (static_cast<int>(kChecks[static_cast<std::size_t>(i)].check) != i) return false;
  return true;
}
static_assert(stages_in_enum_order(), "kStages lists every Stage once, in enum order");
static_assert(checks_in_enum_order(), "kChecks lists every Check once, in enum order");

}  // namespace

std::string_view kernel_source_of(KernelVersion variant) {
  switch (variant) {
    case KernelVersion::v1:
    case KernelVersion::v2: return "kernels/paged_attention_kernel.h";
    case KernelVersion::grouped: return "kernels/grouped_attention_kernel.h";
    case KernelVersion::automatic: break;
  }
  return "";
}

std::span<const StageInfo> all_stages() { return kStages; }
const StageInfo& stage_info(Stage stage) { return kStages[static_cast<std::size_t>(stage)]; }
std::string_view stage_name(Stage stage) { return stage_info(stage).name; }

bool parse_stage(std::string_view name, Stage& stage) {
  for (const StageInfo& info : kStages)
    if (info.name == name) {
      stage = info.stage;
      return true;
    }
  return false;
}

bool stage_in_variant(Stage stage, KernelVersion variant) { return stage_info(stage).variants.contains(variant); }

std::span<const CheckInfo> all_checks() { return kChecks; }
const CheckInfo& check_info(Check check) { return kChecks[static_cast<std::size_t>(check)]; }
std::string_view check_name(Check check) { return check_info(check).name; }

std::string_view StageOrCheck::name() const { return is_check ? check_name(check) : stage_name(stage); }
const ToleranceRule& StageOrCheck::tolerance() const {
  return is_check ? check_info(check).tolerance : stage_info(stage).tolerance;
}
VariantSet StageOrCheck::variants() const { return is_check ? check_info(check).variants : stage_info(stage).variants; }

bool parse_check(std::string_view name, Check& check) {
  for (const CheckInfo& info : kChecks)
    if (info.name == name) {
      check = info.check;
      return true;
    }
  return false;
}

}  // namespace pal
