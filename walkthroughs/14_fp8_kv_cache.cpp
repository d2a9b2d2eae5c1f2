// Chapter 14: the fp8 KV cache. The cache holds one-byte codes (E4M3 or E5M2) of value / scale, and
// the kernel turns each code back into a number of the query's type at the very load that reads it.
// What the two formats can hold, what the scale is for, what changes in the layout and the loads,
// and what quantisation costs in accuracy and saves in bytes, measured on this run's inputs.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/fp8.h"
#include "reference/dense_oracle.h"
#include "walkthroughs/harness.h"

namespace pal::walkthrough {
namespace {

// "0.0111.010": sign, exponent field, mantissa field of a code.
std::string code_bits(std::uint8_t code, Fp8Format format) {
  const int mantissa_bits = fp8_mantissa_bits(format);
  const int exponent_bits = 7 - mantissa_bits;
  std::string text = (code & 0x80u) ? "1." : "0.";
  for (int bit = 6; bit >= 0; --bit) {
    text += ((code >> bit) & 1u) ? '1' : '0';
    if (bit == mantissa_bits && exponent_bits > 0) text += '.';
  }
  return text;
}

std::string hex_code(std::uint8_t code) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", unsigned(code));
  return text;
}

// The largest magnitude among the finite values of a cache (unused slots hold a poison).
float finite_amax(const Tensor& cache) {
  float amax = 0.0f;
  for (std::int64_t i = 0; i < cache.numel(); ++i) {
    const float value = cache.get_float(i);
    if (std::isfinite(value)) amax = std::max(amax, std::fabs(value));
  }
  return amax;
}

// A per-tensor scale as a calibration computes it: the largest magnitude maps onto the format's
// largest finite value. Upstream's kernel takes the scale as given; where it comes from (a
// checkpoint, or vLLM's dynamic scale from the first batch) is outside the kernel.
struct CalibratedScales {
  float k_scale = 1.0f;
  float v_scale = 1.0f;
  float k_amax = 0.0f;
  float v_amax = 0.0f;
};
CalibratedScales calibrate(const Scenario& scenario) {
  Scenario unquantised = scenario;
  unquantised.kv_cache_dtype = KvCacheDtype::automatic;
  unquantised.k_scale = unquantised.v_scale = 1.0f;
  const Inputs inputs = generate_inputs(unquantised);
  const float max_finite = fp8_max_finite(fp8_format_of(scenario.kv_cache_dtype));
  CalibratedScales scales;
  scales.k_amax = finite_amax(inputs.key_cache);
  scales.v_amax = finite_amax(inputs.value_cache);
  if (scales.k_amax > 0.0f) scales.k_scale = scales.k_amax / max_finite;
  if (scales.v_amax > 0.0f) scales.v_scale = scales.v_amax / max_finite;
  return scales;
}

void show_formats(Walkthrough& w) {
  Terminal& out = w.out();
  out.heading("14.1 Two formats in one byte");
  out.paragraph("An fp8 cache (--kv-cache-dtype fp8_e4m3, or fp8 as upstream spells it, or fp8_e5m2) keeps one "
                "byte per key or value element instead of two (fp16, bf16) or four (fp32). Both formats are the "
                "OCP 8-bit floats that Hopper and Ada convert in hardware. E4M3 spends its bits on precision and "
                "has no infinity; E5M2 keeps fp16's exponent range (it is the top byte of an fp16) with one "
                "mantissa bit less. Decoded by this project's conversion (core/fp8.h):");
  Table table({{"format"}, {"sign.exp.mant", Table::Align::left}, {"bias"}, {"largest finite"},
               {"smallest normal"}, {"smallest subnormal"}, {"steps/binade"}});
  for (Fp8Format format : {Fp8Format::e4m3, Fp8Format::e5m2}) {
    const int mantissa_bits = fp8_mantissa_bits(format);
    table.row({std::string(fp8_format_name(format)),
               "1." + std::to_string(7 - mantissa_bits) + "." + std::to_string(mantissa_bits),
               std::to_string(fp8_exponent_bias(format)), general(fp8_to_float(fp8_max_finite_code(format), format), 6),
               general(fp8_to_float(std::uint8_t(1u << mantissa_bits), format), 4),
               general(fp8_to_float(1, format), 4), std::to_string(1 << mantissa_bits)});
  }
  out.print(table);
  out.line();
  out.paragraph("Every value of either format is exactly an fp16 value, which is why the kernel's first step, "
                "code -> fp16, loses nothing. Each finite code decodes to a number that encodes back to the "
                "same code (checked below for all 2 x 256 codes); unused cache slots hold the NaN code 0x7F, "
                "the poison that shows a read of a slot no sequence owns.");
  int round_trip_failures = 0;
  for (Fp8Format format : {Fp8Format::e4m3, Fp8Format::e5m2}) {
    for (int code = 0; code < 256; ++code) {
      const auto c = std::uint8_t(code);
      if (fp8_is_nan(c, format)) continue;
      const float value = fp8_to_float(c, format);
      // Saturating encoding maps infinity to the largest finite code, so E5M2's two infinities are
      // the only codes that do not come back.
      if (fp8_is_inf(c, format)) continue;
      if (float_to_fp8(value, format) != c) ++round_trip_failures;
    }
  }
  w.check("codes_round_trip", round_trip_failures == 0,
          "every finite code of E4M3 and E5M2 decodes to a value that encodes back to the same code");
}

void show_scales(Walkthrough& w, const CalibratedScales& calibrated) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  const Fp8Format format = fp8_format_of(s.kv_cache_dtype);
  out.heading("14.2 The scale: value ~ decode(code) * scale");
  out.paragraph("A cache write stores code = fp8(value / scale), rounded to nearest even and saturated at the "
                "largest finite value; a read gives decode(code) * scale. This kernel has one scale for the whole "
                "key cache (k_scale) and one for the value cache (v_scale), as upstream's has since 2024 (per-head "
                "scales exist only in other backends). Left at 1.0, small values fall into E4M3's subnormal range "
                "(below 2^-6 = 0.0156) and lose precision; a calibrated scale maps the largest magnitude onto the "
                "largest code. This run's unquantised inputs and the scales a calibration gives them:");
  Table table({{"cache", Table::Align::left}, {"largest |value|"}, {"calibrated scale"}, {"scale used"}});
  table.row({"key", general(calibrated.k_amax), general(calibrated.k_scale), general(s.k_scale)});
  table.row({"value", general(calibrated.v_amax), general(calibrated.v_scale), general(s.v_scale)});
  out.print(table);
  out.line();
  QuantizationReport report;
  generate_inputs(s, &report);
  out.paragraph("What quantising this run's " + std::to_string(report.key.num_values) + " keys and " +
                std::to_string(report.value.num_values) + " values to " + std::string(fp8_format_name(format)) +
                " did (counted while the inputs were generated):");
  Table counts({{"cache", Table::Align::left}, {"values"}, {"subnormal"}, {"flushed to 0"}, {"saturated"}});
  auto row = [&](const char* name, const Fp8QuantizationCounts& c) {
    counts.row({name, std::to_string(c.num_values), std::to_string(c.num_subnormal), std::to_string(c.num_flushed_to_zero),
                std::to_string(c.num_saturated)});
  };
  row("key", report.key);
  row("value", report.value);
  out.print(counts);
}

