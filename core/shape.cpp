#include "elegy/core/shape.hpp"

#include <ostream>
#include <sstream>

#include "elegy/core/error.hpp"

namespace elegy {

Dims Dims::filled(int n, std::int64_t value) {
  Dims d;
  d.resize(n, value);
  return d;
}

void Dims::assign(const std::int64_t* values, std::size_t n) {
  if (n > std::size_t(kMaxRank)) fail("Dims", "rank ", n, " exceeds the maximum rank ", kMaxRank);
  std::copy(values, values + n, data_.begin());
  size_ = int(n);
}

void Dims::push_back(std::int64_t v) {
  if (size_ == kMaxRank) fail("Dims", "rank would exceed the maximum rank ", kMaxRank);
  data_[size_++] = v;
}

void Dims::insert(int pos, std::int64_t v) {
  if (size_ == kMaxRank) fail("Dims", "rank would exceed the maximum rank ", kMaxRank);
  for (int i = size_; i > pos; --i) data_[i] = data_[i - 1];
  data_[pos] = v;
  ++size_;
}

void Dims::erase(int pos) {
  for (int i = pos; i + 1 < size_; ++i) data_[i] = data_[i + 1];
  --size_;
}

void Dims::resize(int n, std::int64_t fill) {
  if (n > kMaxRank) fail("Dims", "rank ", n, " exceeds the maximum rank ", kMaxRank);
  for (int i = size_; i < n; ++i) data_[i] = fill;
  size_ = n;
}

std::int64_t Dims::numel() const {
  std::int64_t n = 1;
  for (int i = 0; i < size_; ++i) n *= data_[i];
  return n;
}

std::ostream& operator<<(std::ostream& os, const Dims& d) {
  os << '[';
  for (int i = 0; i < d.size(); ++i) os << (i ? "," : "") << d[i];
  return os << ']';
}

std::string to_string(const Dims& d) {
  std::ostringstream os;
  os << d;
  return os.str();
}

Strides contiguous_strides(const Shape& shape) {
  Strides s = Dims::filled(shape.size(), 1);
  for (int i = shape.size() - 2; i >= 0; --i)
    s[i] = s[i + 1] * std::max<std::int64_t>(shape[i + 1], 1);
  return s;
}

Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b) {
  const int rank = std::max(a.size(), b.size());
  Shape out = Dims::filled(rank, 1);
  for (int i = 0; i < rank; ++i) {
    const int ia = a.size() - rank + i, ib = b.size() - rank + i;
    const std::int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      fail(op, "shapes ", a, " and ", b, " cannot be broadcast together (dimension ", i, " is ", da,
           " vs ", db, "; each must match or be 1)");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int normalize_axis(std::string_view op, int axis, int rank) {
  if (axis < -rank || axis >= rank)
    fail(op, "axis ", axis, " is out of range for a tensor of rank ", rank, " (expected ", -rank,
         " <= axis < ", rank, ")");
  return axis < 0 ? axis + rank : axis;
}

std::vector<int> normalize_axes(std::string_view op, std::span<const int> axes, int rank) {
  std::vector<int> out;
  if (axes.empty()) {
    for (int i = 0; i < rank; ++i) out.push_back(i);
    return out;
  }
  for (int a : axes) {
    if (a < -rank || a >= rank)
      fail(op, "axis ", a, " is out of range for a tensor of rank ", rank, " (expected ", -rank,
           " <= axis < ", rank, ")");
    out.push_back(a < 0 ? a + rank : a);
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    fail(op, "repeated axis in the axis list (rank ", rank, ")");
  return out;
}

}  // namespace elegy
