// _pal: the compiled half of `import pal` (pybind11), over the run layer (run/).
//
// It takes C-contiguous NumPy arrays whose element types pal/__init__.py has already resolved (the
// query dtype and the cache's are named by strings, because NumPy has no bf16 and no fp8: those
// arrive as uint16 / uint8 bit patterns), builds the scenario from the arrays' shapes the way
// pal-run --inputs does for a file without metadata, and validates through core/ so that a bad
// argument gets the tools' message. Every ScenarioError becomes pal.InputError (a ValueError).
//
// What it hands back is copied into NumPy arrays: a run's tensors never alias memory that C++ owns.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "compare/stage_compare.h"
#include "core/inputs.h"
#include "core/safetensors.h"
#include "core/scenario.h"
#include "kernels/record_schema.h"
#include "kernels/simt/emulator.h"
#include "kernels/stage_registry.h"
#include "run/recorded_run.h"
#include "run/run_dump.h"

namespace py = pybind11;

namespace pal {
namespace {

// ---- arrays in ---------------------------------------------------------------------------------

// A NumPy array's bytes as a Tensor of `type`. The array must be C-contiguous with elements of the
// type's size: pal/__init__.py copies or refuses anything else before it gets here, and this
// check keeps a direct caller of _pal from reading past a buffer.
Tensor tensor_from_array(const py::array& array, const std::string& name, ElementType type) {
  if (!(array.flags() & py::array::c_style))
    throw ScenarioError(name + " is not C-contiguous; pass a contiguous array (numpy.ascontiguousarray)");
  if (array.itemsize() != element_size_bytes(type))
    throw ScenarioError(name + " has " + std::to_string(array.itemsize()) + "-byte elements; " +
                        std::string(element_type_name(type)) + " needs " + std::to_string(element_size_bytes(type)));
  Tensor tensor;
  tensor.type = type;
  tensor.shape.assign(array.shape(), array.shape() + array.ndim());
  tensor.bytes.resize(static_cast<std::size_t>(array.nbytes()));
  if (array.nbytes() > 0) std::memcpy(tensor.bytes.data(), array.data(), tensor.bytes.size());
  return tensor;
}

int dimension(const Tensor& tensor, std::size_t axis, const std::string& what) {
  const std::int64_t value = tensor.shape.at(axis);
  if (value > std::numeric_limits<int>::max()) throw ScenarioError(what + " = " + std::to_string(value) + " is out of range");
  return static_cast<int>(value);
}

void require_rank(const Tensor& tensor, const std::string& name, std::size_t rank, const std::string& meaning) {
  if (tensor.shape.size() != rank)
    throw ScenarioError(name + " has shape " + tensor.shape_string() + "; expected " + meaning);
}

struct RunArguments {
  std::string dtype = "fp16";  // of query and output: fp32, fp16, bf16
  std::string kv_cache_dtype = "auto";
  std::optional<float> scale;
  float k_scale = 1.0f, v_scale = 1.0f;
  BlockSparseParams block_sparse;
  std::string version = "auto";
  std::string backend = "auto";
  bool record = false;
};

// The scenario follows from the tensors (as for a safetensors file without our metadata), the rest
// from the arguments; then core/ validates both, with the messages pal-run prints.
CheckedInputs checked_inputs(const py::array& query, const py::array& key_cache, const py::array& value_cache,
                             const py::array& block_tables, const py::array& seq_lens,
                             const std::optional<py::array>& alibi_slopes, const RunArguments& args) {
  Scenario s;
  if (!parse_dtype(args.dtype, s.dtype))
    throw ScenarioError("dtype '" + args.dtype + "' is not a known dtype; valid: fp32, fp16, bf16");
  if (!parse_kv_cache_dtype(args.kv_cache_dtype, s.kv_cache_dtype))
    throw ScenarioError("kv_cache_dtype '" + args.kv_cache_dtype +
                        "' is not valid; valid: auto, fp8, fp8_e4m3, fp8_e5m2");
  if (!parse_version(args.version, s.version))
    throw ScenarioError("version '" + args.version + "' is not valid; valid: v1, v2, auto");

  Inputs in;
  in.query = tensor_from_array(query, "query", element_type_of(s.dtype));
  const ElementType kv_type = is_fp8(s.kv_cache_dtype) ? element_type_of(fp8_format_of(s.kv_cache_dtype))
                                                       : element_type_of(s.dtype);
  in.key_cache = tensor_from_array(key_cache, "key_cache", kv_type);
  in.value_cache = tensor_from_array(value_cache, "value_cache", kv_type);
  in.block_tables = tensor_from_array(block_tables, "block_tables", ElementType::i32);
  in.seq_lens = tensor_from_array(seq_lens, "seq_lens", ElementType::i32);
  in.alibi_slopes = alibi_slopes ? tensor_from_array(*alibi_slopes, "alibi_slopes", ElementType::f32)
                                 : Tensor(ElementType::f32, {0});

  require_rank(in.query, "query", 3, "[num_seqs, num_heads, head_size]");
  require_rank(in.key_cache, "key_cache", 5, "[num_blocks, num_kv_heads, head_size/x, block_size, x]");
  require_rank(in.seq_lens, "seq_lens", 1, "[num_seqs]");
  s.num_seqs = dimension(in.query, 0, "num_seqs (query dimension 0)");
  s.num_heads = dimension(in.query, 1, "num_heads (query dimension 1)");
  s.head_size = dimension(in.query, 2, "head_size (query dimension 2)");
  s.num_blocks = dimension(in.key_cache, 0, "num_blocks (key_cache dimension 0)");
  s.num_kv_heads = dimension(in.key_cache, 1, "num_kv_heads (key_cache dimension 1)");
  s.block_size = dimension(in.key_cache, 3, "block_size (key_cache dimension 3)");
  s.seq_lens.assign(in.seq_lens.data<std::int32_t>(), in.seq_lens.data<std::int32_t>() + in.seq_lens.numel());
  s.alibi = in.alibi_slopes.numel() > 0;
  s.scale = args.scale;
  s.k_scale = args.k_scale;
  s.v_scale = args.v_scale;
  s.block_sparse = args.block_sparse;

  in.scale = s.effective_scale();
  in.k_scale = s.k_scale;
  in.v_scale = s.v_scale;
  in.block_sparse = s.block_sparse;
  CheckedInputs checked = CheckedInputs::check(s, std::move(in));
  refuse_non_finite_inputs(checked.scenario(), checked.inputs());
  return checked;
}

// ---- arrays out --------------------------------------------------------------------------------

// A Tensor as a NumPy array (a copy) and the name of its element type: bf16 comes out as uint16 and
// fp8 as uint8 bit patterns, which pal/__init__.py turns into torch.bfloat16 / float8 where asked.
py::array array_from_tensor(const Tensor& tensor) {
  py::dtype dtype;
  switch (tensor.type) {
    case ElementType::f32: dtype = py::dtype::of<float>(); break;
    case ElementType::f16: dtype = py::dtype("float16"); break;
    case ElementType::bf16: dtype = py::dtype::of<std::uint16_t>(); break;
    case ElementType::i32: dtype = py::dtype::of<std::int32_t>(); break;
    case ElementType::i64: dtype = py::dtype::of<std::int64_t>(); break;
    case ElementType::u8:
    case ElementType::f8_e4m3:
    case ElementType::f8_e5m2: dtype = py::dtype::of<std::uint8_t>(); break;
  }
  py::array array(dtype, tensor.shape);
  if (!tensor.bytes.empty()) std::memcpy(array.mutable_data(), tensor.bytes.data(), tensor.bytes.size());
  return array;
}

py::dict tensors_dict(const std::map<std::string, Tensor>& tensors, const std::string& prefix) {
  py::dict dict;
  for (const auto& [name, tensor] : tensors)
    if (name.rfind(prefix, 0) == 0) dict[py::str(name.substr(prefix.size()))] = array_from_tensor(tensor);
  return dict;
}

py::dict report_dict(const ComparisonReport& report) {
  py::list rows;
  for (const StageComparison& row : report.stages) {
    py::dict entry;
    entry["stage"] = row.stage;
    entry["is_check"] = row.subject.is_check;
    entry["what"] = row.what;
    entry["num_compared"] = row.num_compared;
    entry["num_failed"] = row.num_failed;
    entry["passed"] = row.passed();
    entry["max_abs_error"] = row.max_abs_error;
    entry["max_rel_error"] = row.max_rel_error;
    entry["worst_where"] = row.worst_where;
    entry["worst_actual"] = row.worst_actual;
    entry["worst_expected"] = row.worst_expected;
    entry["atol"] = row.tolerance.atol;
    entry["rtol"] = row.tolerance.rtol;
    entry["reason"] = row.tolerance.reason;
    rows.append(entry);
  }
  py::dict dict;
  dict["title"] = report.title;
  dict["passed"] = report.passed();
  dict["stages"] = rows;
  dict["table"] = report.table();
  return dict;
}

// The stage (or check) each `kernel.<name>` tensor of a dump of `version` belongs to, from the
// record schema: an array's owner, and for a record struct each field's tensor goes with its array.
// Per version, because two variants' arrays can share field tensors (the load records of v1/v2 and
// the grouped kernel's tile copies are both `kernel.load_*`).
py::dict kernel_tensor_owners(const std::string& version_text) {
  KernelVersion version{};
  if (!parse_version(version_text, version) || version == KernelVersion::automatic)
    throw py::value_error("kernel_tensor_owners: '" + version_text + "' is not v1, v2 or grouped");
  py::dict owners;
  for (int i = 0; i < kNumRecordArrays; ++i) {
    const RecordArrayInfo& info = record_array_info(static_cast<RecordArray>(i));
    if (!info.variants.contains(version)) continue;
    const std::string owner(info.owner.name());
#define PAL_FIELD_OWNER(field, type, dump, meaning) owners[py::str(std::string(dump_name(RecordDumpName(dump))))] = owner;
    switch (info.element) {
      case RecordElement::token_record: PAL_TOKEN_RECORD_FIELDS(PAL_FIELD_OWNER) break;
      case RecordElement::load_record: PAL_LOAD_RECORD_FIELDS(PAL_FIELD_OWNER) break;
      default: owners[py::str(std::string(dump_name(info.dump)))] = owner;
    }
#undef PAL_FIELD_OWNER
  }
  return owners;
}

// ---- a run, held for the Python side ------------------------------------------------------------

class PyRun {
 public:
  explicit PyRun(RecordedRun run) : run_(std::make_shared<RecordedRun>(std::move(run))) {}