void show_dequantisation(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  const Fp8Format format = fp8_format_of(s.kv_cache_dtype);
  out.heading("14.3 From a code to a number, at the load");
  out.paragraph("The kernel dequantises where upstream's does: per element, as each K or V vector is loaded, "
                "before the dot products; the scale is not folded into the softmax scale or the output. Code -> "
                "fp16 (exact) -> fp32, times the scale in fp32, rounded once to the query's type (" +
                std::string(dtype_name(s.dtype)) + "). The first key load of lane 0 of " + w.focus_name() +
                ", as recorded (dequantized_kv) and recomputed here from the code:");
  const std::vector<LoadRecord> loads = w.loads(0);
  int load_idx = -1;
  for (int i = 0; i < int(loads.size()); ++i)
    if (loads[std::size_t(i)].kind == LoadKind::key) {
      load_idx = i;
      break;
    }
  if (load_idx < 0) {
    out.paragraph("(lane 0 of this thread_block loaded no key: its kv_blocks were all skipped)");
    return;
  }
  const LoadRecord& load = loads[std::size_t(load_idx)];
  Table table({{"element"}, {"code"}, {"bits", Table::Align::left}, {"decoded"}, {"x k_scale"}, {"rounded"},
               {"recorded"}});
  const ThreadBlockRecord record = w.record();
  int mismatches = 0;
  for (int e = 0; e < g.vec_size(); ++e) {
    const std::int64_t offset = load.element_offset + e;
    const auto code = w.inputs().key_cache.data<std::uint8_t>()[offset];
    const float decoded = fp8_to_float(code, format);
    const double product = double(decoded) * double(s.k_scale);
    const float rounded = dequantize_fp8_as_float(code, format, s.k_scale, s.dtype, g.vec_size());
    const float recorded = record.dequantized(0, load_idx, e);
    if (!(rounded == recorded)) ++mismatches;
    table.row({std::to_string(offset), hex_code(code), code_bits(code, format), general(decoded, 6),
               general(product, 8), general(rounded, 6), general(recorded, 6)});
  }
  out.print(table);
  out.line();
  w.check("dequantised_at_the_load", mismatches == 0,
          "the recorded elements of that load equal decode(code) x k_scale rounded to the query's type");
}

