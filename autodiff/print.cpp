// numpy-like printing of tensors:
//
//   Tensor(float32[2,3], cpu)
//   [[ 1.0000, -2.5000,  3.0000],
//    [ 4.0000,  5.0000,  6.0000]]
//
// Every cell is right-aligned to the widest one. Floats get 4 decimals, or scientific notation
// when some value is >= 1e8 or a nonzero one is < 1e-4 in magnitude (numpy's switch); integers
// print without decimals and bools as true/false. A dimension longer than 6 shows its first and
// last 3 entries around "...", as numpy's summarised output does, and only those elements are
// read, so printing a huge tensor costs no more than printing a small one (on the CPU).
#include <cmath>
#include <cstdio>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "elegy/core/tensor.hpp"

namespace elegy {
namespace {

constexpr std::int64_t kEdgeItems = 3;
constexpr std::int64_t kEllipsis = -1;  // marks the "..." slot in a list of shown indices

// Indices shown along a dimension of size n: all of them, or 0,1,2, ..., n-3,n-2,n-1.
std::vector<std::int64_t> shown_indices(std::int64_t n) {
  std::vector<std::int64_t> out;
  if (n <= 2 * kEdgeItems) {
    for (std::int64_t i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  for (std::int64_t i = 0; i < kEdgeItems; ++i) out.push_back(i);
  out.push_back(kEllipsis);
  for (std::int64_t i = n - kEdgeItems; i < n; ++i) out.push_back(i);
  return out;
}

// Calls fn(offset) with the storage offset (in elements) of every shown element, row-major.
template <class Fn>
void for_each_shown(const Tensor& t, const std::vector<std::vector<std::int64_t>>& shown, int dim,
                    std::int64_t offset, Fn& fn) {
  if (dim == t.ndim()) return fn(offset);
  for (std::int64_t i : shown[std::size_t(dim)])
    if (i != kEllipsis) for_each_shown(t, shown, dim + 1, offset + i * t.strides()[dim], fn);
}

std::string format_float(double v, bool scientific) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, scientific ? "%.4e" : "%.4f", v);
  return buf;
}

// The text of every shown element, in row-major order of the shown grid.
std::vector<std::string> format_cells(const Tensor& host,
                                      const std::vector<std::vector<std::int64_t>>& shown) {
  std::vector<std::string> cells;
  const DType dtype = host.dtype();
  if (is_floating(dtype)) {
    std::vector<double> values;
    auto read = [&](std::int64_t off) {
      values.push_back(dtype == DType::f32 ? double(static_cast<const float*>(host.raw_data())[off])
                                           : static_cast<const double*>(host.raw_data())[off]);
    };
    for_each_shown(host, shown, 0, 0, read);
    double max_abs = 0.0, min_nonzero = INFINITY;
    for (double v : values) {
      if (!std::isfinite(v) || v == 0.0) continue;
      max_abs = std::max(max_abs, std::abs(v));
      min_nonzero = std::min(min_nonzero, std::abs(v));
    }
    const bool scientific = max_abs >= 1e8 || min_nonzero < 1e-4;
    for (double v : values) cells.push_back(format_float(v, scientific));
    return cells;
  }
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* data = static_cast<const T*>(host.raw_data());
    auto read = [&](std::int64_t off) {
      if constexpr (std::is_same_v<T, bool>) {
        cells.push_back(data[off] ? "true" : "false");
      } else {
        cells.push_back(std::to_string(std::int64_t(data[off])));
      }
    };
    for_each_shown(host, shown, 0, 0, read);
  });
  return cells;
}

// Nested brackets: cells of the last dimension are separated by ", ", rows by ",\n" and blocks
// of higher dimensions by one more blank line each, indented under their opening bracket.
void layout(std::ostream& os, const std::vector<std::vector<std::int64_t>>& shown, int dim,
            const std::vector<std::string>& cells, std::size_t& next, std::size_t width) {
  const int rank = int(shown.size());
  const bool innermost = dim == rank - 1;
  os << '[';
  const std::vector<std::int64_t>& indices = shown[std::size_t(dim)];
  for (std::size_t k = 0; k < indices.size(); ++k) {
    if (k > 0) {
      if (innermost)
        os << ", ";
      else
        os << ',' << std::string(std::size_t(rank - dim - 1), '\n')
           << std::string(std::size_t(dim + 1), ' ');
    }
    if (indices[k] == kEllipsis) {
      os << "...";
    } else if (innermost) {
      const std::string& cell = cells[next++];
      os << std::string(width - cell.size(), ' ') << cell;
    } else {
      layout(os, shown, dim + 1, cells, next, width);
    }
  }
  os << ']';
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  // Built in a private stream so the caller's flags (hex, width, ...) cannot leak in.
  std::ostringstream s;
  s << "Tensor(" << t.dtype() << t.shape() << ", " << t.device() << ")\n";
  if (t.numel() == 0) {
    s << "[]";
  } else {
    // detached: printing inside value_and_grad must not record a device move on the tape.
    const Tensor host = t.device().is_cpu() ? t : t.detached().to(Device::cpu());
    std::vector<std::vector<std::int64_t>> shown;
    for (int d = 0; d < host.ndim(); ++d) shown.push_back(shown_indices(host.shape()[d]));
    const std::vector<std::string> cells = format_cells(host, shown);
    if (host.ndim() == 0) {
      s << cells[0];
    } else {
      std::size_t width = 0;
      for (const std::string& c : cells) width = std::max(width, c.size());
      std::size_t next = 0;
      layout(s, shown, 0, cells, next, width);
    }
  }
  return os << s.str();
}

}  // namespace elegy