  py::dict results() const {
    const bool recorded = run_->recorded();
    const RunDumpContents contents = run_dump_contents(run_->kernel(), recorded ? &run_->reference() : nullptr);
    py::dict dict;
    dict["output"] = array_from_tensor(run_->kernel().output);
    dict["version"] = std::string(version_name(run_->version()));
    dict["backend"] = std::string(backend_name(run_->kernel().backend));
    dict["device"] = run_->kernel().device_name;
    dict["recorded"] = recorded;
    dict["origin"] = run_->origin();
    dict["scenario"] = scenario_summary(run_->scenario());
    dict["report"] = report_dict(run_->report());
    dict["kernel"] = tensors_dict(contents.tensors, "kernel.");
    dict["reference"] = tensors_dict(contents.tensors, "reference.");
    py::dict others;  // output and v2's tmp_out, exp_sums, max_logits
    for (const auto& [name, tensor] : contents.tensors)
      if (name.find('.') == std::string::npos) others[py::str(name)] = array_from_tensor(tensor);
    dict["tensors"] = others;
    return dict;
  }

  py::dict inputs() const {
    const Inputs& in = run_->inputs();
    py::dict dict;
    dict[kQueryName] = array_from_tensor(in.query);
    dict[kKeyCacheName] = array_from_tensor(in.key_cache);
    dict[kValueCacheName] = array_from_tensor(in.value_cache);
    dict[kBlockTablesName] = array_from_tensor(in.block_tables);
    dict[kSeqLensName] = array_from_tensor(in.seq_lens);
    if (in.alibi_slopes.numel() > 0) dict[kAlibiSlopesName] = array_from_tensor(in.alibi_slopes);
    return dict;
  }