void show_loads(Walkthrough& w) {
  const Scenario& s = w.scenario();
  const KernelGeometry g = w.geometry();
  Terminal& out = w.out();
  out.heading("14.4 What the loads look like");
  KernelGeometry same_cache = g;
  same_cache.cache_element_size = g.query_element_size;
  out.paragraph("x, the width of the key layout's innermost chunk, follows the cache's element (16 / sizeof(cache_t)), "
                "but VEC_SIZE and V_VEC_SIZE follow the query's, because the loaded elements become the query's "
                "type. So a lane issues as many load instructions as before, each moving fewer bytes:");
  Table table({{"", Table::Align::left}, {"x"}, {"VEC_SIZE"}, {"bytes per K load"}, {"V_VEC_SIZE"},
               {"bytes per V load"}});
  table.row({std::string(dtype_name(s.dtype)) + " cache", std::to_string(same_cache.x()), std::to_string(same_cache.vec_size()),
             std::to_string(same_cache.key_load_bytes()), std::to_string(same_cache.v_vec_size()),
             std::to_string(same_cache.value_load_bytes())});
  table.row({"this run's fp8 cache", std::to_string(g.x()), std::to_string(g.vec_size()), std::to_string(g.key_load_bytes()),
             std::to_string(g.v_vec_size()), std::to_string(g.value_load_bytes())});
  out.print(table);
  out.line();
  // The key steps j that share one x-chunk of a token: the thread_group's lanes together cover
  // TGS * VEC_SIZE elements of it per step.
  const int steps_per_chunk = std::max(1, g.x() / (g.thread_group_size() * g.vec_size()));
  // Warp 0's first kv_block: which bytes of which 32-byte sectors its lanes read at each step.
  std::vector<std::map<std::int64_t, int>> used_per_step(static_cast<std::size_t>(steps_per_chunk));  // sector -> bytes used
  for (int lane = 0; lane < kWarpSize; ++lane)
    for (const LoadRecord& load : w.loads(lane)) {
      if (load.kind != LoadKind::key || load.iteration != 0 || load.vec_idx >= steps_per_chunk) continue;
      const std::int64_t first_byte = load.element_offset * g.cache_element_size;
      for (std::int64_t b = first_byte; b < first_byte + g.key_load_bytes(); ++b)
        ++used_per_step[std::size_t(load.vec_idx)][b / 32];
    }
  if (used_per_step[0].empty()) {
    out.paragraph("(warp 0 of this thread_block read no key in its first iteration: its kv_block was skipped)");
    return;
  }
  out.paragraph("Warp 0's first kv_block, key steps j = 0.." + std::to_string(steps_per_chunk - 1) +
                " (those that read the same x-chunk of each token), from the recorded addresses:");
  Table sectors({{"step j"}, {"bytes read"}, {"32-byte sectors touched"}, {"bytes used per sector"}});
  std::map<std::int64_t, int> together;
  bool each_step_partial = true;
  for (int j = 0; j < steps_per_chunk; ++j) {
    int bytes = 0;
    std::set<int> per_sector;
    for (const auto& [sector, used] : used_per_step[std::size_t(j)]) {
      bytes += used;
      per_sector.insert(used);
      together[sector] += used;
    }
    each_step_partial = each_step_partial && per_sector.size() == 1 && *per_sector.begin() == 32 / steps_per_chunk;
    std::vector<int> used_list(per_sector.begin(), per_sector.end());
    sectors.row({std::to_string(j), std::to_string(bytes), std::to_string(used_per_step[std::size_t(j)].size()),
                 join(used_list)});
  }
  bool all_full = true;
  for (const auto& [sector, used] : together) all_full = all_full && used == 32;
  if (steps_per_chunk > 1) {
    int bytes = 0;
    for (const auto& [sector, used] : together) bytes += used;
    sectors.row({"together", std::to_string(bytes), std::to_string(together.size()), all_full ? "32" : "not all 32"});
  }
  out.print(sectors);
  out.line();
  out.paragraph(steps_per_chunk > 1
                    ? "Each step fills every sector it touches only to 1/" + std::to_string(steps_per_chunk) +
                          "; the next step reads the rest of the same sectors, usually from L1 or L2 rather than DRAM. "
                          "DRAM bytes drop to 1/" + std::to_string(g.query_element_size) + " of an " +
                          std::string(dtype_name(s.dtype)) + " cache's, load instructions do not, and each element "
                          "costs conversions on the CUDA cores: why fp8 decode on this kernel gains less than its "
                          "bytes suggest."
                    : "With this query type one step already covers a whole x-chunk of each token: every sector is full.");
  w.check("sectors_filled_by_the_chunk_steps", all_full && each_step_partial,
          "the key steps that share an x-chunk each use the same fraction of every sector they touch, and "
          "together use all of its 32 bytes");
}

