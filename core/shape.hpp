// Dims: a small inline vector of int64 used for shapes and strides (no heap allocation, so
// creating a tensor costs no malloc for its metadata), plus the shape arithmetic every op shares.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace elegy {

// Tensors have at most this many dimensions; an op that would exceed it raises an Error.
inline constexpr int kMaxRank = 8;

class Dims {
 public:
  constexpr Dims() = default;
  Dims(std::initializer_list<std::int64_t> values) { assign(values.begin(), values.size()); }
  explicit Dims(std::span<const std::int64_t> values) { assign(values.data(), values.size()); }
  explicit Dims(const std::vector<std::int64_t>& values) { assign(values.data(), values.size()); }
  // n copies of `value`
  static Dims filled(int n, std::int64_t value);

  int size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::int64_t& operator[](int i) { return data_[i]; }
  std::int64_t operator[](int i) const { return data_[i]; }
  std::int64_t* data() { return data_.data(); }
  const std::int64_t* data() const { return data_.data(); }
  std::int64_t* begin() { return data_.data(); }
  std::int64_t* end() { return data_.data() + size_; }
  const std::int64_t* begin() const { return data_.data(); }
  const std::int64_t* end() const { return data_.data() + size_; }
  std::int64_t back() const { return data_[size_ - 1]; }
  std::span<const std::int64_t> span() const { return {data_.data(), std::size_t(size_)}; }
  std::vector<std::int64_t> to_vector() const { return {begin(), end()}; }

  void push_back(std::int64_t v);
  void insert(int pos, std::int64_t v);
  void erase(int pos);
  void resize(int n, std::int64_t fill = 0);

  // Product of the entries (1 for an empty Dims: a scalar has one element).
  std::int64_t numel() const;

  friend bool operator==(const Dims& a, const Dims& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  void assign(const std::int64_t* values, std::size_t n);
  std::array<std::int64_t, kMaxRank> data_{};
  int size_ = 0;
};

using Shape = Dims;
using Strides = Dims;  // in elements, not bytes; 0 on broadcast dimensions

std::ostream& operator<<(std::ostream& os, const Dims& d);  // "[64,784]"
std::string to_string(const Dims& d);

// Row-major strides of a dense tensor of this shape.
Strides contiguous_strides(const Shape& shape);
// numpy broadcasting of two shapes; Error naming `op` and both shapes when incompatible.
Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b);
// Maps a possibly negative axis into [0, rank); Error naming `op` when out of range.
int normalize_axis(std::string_view op, int axis, int rank);
// Normalises a list of axes (empty = all axes), sorted and without duplicates.
std::vector<int> normalize_axes(std::string_view op, std::span<const int> axes, int rank);

}  // namespace elegy
