// --shapes FILE: a user's own model shapes for pal-bench to time, as JSON or CSV.
//
// JSON, an array of objects (or {"shapes": [...]}):
//   [{"label": "llama-3-8b", "num_heads": 32, "num_kv_heads": 8, "head_size": 128, "block_size": 16,
//     "num_seqs": 64, "context_len": 4096, "dtype": "bf16", "version": "auto"}]
// CSV, a header naming the fields, then one shape per line ('#' starts a comment line; an empty
// cell leaves the field at its default; no quoting):
//   label,num_heads,num_kv_heads,head_size,block_size,num_seqs,context_len,dtype,version
//   llama-3-8b,32,8,128,16,64,4096,bf16,auto
//
// Fields are the scenario's (core/scenario.h: num_heads, num_kv_heads, head_size, block_size,
// num_seqs, dtype, kv_cache_dtype, version) plus context_len, the tokens of every sequence, and an
// optional label. Absent fields take the primary grid's centre: 32/32 heads, head 128, block 16,
// fp16, 1 sequence of 512 tokens; without a version the rows follow --versions.
//
// The file is untrusted: at most kMaxShapesFileBytes and kMaxShapes shapes; every field is checked
// with core's scenario rules and messages (scenario_from_json for types, scenario_problems for
// values) except the host-memory limit (pal-bench makes large inputs on the device and skips a
// shape that does not fit there), plus one rule of the benchmark's own: the KV-cache pool's block
// numbers must fit the int32 block table. Every problem of every shape is reported at once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_model.h"
#include "core/scenario.h"

namespace pal::bench {

inline constexpr std::size_t kMaxShapesFileBytes = std::size_t{1} << 20;
inline constexpr std::size_t kMaxShapes = 1000;
inline constexpr std::size_t kMaxLabelLength = 64;

struct UserShape {
  BenchShape shape;
  std::vector<std::string> versions;  // {"v2"} or {"auto"} from the file; empty: --versions decides
  std::string label;                  // the file's label, or "shape N" (1-based)
};

enum class ShapesFormat : std::uint8_t { json, csv };

// Throws ScenarioError naming `origin` (the file), then each shape with a problem (its number, and
// for CSV its line) and every problem found.
std::vector<UserShape> parse_shapes(std::string_view text, ShapesFormat format, const std::string& origin);

// Reads `path` (at most kMaxShapesFileBytes; a regular file) and parses it: *.csv as CSV, anything
// else as JSON. Throws ScenarioError with the path and what is wrong.
std::vector<UserShape> load_shapes_file(const std::string& path);

}  // namespace pal::bench
