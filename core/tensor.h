// A host tensor: a dtype, a shape and its bytes, row-major and contiguous. Deliberately small: it
// carries kernel inputs and outputs between the generator, the kernels, the reference, files and
// views, and nothing more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp8.h"

namespace pal {

// f8_e4m3 / f8_e5m2 hold fp8 codes (raw bits, core/fp8.h): an fp8 KV cache.
enum class ElementType : std::uint8_t { f32, f16, bf16, i32, i64, u8, f8_e4m3, f8_e5m2 };

int element_size_bytes(ElementType type);
// safetensors names: F32, F16, BF16, I32, I64, U8, F8_E4M3, F8_E5M2
std::string_view element_type_name(ElementType type);
ElementType element_type_of(DType dtype);
ElementType element_type_of(Fp8Format format);
bool is_fp8(ElementType type);
Fp8Format fp8_format_of(ElementType type);  // ask is_fp8 first

struct Tensor {
  ElementType type = ElementType::f32;
  std::vector<std::int64_t> shape = {0};  // a default tensor is empty (numel 0), matching its bytes
  std::vector<std::byte> bytes;

  Tensor() = default;
  Tensor(ElementType element_type, std::vector<std::int64_t> tensor_shape);  // zero-filled

  std::int64_t numel() const;
  template <typename T> T* data() { return reinterpret_cast<T*>(bytes.data()); }
  template <typename T> const T* data() const { return reinterpret_cast<const T*>(bytes.data()); }
  template <typename T> std::span<T> span() { return {data<T>(), static_cast<std::size_t>(numel())}; }
  template <typename T> std::span<const T> span() const {
    return {data<T>(), static_cast<std::size_t>(numel())};
  }
  // Element i (flat index) as float, whatever the element type (integers convert exactly up to 2^24;
  // fp8 codes decode exactly, without a scale).
  float get_float(std::int64_t flat_index) const;
  void set_float(std::int64_t flat_index, float value);  // rounds to the element type (fp8: saturating)
  std::string shape_string() const;                       // "[2, 4, 64]"
};

}  // namespace pal