  py::dict arguments() const {  // the scalars, in upstream's argument names
    const Scenario& s = run_->scenario();
    py::dict dict;
    dict["dtype"] = std::string(dtype_name(s.dtype));
    dict["kv_cache_dtype"] = std::string(kv_cache_dtype_name(s.kv_cache_dtype));
    dict["scale"] = run_->inputs().scale;
    dict["k_scale"] = s.k_scale;
    dict["v_scale"] = s.v_scale;
    dict["tp_rank"] = s.block_sparse.tp_rank;
    dict["blocksparse_local_blocks"] = s.block_sparse.local_blocks;
    dict["blocksparse_vert_stride"] = s.block_sparse.vert_stride;
    dict["blocksparse_block_size"] = s.block_sparse.block_size;
    dict["blocksparse_head_sliding_step"] = s.block_sparse.head_sliding_step;
    dict["version"] = std::string(version_name(run_->version()));
    return dict;
  }

  void write_dump(const std::string& path) const {
    const bool recorded = run_->recorded();
    write_run_dump(path, run_->inputs(), run_->kernel(), recorded ? &run_->reference() : nullptr);
  }

 private:
  std::shared_ptr<RecordedRun> run_;
};

RecordedRunOptions run_options(const std::string& backend, bool record) {
  RecordedRunOptions options;
  if (!parse_backend(backend, options.backend))
    throw ScenarioError("backend '" + backend + "' is not valid; valid: gpu, emulator, auto");
  options.record = record;
  return options;
}

PyRun paged_attention(const py::array& query, const py::array& key_cache, const py::array& value_cache,
                      const py::array& block_tables, const py::array& seq_lens,
                      const std::optional<py::array>& alibi_slopes, const RunArguments& args) {
  CheckedInputs checked = checked_inputs(query, key_cache, value_cache, block_tables, seq_lens, alibi_slopes, args);
  const RecordedRunOptions options = run_options(args.backend, args.record);
  py::gil_scoped_release no_gil;  // the arrays are copied: the run touches no Python object
  return PyRun(RecordedRun::from_checked(std::move(checked), options, "Python arrays (pal.paged_attention)"));
}

PyRun open_dump(const std::string& path, const std::string& backend) {
  const RecordedRunOptions options = run_options(backend, true);
  py::gil_scoped_release no_gil;
  return PyRun(RecordedRun::from_dump(path, options));
}

}  // namespace
}  // namespace pal

