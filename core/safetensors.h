// safetensors files: the format Hugging Face's `safetensors` package reads and writes, so inputs
// and results move between this project and Python (numpy / PyTorch) without a converter.
//
// Layout of a file:
//   bytes [0, 8)        N, the header length, unsigned 64-bit little-endian
//   bytes [8, 8+N)      a JSON object, padded with spaces:
//                         { "<name>": {"dtype": "F16", "shape": [2, 4, 64], "data_offsets": [begin, end)},
//                           ...,
//                           "__metadata__": {"<key>": "<string value>", ...} }
//   bytes [8+N, EOF)    the data section; each tensor's offsets are relative to its start, the raw
//                       little-endian elements in row-major order, tensors back to back.
// Writing pads N to a multiple of 8 so the data section starts 8-byte aligned, as the Python
// writer does. Reading checks every field and throws ScenarioError naming the file and what is
// wrong; a truncated or corrupted file never crashes the reader.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "core/inputs.h"
#include "core/scenario.h"
#include "core/tensor.h"

namespace pal {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;  // "__metadata__": string to string only
};

// Writing goes through OutputFile (output_file.h): a unique temporary, fsync, rename; a FIFO,
// device or symbolic link at `path` is refused and left as it is.
void write_safetensors(const std::string& path, const SafetensorsFile& file);  // throws ScenarioError
// The same from tensors held elsewhere (no copies); every pointer must stay valid during the call.
using TensorRefs = std::map<std::string, const Tensor*>;
void write_safetensors(const std::string& path, const TensorRefs& tensors,
                       const std::map<std::string, std::string>& metadata);
SafetensorsFile read_safetensors(const std::string& path);                      // throws ScenarioError
// The same reader over bytes in memory (the fuzz targets); `name` stands for the path in messages.
SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& name);

// Names of the kernel inputs in a file, upstream's argument names.
inline constexpr const char* kQueryName = "query";
inline constexpr const char* kKeyCacheName = "key_cache";
inline constexpr const char* kValueCacheName = "value_cache";
inline constexpr const char* kBlockTablesName = "block_tables";
inline constexpr const char* kSeqLensName = "seq_lens";
inline constexpr const char* kAlibiSlopesName = "alibi_slopes";  // absent when ALiBi is off
// Metadata keys: the softmax scale (decimal text) and the scenario (its JSON, see scenario.h).
inline constexpr const char* kScaleKey = "scale";
inline constexpr const char* kScenarioKey = "scenario";

// Writes the inputs under upstream's names plus `extra_tensors` (results, say), with the scale and
// the scenario in the metadata. Extra names must not collide with the input names.
void save_inputs(const std::string& path, const Scenario& scenario, const Inputs& inputs,
                 const std::map<std::string, Tensor>& extra_tensors = {},
                 const std::map<std::string, std::string>& extra_metadata = {});

// Reads inputs back. The scenario comes from the "scenario" metadata when present; a file written
// elsewhere (e.g. from PyTorch) without it gets a scenario derived from the tensors' shapes and
// dtypes. I64 block_tables / seq_lens are accepted and narrowed to I32 when their values fit.
// Everything is checked with validate_inputs, and non-finite values where the kernel reads are
// refused (refuse_non_finite_inputs). Tensors other than the inputs go to *extra_tensors when given.
std::pair<Scenario, Inputs> load_inputs(const std::string& path,
                                        std::map<std::string, Tensor>* extra_tensors = nullptr);
// The same, as inputs checked once (core/inputs.h): load_inputs' validation is the run's. The file
// is read once; its metadata goes to *metadata when given (a dump's reader needs both, and reading
// the file twice would hold two copies of it).
CheckedInputs load_checked_inputs(const std::string& path, std::map<std::string, Tensor>* extra_tensors = nullptr,
                                  std::map<std::string, std::string>* metadata = nullptr);
// load_inputs after the file is read: `path` names it in messages.
std::pair<Scenario, Inputs> inputs_from_safetensors(SafetensorsFile file, const std::string& path,
                                                    std::map<std::string, Tensor>* extra_tensors = nullptr);

}  // namespace pal
