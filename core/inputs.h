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

struct Inputs {
  Tensor query;         // [num_seqs, num_heads, head_size]                                  dtype
  Tensor key_cache;     // [num_blocks, num_kv_heads, head_size/x, block_size, x]            kv dtype
  Tensor value_cache;   // [num_blocks, num_kv_heads, head_size, block_size]                 kv dtype
  Tensor block_tables;  // [num_seqs, max_num_blocks_per_seq]  int32; -1 past a sequence's blocks
  Tensor seq_lens;      // [num_seqs]                                                        int32
  Tensor alibi_slopes;  // [num_heads] f32; empty (numel 0) when ALiBi is off
  float scale = 1.0f;
};

// x: elements per 16-byte chunk of the key layout's innermost dimension, for the cache's dtype.
constexpr int key_x(DType kv_dtype) { return key_x_for(dtype_size_bytes(kv_dtype)); }

// The scenario's KV-cache layout (core/kv_cache_layout.h).
KvCacheLayout kv_cache_layout(const Scenario& scenario);

// Values uniform in [-1/sqrt(head_size), 1/sqrt(head_size)] as upstream's tests draw them, rounded to
// the dtype. Physical blocks are a seeded shuffle of the pool, so logical block i of a sequence is
// almost never physical block i. Every cache slot that no sequence uses (the tail of each last block
// and every unreferenced block) holds NaN, so any read beyond a context poisons the output visibly.
Inputs generate_inputs(const Scenario& scenario);

// Checks that tensors agree with each other and with the scenario: dtypes, shapes, block-table
// entries in [0, num_blocks) for every block a sequence uses, seq_lens in range. Throws
// ScenarioError naming the tensor, what it holds and what was expected.
void validate_inputs(const Scenario& scenario, const Inputs& inputs);

// A scenario and its kernel inputs, validated once: holding one means validate_scenario and
// validate_inputs have passed for exactly these. The run layer (run/) makes one and hands it to the
// kernel (run_kernel) and the reference (reference_attention), whose overloads taking it do not
// validate again; their overloads taking a plain (Scenario, Inputs) validate first, for callers
// outside the run layer. Only the functions below make one.
class CheckedInputs {
 public:
  // Validates the scenario, then generates its inputs from the seed (valid by construction).
  static CheckedInputs generate(const Scenario& scenario);
  // Validates the scenario and the inputs against it. Throws ScenarioError naming the problem.
  static CheckedInputs check(Scenario scenario, Inputs inputs);
  // Reads a safetensors file (core/safetensors.h), which validates what it reads.
  friend CheckedInputs load_checked_inputs(const std::string& path, std::map<std::string, Tensor>* extra_tensors);

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
