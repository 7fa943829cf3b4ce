#include "elegy/core/views.hpp"

#include <vector>

namespace elegy::views {

Shape infer_shape(const char* op, const Shape& shape, std::int64_t numel, const Shape& from) {
  Shape out = shape;
  int unknown = -1;
  std::int64_t known = 1;
  for (int i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      ELEGY_CHECK(unknown < 0, op, "more than one -1 in the new shape ", shape);
      unknown = i;
    } else {
      ELEGY_CHECK(out[i] >= 0, op, "negative dimension in the new shape ", shape);
      known *= out[i];
    }
  }
  if (unknown >= 0) {
    ELEGY_CHECK(known != 0 && numel % known == 0, op, "cannot reshape ", from, " (", numel,
                " elements) into ", shape);
    out[unknown] = numel / known;
  }
  ELEGY_CHECK(out.numel() == numel, op, "cannot reshape ", from, " (", numel, " elements) into ",
              shape, " (", out.numel(), " elements)");
  return out;
}

Tensor reshape(const Tensor& t, const Shape& shape) {
  const Shape target = infer_shape("reshape", shape, t.numel(), t.shape());
  if (!t.is_contiguous()) return Tensor();
  return Tensor::view_of(t.storage(), target, contiguous_strides(target), t.offset(), t.dtype());
}

Tensor permute(const Tensor& t, std::span<const int> perm) {
  const int rank = t.ndim();
  ELEGY_CHECK(int(perm.size()) == rank, "transpose", "permutation of ", perm.size(),
              " axes for a tensor of rank ", rank, " (shape ", t.shape(), ")");
  std::vector<bool> seen(std::size_t(rank), false);
  Shape shape = Dims::filled(rank, 0);
  Strides strides = Dims::filled(rank, 0);
  for (int i = 0; i < rank; ++i) {
    const int axis = normalize_axis("transpose", perm[i], rank);
    ELEGY_CHECK(!seen[std::size_t(axis)], "transpose", "axis ", axis,
                " repeated in the permutation for shape ", t.shape());
    seen[std::size_t(axis)] = true;
    shape[i] = t.shape()[axis];
    strides[i] = t.strides()[axis];
  }
  return Tensor::view_of(t.storage(), shape, strides, t.offset(), t.dtype());
}

Tensor slice(const Tensor& t, int axis, std::int64_t start, std::int64_t stop, std::int64_t step) {
  axis = normalize_axis("slice", axis, t.ndim());
  ELEGY_CHECK(step != 0, "slice", "step must not be zero");
  const std::int64_t n = t.shape()[axis];
  // Python's slice.indices(): clamp into range, counting negative indices from the end.
  auto clamp = [&](std::int64_t i, std::int64_t lo, std::int64_t hi) {
    if (i < 0) i += n;
    return std::min(std::max(i, lo), hi);
  };
  std::int64_t count;
  if (step > 0) {
    start = clamp(start, 0, n);
    stop = clamp(stop, 0, n);
    count = stop > start ? (stop - start + step - 1) / step : 0;
  } else {
    start = clamp(start, -1, n - 1);
    stop = clamp(stop, -1, n - 1);
    count = start > stop ? (start - stop - step - 1) / (-step) : 0;
  }
  Shape shape = t.shape();
  Strides strides = t.strides();
  shape[axis] = count;
  strides[axis] = t.strides()[axis] * step;
  const std::int64_t offset = t.offset() + (count > 0 ? start * t.strides()[axis] : 0);
  return Tensor::view_of(t.storage(), shape, strides, offset, t.dtype());
}

Tensor broadcast_to(const Tensor& t, const Shape& shape) {
  const int rank = shape.size(), extra = rank - t.ndim();
  ELEGY_CHECK(extra >= 0, "broadcast_to", "cannot broadcast ", t.shape(), " to the lower-rank ",
              shape);
  Strides strides = Dims::filled(rank, 0);
  for (int i = 0; i < t.ndim(); ++i) {
    const std::int64_t from = t.shape()[i], to = shape[i + extra];
    ELEGY_CHECK(from == to || from == 1, "broadcast_to", "cannot broadcast ", t.shape(), " to ",
                shape, " (dimension ", i, " is ", from, ", expected ", to, " or 1)");
    strides[i + extra] = from == to ? t.strides()[i] : 0;
  }
  return Tensor::view_of(t.storage(), shape, strides, t.offset(), t.dtype());
}

Tensor squeeze(const Tensor& t, std::span<const int> axes) {
  std::vector<bool> drop(std::size_t(t.ndim()), false);
  if (axes.empty()) {
    for (int i = 0; i < t.ndim(); ++i) drop[std::size_t(i)] = t.shape()[i] == 1;
  } else {
    for (int a : normalize_axes("squeeze", axes, t.ndim())) {
      ELEGY_CHECK(t.shape()[a] == 1, "squeeze", "cannot squeeze axis ", a, " of shape ", t.shape(),
                  ": its size is ", t.shape()[a], ", expected 1");
      drop[std::size_t(a)] = true;
    }
  }
  Shape shape;
  Strides strides;
  for (int i = 0; i < t.ndim(); ++i) {
    if (drop[std::size_t(i)]) continue;
    shape.push_back(t.shape()[i]);
    strides.push_back(t.strides()[i]);
  }
  return Tensor::view_of(t.storage(), shape, strides, t.offset(), t.dtype());
}

Tensor expand_dims(const Tensor& t, int axis) {
  axis = normalize_axis("expand_dims", axis, t.ndim() + 1);
  Shape shape = t.shape();
  Strides strides = t.strides();
  shape.insert(axis, 1);
  strides.insert(axis, 0);
  return Tensor::view_of(t.storage(), shape, strides, t.offset(), t.dtype());
}

}  // namespace elegy::views
