// The kernel's inputs for a scenario, in upstream's names and layouts, generated deterministically
// from the seed (or loaded from a user's safetensors file, see core/safetensors.h).
#pragma once

#include <string>

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

// x: elements per 16-byte chunk of the key layout's innermost dimension.
constexpr int key_x(DType kv_dtype) { return 16 / dtype_size_bytes(kv_dtype); }

// Values uniform in [-1/sqrt(head_size), 1/sqrt(head_size)] as upstream's tests draw them, rounded to
// the dtype. Physical blocks are a seeded shuffle of the pool, so logical block i of a sequence is
// almost never physical block i. Every cache slot that no sequence uses (the tail of each last block
// and every unreferenced block) holds NaN, so any read beyond a context poisons the output visibly.
Inputs generate_inputs(const Scenario& scenario);

// Checks that tensors agree with each other and with the scenario: dtypes, shapes, block-table
// entries in [0, num_blocks) for every block a sequence uses, seq_lens in range. Throws
// ScenarioError naming the tensor, what it holds and what was expected.
void validate_inputs(const Scenario& scenario, const Inputs& inputs);

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