// Output error of a run of `scenario` (through the reference, which the checks hold the kernel to)
// against the dense oracle over the unquantised values the same seed draws.
struct CostRow {
  double max_abs = 0.0;
  double rms = 0.0;
  double output_rms = 0.0;
  Fp8QuantizationCounts key, value;
};
CostRow quantisation_cost(const Scenario& scenario, const DenseOutput& exact) {
  QuantizationReport report;
  const Inputs inputs = generate_inputs(scenario, &report);
  const ReferenceRun run = reference_attention(scenario, inputs, KernelVersion::automatic);
  CostRow row;
  row.key = report.key;
  row.value = report.value;
  double sum_squares = 0.0, output_squares = 0.0;
  std::int64_t count = 0;
  for (int seq = 0; seq < scenario.num_seqs; ++seq)
    for (int head = 0; head < scenario.num_heads; ++head)
      for (int dim = 0; dim < scenario.head_size; ++dim) {
        const double error = double(run.output_at(seq, head, dim)) - exact.at(seq, head, dim);
        row.max_abs = std::max(row.max_abs, std::fabs(error));
        sum_squares += error * error;
        output_squares += exact.at(seq, head, dim) * exact.at(seq, head, dim);
        ++count;
      }
  row.rms = std::sqrt(sum_squares / double(std::max<std::int64_t>(count, 1)));
  row.output_rms = std::sqrt(output_squares / double(std::max<std::int64_t>(count, 1)));
  return row;
}

