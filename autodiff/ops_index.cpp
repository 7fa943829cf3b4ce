// Indexing ops: one_hot, take (gather) and index_add (scatter-add, take's transpose). take and
// index_add are each other's backward rule, so gradients of any order flow through them.
#include "elegy/autodiff/ops_index.hpp"

#include "elegy/autodiff/deferred_checks.hpp"
#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/core/views.hpp"

namespace elegy {

using autodiff::buffer_view;
using autodiff::check_defined;
using autodiff::check_same_device;

namespace {

void check_integer_indices(const char* op, const Tensor& indices) {
  ELEGY_CHECK(is_integer(indices.dtype()), op, "indices must be an integer tensor, got ",
              describe(indices));
}

// Who checks that the indices lie in [-n, n).
enum class IndexCheck {
  // The CPU kernels check them as they read them (an Error before any output is written). On a
  // GPU a kernel cannot raise without the host waiting for it, so there [min, max] is checked
  // with check_range_later: at once outside a Model step, before the step writes anything inside
  // one, never stopping the host between the forward and backward passes. The kernel is told the
  // caller checks (ints[1] = 1) and makes any bad index harmless meanwhile (a zero, no write).
  checked,
  // A backward rule's indices: the forward op has checked these very indices already.
  done_by_forward,
};

// Sets args.ints[1] for the kernel: 1 when the caller has arranged the check (see IndexCheck).
void arrange_index_check(const char* op, const Tensor& indices, std::int64_t n, int axis,
                         IndexCheck check, kernels::KernelArgs& args) {
  const Device device = indices.device();
  if (device.is_cpu() || device.is_meta()) return;
  args.ints[1] = 1;
  if (check == IndexCheck::done_by_forward || indices.numel() == 0) return;
  check_range_later(
      indices, -n, n,
      [op, n, axis](std::int64_t lo, std::int64_t hi) {
        fail(op, "index ", lo < -n ? lo : hi, " is out of range for axis ", axis, " of size ", n);
      },
      op);
}

// x.shape[:axis] + indices.shape + x.shape[axis+1:]
Shape gathered_shape(const char* op, const Tensor& x, const Tensor& indices, int axis) {
  ELEGY_CHECK(x.ndim() - 1 + indices.ndim() <= kMaxRank, op, "the result of indexing ", describe(x),
              " with ", describe(indices), " would exceed the maximum rank ", kMaxRank);
  Shape shape;
  for (int i = 0; i < axis; ++i) shape.push_back(x.shape()[i]);
  for (std::int64_t d : indices.shape()) shape.push_back(d);
  for (int i = axis + 1; i < x.ndim(); ++i) shape.push_back(x.shape()[i]);
  return shape;
}

}  // namespace

Tensor one_hot(const Tensor& labels, std::int64_t depth, DType dtype) {
  check_defined("one_hot", labels);
  ELEGY_CHECK(is_integer(labels.dtype()), "one_hot", "labels must be an integer tensor, got ",
              describe(labels));
  ELEGY_CHECK(depth >= 0, "one_hot", "depth must be >= 0, got ", depth);
  ELEGY_CHECK(labels.ndim() < kMaxRank, "one_hot", describe(labels),
              " already has the maximum rank ", kMaxRank);
  Shape shape = labels.shape();
  shape.push_back(depth);
  Tensor out = Tensor::empty(shape, dtype, labels.device());
  if (out.numel() == 0) return out;
  kernels::KernelArgs args;
  args.out = buffer_view(out);
  args.in[0] = buffer_view(labels);
  args.num_inputs = 1;
  args.ints[0] = depth;
  args.device = out.device();
  kernels::run("one_hot", kernels::Op::OneHot, dtype, args);
  return out;  // labels are integers: nothing to differentiate
}

namespace {

// take and index_add, each the other's backward rule, with who checks the indices.
Tensor take_checked(const Tensor& x, const Tensor& indices, int axis, IndexCheck check);
Tensor index_add_checked(const Tensor& x, const Tensor& indices, const Tensor& updates, int axis,
                         IndexCheck check);

Tensor take_checked(const Tensor& x, const Tensor& indices, int axis, IndexCheck check) {
  check_defined("take", x);
  check_defined("take", indices, "indices");
  check_same_device("take", x, indices);
  check_integer_indices("take", indices);
  ELEGY_CHECK(x.ndim() > 0, "take", "cannot index the 0-d ", describe(x));
  axis = normalize_axis("take", axis, x.ndim());
  Tensor out = Tensor::empty(gathered_shape("take", x, indices, axis), x.dtype(), x.device());
  if (indices.numel() > 0) {
    kernels::KernelArgs args;
    arrange_index_check("take", indices, x.shape()[axis], axis, check, args);
    args.out = buffer_view(out);
    args.in[0] = buffer_view(x);
    args.in[1] = buffer_view(indices);
    args.num_inputs = 2;
    args.ints[0] = axis;
    args.device = out.device();
    kernels::run("take", kernels::Op::Take, x.dtype(), args);
  }
  if (is_floating(x.dtype()) && autodiff::should_record(x)) {
    autodiff::record(
        "take", out, {&x}, [indices, axis, shape = x.shape()](const Tensor& g, const Tensor&) {
          return autodiff::Cotangents{index_add_checked(
              zeros(shape, g.dtype(), g.device()), indices, g, axis, IndexCheck::done_by_forward)};
        });
  }
  return out;
}

Tensor index_add_checked(const Tensor& x, const Tensor& indices, const Tensor& updates, int axis,
                         IndexCheck check) {
  check_defined("index_add", x);
  check_defined("index_add", indices, "indices");
  check_defined("index_add", updates, "updates");
  check_same_device("index_add", x, indices);
  check_same_device("index_add", x, updates);
  check_integer_indices("index_add", indices);
  ELEGY_CHECK(x.dtype() != DType::bool_, "index_add", "cannot add into the bool ", describe(x));
  ELEGY_CHECK(x.ndim() > 0, "index_add", "cannot index the 0-d ", describe(x));
  axis = normalize_axis("index_add", axis, x.ndim());
  const Shape expected = gathered_shape("index_add", x, indices, axis);
  ELEGY_CHECK(broadcast_shapes("index_add", updates.shape(), expected) == expected, "index_add",
              "updates ", describe(updates), " do not broadcast to ", expected,
              ", the shape take(x, indices, ", axis, ") has for x ", describe(x), " and indices ",
              describe(indices));

  // As x.at[i].add(u) in JAX: the result keeps x's dtype.
  const Tensor upd = updates.dtype() == x.dtype() ? updates : astype(updates, x.dtype());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  kernels::KernelArgs args;
  args.device = out.device();
  args.out = buffer_view(out);
  if (x.numel() > 0) {
    args.in[0] = buffer_view(x);
    args.in_device = x.device();  // (a device-to-device copy, not one from the host)
    args.num_inputs = 1;
    kernels::run("index_add", kernels::Op::Copy, x.dtype(), args);
    args.in_device = Device();
  }
  if (indices.numel() > 0 && out.numel() > 0) {
    // The kernel reads dense updates of exactly the expected shape.
    const Tensor dense = views::broadcast_to(upd.detached(), expected).contiguous();
    args.in[0] = buffer_view(dense);
    args.in[1] = buffer_view(indices);
    args.num_inputs = 2;
    args.ints[0] = axis;
    arrange_index_check("index_add", indices, x.shape()[axis], axis, check, args);
    kernels::run("index_add", kernels::Op::ScatterAdd, x.dtype(), args);
  }
  if (is_floating(x.dtype()) && autodiff::should_record(x, upd)) {
    autodiff::record("index_add", out, {&x, &upd}, [indices, axis](const Tensor& g, const Tensor&) {
      return autodiff::Cotangents{g, take_checked(g, indices, axis, IndexCheck::done_by_forward)};
    });
  }
  return out;
}

}  // namespace

Tensor take(const Tensor& x, const Tensor& indices, int axis) {
  return take_checked(x, indices, axis, IndexCheck::checked);
}

Tensor index_add(const Tensor& x, const Tensor& indices, const Tensor& updates, int axis) {
  return index_add_checked(x, indices, updates, axis, IndexCheck::checked);
}

}  // namespace elegy
