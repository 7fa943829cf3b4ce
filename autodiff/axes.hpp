// Axes: the axis argument of reductions, written as jax.numpy writes it: `sum(x)` (all axes),
// `sum(x, -1)`, `sum(x, {0, 2})`. Negative axes count from the end.
#pragma once

#include <initializer_list>
#include <span>
#include <vector>

namespace elegy {

class Axes {
 public:
  Axes() = default;                // all axes
  Axes(int axis) : axes_{axis} {}  // NOLINT: `sum(x, -1)`
  Axes(std::initializer_list<int> axes) : axes_(axes) {}
  explicit Axes(std::vector<int> axes) : axes_(std::move(axes)) {}

  bool all() const { return axes_.empty(); }
  std::span<const int> span() const { return axes_; }

 private:
  std::vector<int> axes_;
};

}  // namespace elegy