void show_cost(Walkthrough& w) {
  const Scenario& s = w.scenario();
  Terminal& out = w.out();
  out.heading("14.5 What quantisation costs, and what it saves");
  Scenario unquantised = s;
  unquantised.kv_cache_dtype = KvCacheDtype::automatic;
  unquantised.k_scale = unquantised.v_scale = 1.0f;
  const DenseOutput exact = dense_attention_oracle(generate_inputs(unquantised));
  out.paragraph("The same seed draws the same values whatever the cache stores, so the dense oracle over the "
                "unquantised (" + std::string(dtype_name(s.dtype)) + ") cache is the answer the fp8 runs approximate. "
                "Output error against it, for both formats at scale 1 and at a calibrated scale (these rows run "
                "the scalar reference, which the checks below hold the kernel to; the first row is the "
                "unquantised cache itself, whose error is the query type's own rounding):");
  Table table({{"cache", Table::Align::left}, {"scale", Table::Align::left}, {"subnormal %"}, {"saturated"},
               {"max |error|"}, {"rms error"}, {"rms / rms(output)"}});
  const CostRow baseline = quantisation_cost(unquantised, exact);
  table.row({std::string(dtype_name(s.dtype)), "-", "-", "-", general(baseline.max_abs, 3), general(baseline.rms, 3),
             general(baseline.rms / baseline.output_rms, 3)});
  for (KvCacheDtype cache : {KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2}) {
    Scenario fp8 = s;
    fp8.kv_cache_dtype = cache;
    const CalibratedScales calibrated = calibrate(fp8);
    for (bool use_calibrated : {false, true}) {
      fp8.k_scale = use_calibrated ? calibrated.k_scale : 1.0f;
      fp8.v_scale = use_calibrated ? calibrated.v_scale : 1.0f;
      const CostRow row = quantisation_cost(fp8, exact);
      const std::int64_t values = row.key.num_values + row.value.num_values;
      const std::int64_t subnormal = row.key.num_subnormal + row.value.num_subnormal + row.key.num_flushed_to_zero +
                                     row.value.num_flushed_to_zero;
      table.row({std::string(kv_cache_dtype_name(cache)), use_calibrated ? "calibrated" : "1.0",
                 fixed(100.0 * double(subnormal) / double(std::max<std::int64_t>(values, 1)), 1),
                 std::to_string(row.key.num_saturated + row.value.num_saturated), general(row.max_abs, 3),
                 general(row.rms, 3), general(row.rms / row.output_rms, 3)});
    }
  }
  out.print(table);
  out.line();
  const KernelGeometry g = w.geometry();
  std::int64_t tokens = 0;
  for (int seq = 0; seq < s.num_seqs; ++seq) tokens += divide_round_up(s.seq_lens[std::size_t(seq)], s.block_size) * s.block_size;
  const std::int64_t per_token = 2 * std::int64_t(s.num_kv_heads) * s.head_size;  // K and V elements
  out.paragraph("(subnormal % counts values that became subnormal or zero.) What it saves: this run's kv_blocks hold " +
                std::to_string(tokens * per_token * g.query_element_size) + " bytes of K and V in " +
                std::string(dtype_name(s.dtype)) + " and " + std::to_string(tokens * per_token * g.cache_element_size) +
                " in fp8. Decode reads all of them for every generated token, so the bytes, and at large batch and "
                "context the time, scale with the element size; the H200 measurements are in "
                "docs/performance/NOTES.md.");
}

}  // namespace
}  // namespace pal::walkthrough

int main(int argc, char** argv) {
  using namespace pal::walkthrough;
  ChapterInfo chapter;
  chapter.number = 14;
  chapter.teaches = "The fp8 KV cache: one-byte codes and a per-tensor scale, dequantised at each load; what the "
                    "loads look like and what quantisation costs.";
  chapter.scenario = teaching_scenario();
  chapter.scenario.kv_cache_dtype = pal::KvCacheDtype::fp8_e4m3;
  // Head size 128: the fp8 and block-sparse kernels every build compiles for the emulator are the
  // fp16-query, head-128, block-16 ones (kernels/CMakeLists.txt, the reduced set).
  chapter.scenario.head_size = 128;
  const CalibratedScales calibrated = calibrate(chapter.scenario);
  chapter.scenario.k_scale = calibrated.k_scale;
  chapter.scenario.v_scale = calibrated.v_scale;
  chapter.focus_seq = 2;
  chapter.focus_head = 1;
  return run_chapter(argc, argv, chapter, [&](Walkthrough& w) {
    if (!pal::is_fp8(w.scenario().kv_cache_dtype)) {
      w.out().paragraph("This chapter is about an fp8 cache; this run's cache is 'auto'. Run it with "
                        "--kv-cache-dtype fp8_e4m3 or fp8_e5m2 (or without that flag).");
      w.check_stage(pal::Check::final_output);
      return;
    }
    show_formats(w);
    show_scales(w, calibrate(w.scenario()));
    show_dequantisation(w);
    show_loads(w);
    show_cost(w);
    w.out().heading("14.6 Checks");
    w.check_stage(pal::Check::dequantized_kv);
    w.check_stage(pal::Stage::qk_logits);
    w.check_stage(pal::Check::final_output);
  });
}
