// DType: the element types a Tensor can hold, their sizes and names, and type promotion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string_view>
#include <type_traits>

namespace elegy {

// Ordered from "narrowest" to "widest": promote_types() takes the later of two, which gives the
// jax.numpy lattice for these six types (bool < u8 < i32 < i64 < f32 < f64).
enum class DType : std::uint8_t { bool_, u8, i32, i64, f32, f64 };
inline constexpr int kNumDTypes = 6;

constexpr std::size_t itemsize(DType t) {
  switch (t) {
    case DType::bool_:
    case DType::u8:
      return 1;
    case DType::i32:
    case DType::f32:
      return 4;
    case DType::i64:
    case DType::f64:
      return 8;
  }
  return 0;
}

// numpy's names, so error messages read like the Python the users know.
constexpr std::string_view name(DType t) {
  switch (t) {
    case DType::bool_:
      return "bool";
    case DType::u8:
      return "uint8";
    case DType::i32:
      return "int32";
    case DType::i64:
      return "int64";
    case DType::f32:
      return "float32";
    case DType::f64:
      return "float64";
  }
  return "?";
}

constexpr bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64;
}
constexpr bool is_integer(DType t) {
  return t == DType::u8 || t == DType::i32 || t == DType::i64;
}
constexpr DType promote_types(DType a, DType b) {
  return a < b ? b : a;
}

template <class T>
constexpr DType dtype_of() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, float>)
    return DType::f32;
  else if constexpr (std::is_same_v<U, double>)
    return DType::f64;
  else if constexpr (std::is_same_v<U, std::int32_t>)
    return DType::i32;
  else if constexpr (std::is_same_v<U, std::int64_t>)
    return DType::i64;
  else if constexpr (std::is_same_v<U, std::uint8_t>)
    return DType::u8;
  else if constexpr (std::is_same_v<U, bool>)
    return DType::bool_;
  else
    static_assert(sizeof(U) == 0, "elegy: unsupported element type");
}

// Calls fn(T{}) with the C++ type of `t`: the one switch every dtype-generic routine uses.
template <class Fn>
decltype(auto) visit_dtype(DType t, Fn&& fn) {
  switch (t) {
    case DType::bool_:
      return fn(bool{});
    case DType::u8:
      return fn(std::uint8_t{});
    case DType::i32:
      return fn(std::int32_t{});
    case DType::i64:
      return fn(std::int64_t{});
    case DType::f32:
      return fn(float{});
    case DType::f64:
      break;
  }
  return fn(double{});
}

std::ostream& operator<<(std::ostream& os, DType t);

}  // namespace elegy