PYBIND11_MODULE(_pal, m) {
  using namespace pal;
  m.doc() = "Paged Attention Lab's compiled core; use the `pal` package, which wraps it.";

  // Bad arguments and bad files: the tools' exit code 2, here a ValueError with the same message.
  static py::exception<ScenarioError> input_error(m, "InputError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const ScenarioError& e) {
      input_error(e.what());
    } catch (const simt::EmulatorError& e) {
      PyErr_SetString(PyExc_RuntimeError, (std::string("emulator: ") + e.what()).c_str());
    }
  });

  py::class_<RunArguments>(m, "RunArguments")
      .def(py::init<>())
      .def_readwrite("dtype", &RunArguments::dtype)
      .def_readwrite("kv_cache_dtype", &RunArguments::kv_cache_dtype)
      .def_readwrite("scale", &RunArguments::scale)
      .def_readwrite("k_scale", &RunArguments::k_scale)
      .def_readwrite("v_scale", &RunArguments::v_scale)
      .def_property(
          "tp_rank", [](const RunArguments& a) { return a.block_sparse.tp_rank; },
          [](RunArguments& a, int v) { a.block_sparse.tp_rank = v; })
      .def_property(
          "blocksparse_local_blocks", [](const RunArguments& a) { return a.block_sparse.local_blocks; },
          [](RunArguments& a, int v) { a.block_sparse.local_blocks = v; })
      .def_property(
          "blocksparse_vert_stride", [](const RunArguments& a) { return a.block_sparse.vert_stride; },
          [](RunArguments& a, int v) { a.block_sparse.vert_stride = v; })
      .def_property(
          "blocksparse_block_size", [](const RunArguments& a) { return a.block_sparse.block_size; },
          [](RunArguments& a, int v) { a.block_sparse.block_size = v; })
      .def_property(
          "blocksparse_head_sliding_step", [](const RunArguments& a) { return a.block_sparse.head_sliding_step; },
          [](RunArguments& a, int v) { a.block_sparse.head_sliding_step = v; })
      .def_readwrite("version", &RunArguments::version)
      .def_readwrite("backend", &RunArguments::backend)
      .def_readwrite("record", &RunArguments::record);

  py::class_<PyRun>(m, "Run")
      .def("results", &PyRun::results, "output, report, and (recorded) kernel.* / reference.* arrays by dump name")
      .def("inputs", &PyRun::inputs, "the kernel's input tensors, in upstream's names")
      .def("arguments", &PyRun::arguments, "the scalar arguments as run")
      .def("write_dump", &PyRun::write_dump, py::arg("path"), "write the run as pal-run --output does");

  m.def("paged_attention", &paged_attention, py::arg("query"), py::arg("key_cache"), py::arg("value_cache"),
        py::arg("block_tables"), py::arg("seq_lens"), py::arg("alibi_slopes"), py::arg("arguments"));
  m.def("open_dump", &open_dump, py::arg("path"), py::arg("backend") = "auto",
        "a dump written by pal-run --output or pal.write_dump; re-runs its inputs when it holds no recording");

  m.def("stage_names", [](const std::string& version) {
    KernelVersion variant = KernelVersion::v1;
    if (!parse_version(version, variant) || variant == KernelVersion::automatic)
      throw ScenarioError("version '" + version + "': stages belong to a kernel that ran; valid: v1, v2");
    std::vector<std::string> names;
    for (const StageInfo& info : all_stages())
      if (info.variants.contains(variant)) names.emplace_back(info.name);
    return names;
  }, py::arg("version"), "the registry's stage names of a kernel version, in kernel order");
  m.def("check_names", [](const std::string& version) {
    KernelVersion variant = KernelVersion::v1;
    if (!parse_version(version, variant) || variant == KernelVersion::automatic)
      throw ScenarioError("version '" + version + "': checks belong to a kernel that ran; valid: v1, v2");
    std::vector<std::string> names;
    for (const CheckInfo& info : all_checks())
      if (info.variants.contains(variant)) names.emplace_back(info.name);
    return names;
  }, py::arg("version"));
  m.def("stage_dump_names", [] {
    py::dict names;
    for (const StageInfo& info : all_stages()) names[py::str(std::string(info.name))] = std::string(info.dump_name);
    return names;
  }, "stage name -> its dump name ('' when the stage has no headline array)");
  m.def("kernel_tensor_owners", &kernel_tensor_owners, py::arg("version"),
        "kernel.<name> tensor of a run of `version` -> the stage or check that records it (the record schema)");
  m.def("gpu_available", [] {
    std::string why;
    const bool available = gpu_available(&why);
    return std::make_pair(available, why);
  });
  m.attr("supported_head_sizes") = std::vector<int>(std::begin(kSupportedHeadSizes), std::end(kSupportedHeadSizes));
  m.attr("supported_block_sizes") = std::vector<int>(std::begin(kSupportedBlockSizes), std::end(kSupportedBlockSizes));
  m.attr("partition_size") = kPartitionSize;
}
