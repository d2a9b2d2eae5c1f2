// The kernel's inputs for a scenario, in upstream's names and layouts, generated deterministically
// from the seed (or loaded from a user's safetensors file, see core/safetensors.h).
#pragma once

#include <map>
#include <string>
#include <utility>

#include "core/kv_cache_layout.h"
#include "core/scenario.h"
#include "core/tensor.h"

namespace pal {

// Every argument of the kernel: the tensors, and the scalars that say how to read them.
struct Inputs {
  Tensor query;         // [num_seqs, num_heads, head_size]                                  dtype
  Tensor key_cache;     // [num_blocks, num_kv_heads, head_size/x, block_size, x]            kv element type
  Tensor value_cache;   // [num_blocks, num_kv_heads, head_size, block_size]                 kv element type
  Tensor block_tables;  // [num_seqs, max_num_blocks_per_seq]  int32; -1 past a sequence's blocks
  Tensor seq_lens;      // [num_seqs]                                                        int32
  Tensor alibi_slopes;  // [num_heads] f32; empty (numel 0) when ALiBi is off
  float scale = 1.0f;   // softmax scale
  float k_scale = 1.0f;  // fp8 caches: a key is its code's value times k_scale (unused otherwise)
  float v_scale = 1.0f;  // fp8 caches: a value is its code's value times v_scale
  BlockSparseParams block_sparse;  // which kv_blocks each head attends (all unless vert_stride > 1)
};

// The element type of the caches: the query dtype's (kv_cache_dtype auto) or F8_E4M3 / F8_E5M2.
ElementType kv_cache_element_type(const Scenario& scenario);
// x: elements per 16-byte chunk of the key layout's innermost dimension, 16 / the cache element
// size (4 for fp32, 8 for fp16/bf16, 16 for fp8).
int key_x(const Scenario& scenario);

// The scenario's KV-cache layout (core/kv_cache_layout.h), with the cache's own x.
KvCacheLayout kv_cache_layout(const Scenario& scenario);

// What quantising the generated keys and values to fp8 did (both zero for an auto cache).
struct QuantizationReport {
  Fp8QuantizationCounts key;    // values divided by k_scale
  Fp8QuantizationCounts value;  // values divided by v_scale
};
std::string quantization_summary(const QuantizationReport& report);  // one line per cache, for logs

// Values uniform in [-1/sqrt(head_size), 1/sqrt(head_size)] as upstream's tests draw them, rounded to
// the dtype; a scenario's input_preset other than uniform reshapes the queries and keys so that the
// softmax shows the preset's pattern at the true scale (the shaping is described in inputs.cpp,
// AttentionShape; the values are not reshaped). An fp8 cache stores each key and value so drawn (the same draws as for an auto cache)
// quantised: code = fp8(value / scale), rounded to nearest even, saturating (core/fp8.h); `report`,
// when given, receives the counts of subnormal, flushed and saturated values. Physical blocks are a
// seeded shuffle of the pool, so logical block i of a sequence is almost never physical block i.
// Every cache slot that no sequence uses (the tail of each last block and every unreferenced block)
// holds NaN (the fp8 format's NaN code for fp8), so any read beyond a context poisons the output
// visibly.
Inputs generate_inputs(const Scenario& scenario, QuantizationReport* report = nullptr);
// The token the needle preset plants in sequence `seq` (a seeded position in [0, seq_len)); -1 for
// other presets and empty sequences.
int needle_token(const Scenario& scenario, int seq);

// Checks that tensors agree with each other and with the scenario: dtypes, shapes, block-table
// entries in [0, num_blocks) for every block a sequence uses, seq_lens in range, the scalars equal
// to the scenario's. Throws ScenarioError naming the tensor, what it holds and what was expected.
void validate_inputs(const Scenario& scenario, const Inputs& inputs);

// A scenario and its kernel inputs, validated once: holding one means validate_scenario and
// validate_inputs have passed for exactly these. The run layer (run/) makes one and hands it to the
// kernel (run_kernel) and the reference (reference_attention), whose overloads taking it do not
// validate again; their overloads taking a plain (Scenario, Inputs) validate first, for callers
// outside the run layer. Only the functions below make one.
class CheckedInputs {
 public:
  // Validates the scenario, then generates its inputs from the seed (valid by construction).
  // `report`, when given, receives what quantising to an fp8 cache did.
  static CheckedInputs generate(const Scenario& scenario, QuantizationReport* report = nullptr);
  // Validates the scenario and the inputs against it. Throws ScenarioError naming the problem.
  static CheckedInputs check(Scenario scenario, Inputs inputs);
  // Reads a safetensors file (core/safetensors.h), which validates what it reads.
  friend CheckedInputs load_checked_inputs(const std::string& path, std::map<std::string, Tensor>* extra_tensors,
                                           std::map<std::string, std::string>* metadata);

  const Scenario& scenario() const { return scenario_; }
  const Inputs& inputs() const { return inputs_; }
  // The kernel version is a choice about how to run, not a property of the inputs: any version
  // keeps them valid.
  void set_version(KernelVersion version) { scenario_.version = version; }

 private:
  CheckedInputs(Scenario scenario, Inputs inputs) : scenario_(std::move(scenario)), inputs_(std::move(inputs)) {}
  Scenario scenario_;
  Inputs inputs_;
};
// NaN or inf among the values the kernel reads: the query, the key and value elements of every
// token a sequence covers, the ALiBi slopes and the scale. One message per tensor that has any:
// how many, among how many read, and the coordinates and values of the first three, e.g.
//   key_cache holds 1 non-finite value (NaN or inf) among the 7680 elements the sequences read;
//   first at (seq 1, token 9, kv head 1, dim 5) = -inf (physical block 3, slot 1)
// The cache slots no sequence reads are not looked at: the generator fills them with NaN on purpose
// (the poison that shows a read outside the block table). Call after validate_inputs.
std::vector<std::string> non_finite_input_problems(const Scenario& scenario, const Inputs& inputs);
// Throws ScenarioError with every problem above. Attention over a NaN or inf has no reference
// result to check a kernel against (both sides are NaN, or inf - inf), so a file holding them is
// refused as bad input (exit code 2) rather than run into a comparison that could never pass.
void refuse_non_finite_inputs(const Scenario& scenario, const Inputs& inputs);

// Geometric ALiBi slopes (2^(-8/n), 2^(-16/n), ... for n heads, with the standard interleave for a
// non-power-of-two head count).
std::vector<float> alibi_slopes_for(int num_heads);

// Deterministic 64-bit generator (splitmix64) so inputs are the same on every platform and compiler.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  float uniform(float low, float high);  // [low, high)
  std::uint64_t below(std::uint64_t bound);

 private:
  std::uint64_t state_;
};

}  // namespace pal
