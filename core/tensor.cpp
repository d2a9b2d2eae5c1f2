// Host tensors: element types, sizes and flat element access.
#include "core/tensor.h"

#include <limits>
#include <stdexcept>

namespace pal {

int element_size_bytes(ElementType type) {
  switch (type) {
    case ElementType::f32: return 4;
    case ElementType::f16: return 2;
    case ElementType::bf16: return 2;
    case ElementType::i32: return 4;
    case ElementType::i64: return 8;
    case ElementType::u8: return 1;
    case ElementType::f8_e4m3: return 1;
    case ElementType::f8_e5m2: return 1;
  }
  return 1;
}

std::string_view element_type_name(ElementType type) {
  switch (type) {
    case ElementType::f32: return "F32";
    case ElementType::f16: return "F16";
    case ElementType::bf16: return "BF16";
    case ElementType::i32: return "I32";
    case ElementType::i64: return "I64";
    case ElementType::u8: return "U8";
    case ElementType::f8_e4m3: return "F8_E4M3";
    case ElementType::f8_e5m2: return "F8_E5M2";
  }
  return "unknown";
}

ElementType element_type_of(DType dtype) {
  switch (dtype) {
    case DType::fp16: return ElementType::f16;
    case DType::bf16: return ElementType::bf16;
    case DType::fp32: break;
  }
  return ElementType::f32;
}

ElementType element_type_of(Fp8Format format) {
  return format == Fp8Format::e4m3 ? ElementType::f8_e4m3 : ElementType::f8_e5m2;
}

bool is_fp8(ElementType type) { return type == ElementType::f8_e4m3 || type == ElementType::f8_e5m2; }

Fp8Format fp8_format_of(ElementType type) { return type == ElementType::f8_e5m2 ? Fp8Format::e5m2 : Fp8Format::e4m3; }

namespace {

// Product of the dimensions, refusing negative sizes and products that do not fit in memory, so a
// bad shape becomes an exception here instead of a huge allocation or a wrapped-around size.
std::int64_t checked_numel(const std::vector<std::int64_t>& shape, int element_size) {
  const std::int64_t max_bytes = std::numeric_limits<std::int64_t>::max() / 2;
  std::int64_t numel = 1;
  for (std::int64_t dim : shape) {
    if (dim < 0) throw std::invalid_argument("tensor dimension " + std::to_string(dim) + " is negative");
    if (dim != 0 && numel > max_bytes / element_size / dim)
      throw std::length_error("tensor shape is too large to allocate");
    numel *= dim;
  }
  return numel;
}

// Float to integer, truncating toward zero like a cast but clamped to the type's range (NaN -> 0):
// an out-of-range float-to-int cast is undefined behaviour, and this is reachable from user data.
template <typename Int>
Int saturating_cast(float value) {
  if (!(value == value)) return 0;
  const auto low = static_cast<double>(std::numeric_limits<Int>::min());
  const auto high = static_cast<double>(std::numeric_limits<Int>::max());
  const double wide = static_cast<double>(value);
  if (wide <= low) return std::numeric_limits<Int>::min();
  if (wide >= high) return std::numeric_limits<Int>::max();
  return static_cast<Int>(wide);
}

}  // namespace

Tensor::Tensor(ElementType element_type, std::vector<std::int64_t> tensor_shape)
    : type(element_type), shape(std::move(tensor_shape)) {
  const std::int64_t count = checked_numel(shape, element_size_bytes(type));
  bytes.resize(static_cast<std::size_t>(count) * static_cast<std::size_t>(element_size_bytes(type)));
}

std::int64_t Tensor::numel() const {
  std::int64_t count = 1;
  for (std::int64_t dim : shape) count *= dim;
  return count;
}

float Tensor::get_float(std::int64_t flat_index) const {
  const auto i = static_cast<std::size_t>(flat_index);
  switch (type) {
    case ElementType::f32: return data<float>()[i];
    case ElementType::f16: return to_float(data<fp16_t>()[i]);
    case ElementType::bf16: return to_float(data<bf16_t>()[i]);
    case ElementType::i32: return static_cast<float>(data<std::int32_t>()[i]);
    case ElementType::i64: return static_cast<float>(data<std::int64_t>()[i]);
    case ElementType::u8: return static_cast<float>(data<std::uint8_t>()[i]);
    case ElementType::f8_e4m3: return fp8_to_float(data<std::uint8_t>()[i], Fp8Format::e4m3);
    case ElementType::f8_e5m2: return fp8_to_float(data<std::uint8_t>()[i], Fp8Format::e5m2);
  }
  return 0.0f;
}

void Tensor::set_float(std::int64_t flat_index, float value) {
  const auto i = static_cast<std::size_t>(flat_index);
  switch (type) {
    case ElementType::f32: data<float>()[i] = value; return;
    case ElementType::f16: data<fp16_t>()[i] = to_fp16(value); return;
    case ElementType::bf16: data<bf16_t>()[i] = to_bf16(value); return;
    case ElementType::i32: data<std::int32_t>()[i] = saturating_cast<std::int32_t>(value); return;
    case ElementType::i64: data<std::int64_t>()[i] = saturating_cast<std::int64_t>(value); return;
    case ElementType::u8: data<std::uint8_t>()[i] = saturating_cast<std::uint8_t>(value); return;
    case ElementType::f8_e4m3: data<std::uint8_t>()[i] = float_to_fp8(value, Fp8Format::e4m3); return;
    case ElementType::f8_e5m2: data<std::uint8_t>()[i] = float_to_fp8(value, Fp8Format::e5m2); return;
  }
}

std::string Tensor::shape_string() const {
  std::string text = "[";
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (d) text += ", ";
    text += std::to_string(shape[d]);
  }
  return text + "]";
}

}  // namespace pal
