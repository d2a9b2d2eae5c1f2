#include "tools/run_dump.h"

#include <cstring>
#include <map>

#include <nlohmann/json.hpp>

#include "core/safetensors.h"

namespace pal {

namespace {

nlohmann::json dims_to_json(const RecordDims& d) {
  return {{"num_seqs", d.num_seqs},
          {"num_heads", d.num_heads},
          {"max_num_partitions", d.max_num_partitions},
          {"partition_size", d.partition_size},
          {"head_size", d.head_size},
          {"block_size", d.block_size},
          {"num_threads", d.num_threads},
          {"num_warps", d.num_warps},
          {"tokens_per_thread_block", d.tokens_per_thread_block},
          {"num_qk_max_warp_steps", d.num_qk_max_warp_steps},
          {"num_cross_warp_steps", d.num_cross_warp_steps},
          {"num_sum_warp_steps", d.num_sum_warp_steps},
          {"num_rows_per_thread", d.num_rows_per_thread},
          {"num_acc_levels", d.num_acc_levels},
          {"max_loads_per_thread", d.max_loads_per_thread}};
}

RecordDims dims_from_json(const nlohmann::json& j) {
  RecordDims d;
  auto get = [&](const char* key) {
    if (!j.contains(key) || !j.at(key).is_number_integer())
      throw ScenarioError(std::string("dump: record_dims has no integer '") + key + "'");
    return j.at(key).get<int>();
  };
  d.num_seqs = get("num_seqs");
  d.num_heads = get("num_heads");
  d.max_num_partitions = get("max_num_partitions");
  d.partition_size = get("partition_size");
  d.head_size = get("head_size");
  d.block_size = get("block_size");
  d.num_threads = get("num_threads");
  d.num_warps = get("num_warps");
  d.tokens_per_thread_block = get("tokens_per_thread_block");
  d.num_qk_max_warp_steps = get("num_qk_max_warp_steps");
  d.num_cross_warp_steps = get("num_cross_warp_steps");
  d.num_sum_warp_steps = get("num_sum_warp_steps");
  d.num_rows_per_thread = get("num_rows_per_thread");
  d.num_acc_levels = get("num_acc_levels");
  d.max_loads_per_thread = get("max_loads_per_thread");
  return d;
}

Tensor float_tensor(const float* data, std::vector<std::int64_t> shape) {
  Tensor t(ElementType::f32, std::move(shape));
  std::memcpy(t.bytes.data(), data, t.bytes.size());
  return t;
}

template <typename Get>
Tensor gathered(ElementType type, std::vector<std::int64_t> shape, Get&& get) {
  Tensor t(type, std::move(shape));
  const std::int64_t n = t.numel();
  for (std::int64_t i = 0; i < n; ++i) {
    if (type == ElementType::i64) t.data<std::int64_t>()[i] = get(i);
    else t.data<std::int32_t>()[i] = static_cast<std::int32_t>(get(i));
  }
  return t;
}

}  // namespace

void write_run_dump(const std::string& path, const Inputs& inputs, const KernelRun& run, const ReferenceRun* reference) {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
  tensors["output"] = run.output;
  if (run.version == KernelVersion::v2) {
    tensors["tmp_out"] = run.tmp_out;
    tensors["exp_sums"] = run.exp_sums;
    tensors["max_logits"] = run.max_logits;
  }
  metadata["version"] = std::string(version_name(run.version));
  metadata["backend"] = std::string(backend_name(run.backend));
  metadata["device"] = run.device_name;
  if (reference) tensors["reference.output"] = reference->output;

  if (run.recording) {
    const RecordPointers& r = run.recording->ptr();
    const RecordDims& d = r.dims;
    const std::int64_t tb = d.num_thread_blocks(), sh = d.num_seq_heads(), T = d.tokens_per_thread_block,
                       H = d.head_size, N = d.num_threads, L = d.max_loads_per_thread;
    metadata["record_dims"] = dims_to_json(d).dump();
    tensors["kernel.query_load"] = float_tensor(r.q_vecs, {tb, H});
    {
      Tensor logits(ElementType::f32, {tb, T});
      for (std::int64_t i = 0; i < tb * T; ++i) logits.data<float>()[i] = r.tokens[i].logit;
      tensors["kernel.qk_logits"] = std::move(logits);
    }
    tensors["kernel.qk_max"] = float_tensor(r.qk_max_block, {tb});
    tensors["kernel.exp_values"] = float_tensor(r.exp_values, {tb, T});
    tensors["kernel.exp_sum"] = float_tensor(r.exp_sum_block, {tb});
    tensors["kernel.softmax"] = float_tensor(r.probs, {tb, T});
    tensors["kernel.output"] = float_tensor(r.out, {tb, H});
    tensors["kernel.qk_max_warp"] = float_tensor(r.qk_max_warp, {tb, d.num_qk_max_warp_steps + 1, N});
    tensors["kernel.red_smem_max"] = float_tensor(r.red_smem_max, {tb, d.num_warps});
    tensors["kernel.qk_max_cross_warp"] = float_tensor(r.qk_max_cross_warp, {tb, d.num_cross_warp_steps + 1, N});
    tensors["kernel.exp_sum_warp"] = float_tensor(r.exp_sum_warp, {tb, d.num_sum_warp_steps + 1, N});
    tensors["kernel.red_smem_sum"] = float_tensor(r.red_smem_sum, {tb, d.num_warps});
    tensors["kernel.exp_sum_cross_warp"] = float_tensor(r.exp_sum_cross_warp, {tb, d.num_cross_warp_steps + 1, N});
    tensors["kernel.accs"] = float_tensor(r.accs, {tb, d.num_acc_levels, N, d.num_rows_per_thread});
    tensors["kernel.partition_max_logit"] = float_tensor(r.partition_max_logit, {tb});
    tensors["kernel.partition_exp_sum"] = float_tensor(r.partition_exp_sum, {tb});
    tensors["kernel.reduce_max_logit"] = float_tensor(r.reduce_max_logit, {sh});
    tensors["kernel.reduce_rescaled_exp_sums"] = float_tensor(r.reduce_rescaled_exp_sums, {sh, d.max_num_partitions});
    tensors["kernel.reduce_global_exp_sum"] = float_tensor(r.reduce_global_exp_sum, {sh});
    const TokenRecord* tok = r.tokens;
    tensors["kernel.token_warp"] = gathered(ElementType::i32, {tb, T}, [&](std::int64_t i) { return tok[i].warp; });
    tensors["kernel.token_thread_group"] = gathered(ElementType::i32, {tb, T}, [&](std::int64_t i) { return tok[i].thread_group; });
    tensors["kernel.token_lane"] = gathered(ElementType::i32, {tb, T}, [&](std::int64_t i) { return tok[i].lane; });
    tensors["kernel.token_iteration"] = gathered(ElementType::i32, {tb, T}, [&](std::int64_t i) { return tok[i].iteration; });
    tensors["kernel.token_physical_block"] = gathered(ElementType::i64, {tb, T}, [&](std::int64_t i) { return tok[i].physical_block; });
    tensors["kernel.token_block_offset"] = gathered(ElementType::i32, {tb, T}, [&](std::int64_t i) { return tok[i].block_offset; });
    tensors["kernel.token_idx"] = gathered(ElementType::i32, {tb, T}, [&](std::int64_t i) { return tok[i].token_idx; });
    tensors["kernel.token_masked"] = gathered(ElementType::i32, {tb, T}, [&](std::int64_t i) { return tok[i].masked; });
    const LoadRecord* ld = r.loads;
    tensors["kernel.load_element_offset"] = gathered(ElementType::i64, {tb, N, L}, [&](std::int64_t i) { return ld[i].element_offset; });
    tensors["kernel.load_iteration"] = gathered(ElementType::i32, {tb, N, L}, [&](std::int64_t i) { return ld[i].iteration; });
    tensors["kernel.load_kind"] = gathered(ElementType::i32, {tb, N, L}, [&](std::int64_t i) { return std::int64_t(ld[i].kind); });
    tensors["kernel.load_vec_idx"] = gathered(ElementType::i32, {tb, N, L}, [&](std::int64_t i) { return ld[i].vec_idx; });
    tensors["kernel.load_count"] = gathered(ElementType::i32, {tb, N}, [&](std::int64_t i) { return r.load_counts[i]; });
    Tensor raw(ElementType::u8, {std::int64_t(run.recording->size_bytes())});
    std::memcpy(raw.bytes.data(), run.recording->data(), raw.bytes.size());
    tensors["kernel.recording_buffer"] = std::move(raw);

    if (reference) {
      // The reference's stages in the same shapes, NaN where a slot has no token.
      Tensor q(ElementType::f32, {tb, H}), lg(ElementType::f32, {tb, T}), mx(ElementType::f32, {tb}),
          ev(ElementType::f32, {tb, T}), es(ElementType::f32, {tb}), pr(ElementType::f32, {tb, T}),
          ou(ElementType::f32, {tb, H});
      for (Tensor* t : {&q, &lg, &mx, &ev, &es, &pr, &ou}) std::memset(t->bytes.data(), 0xFF, t->bytes.size());
      for (const ThreadBlockStages& stages : reference->thread_blocks) {
        if (!stages.active) continue;
        const std::int64_t i = reference->tb_index(stages.seq_idx, stages.head_idx, stages.partition_idx);
        std::memcpy(q.data<float>() + i * H, stages.q_vecs.data(), std::size_t(H) * sizeof(float));
        std::memcpy(ou.data<float>() + i * H, stages.out.data(), std::size_t(H) * sizeof(float));
        for (int t = 0; t < stages.num_tokens(); ++t) {
          lg.data<float>()[i * T + t] = stages.logits[std::size_t(t)];
          ev.data<float>()[i * T + t] = stages.exp_values[std::size_t(t)];
          pr.data<float>()[i * T + t] = stages.probs[std::size_t(t)];
        }
        mx.data<float>()[i] = stages.qk_max;
        es.data<float>()[i] = stages.exp_sum;
      }
      tensors["reference.query_load"] = std::move(q);
      tensors["reference.qk_logits"] = std::move(lg);
      tensors["reference.qk_max"] = std::move(mx);
      tensors["reference.exp_values"] = std::move(ev);
      tensors["reference.exp_sum"] = std::move(es);
      tensors["reference.softmax"] = std::move(pr);
      tensors["reference.output"] = reference->output;
      tensors["reference.thread_block_output"] = std::move(ou);
    }
  }
  save_inputs(path, run.scenario, inputs, tensors, metadata);
}

LoadedDump read_run_dump(const std::string& path) {
  std::map<std::string, Tensor> extra;
  auto [scenario, inputs] = load_inputs(path, &extra);
  LoadedDump dump{scenario, std::move(inputs), std::nullopt};
  auto output = extra.find("output");
  if (output == extra.end()) return dump;

  const SafetensorsFile file = read_safetensors(path);  // for the metadata
  auto meta = [&](const char* key) -> std::string {
    auto it = file.metadata.find(key);
    return it == file.metadata.end() ? std::string() : it->second;
  };
  KernelRun run;
  run.scenario = scenario;
  const std::string version = meta("version");
  if (version == "v1") run.version = KernelVersion::v1;
  else if (version == "v2") run.version = KernelVersion::v2;
  else throw ScenarioError("dump " + path + ": metadata 'version' is '" + version + "', expected v1 or v2");
  run.scenario.version = run.version;
  if (!parse_backend(meta("backend"), run.backend)) run.backend = Backend::emulator;
  run.device_name = meta("device");
  const std::vector<std::int64_t> out_shape{scenario.num_seqs, scenario.num_heads, scenario.head_size};
  if (output->second.shape != out_shape || output->second.type != element_type_of(scenario.dtype))
    throw ScenarioError("dump " + path + ": 'output' is " + output->second.shape_string() + " " +
                        std::string(element_type_name(output->second.type)) + ", expected [" +
                        std::to_string(scenario.num_seqs) + ", " + std::to_string(scenario.num_heads) + ", " +
                        std::to_string(scenario.head_size) + "] " +
                        std::string(element_type_name(element_type_of(scenario.dtype))));
  run.output = output->second;
  if (run.version == KernelVersion::v2) {
    for (const char* name : {"tmp_out", "exp_sums", "max_logits"})
      if (!extra.count(name)) throw ScenarioError("dump " + path + ": a v2 dump must hold '" + name + "'");
    run.tmp_out = extra["tmp_out"];
    run.exp_sums = extra["exp_sums"];
    run.max_logits = extra["max_logits"];
  }
  auto raw = extra.find("kernel.recording_buffer");
  if (raw != extra.end()) {
    const std::string dims_text = meta("record_dims");
    nlohmann::json dims_json = nlohmann::json::parse(dims_text, nullptr, false);
    if (dims_json.is_discarded() || !dims_json.is_object())
      throw ScenarioError("dump " + path + ": metadata 'record_dims' is missing or not JSON");
    const RecordLayout layout = record_layout(dims_from_json(dims_json));
    const RecordLayout expected = record_layout(record_dims(run.scenario));
    if (layout.total_bytes != expected.total_bytes)
      throw ScenarioError("dump " + path + ": record_dims do not match the scenario's recording layout");
    if (raw->second.type != ElementType::u8 || std::size_t(raw->second.numel()) != layout.total_bytes)
      throw ScenarioError("dump " + path + ": kernel.recording_buffer holds " + std::to_string(raw->second.numel()) +
                          " bytes, the layout needs " + std::to_string(layout.total_bytes));
    Recording recording(layout);
    std::memcpy(recording.data(), raw->second.bytes.data(), layout.total_bytes);
    run.recording = std::move(recording);
  }
  dump.run = std::move(run);
  return dump;
}

}  // namespace pal
