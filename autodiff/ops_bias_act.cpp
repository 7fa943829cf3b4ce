// bias_act and relu_backward: checks, the BiasAct / ReluBackward kernels, backward rules.
#include "elegy/autodiff/ops_bias_act.hpp"

#include <utility>
#include <vector>

#include "elegy/autodiff/bias_act_detail.hpp"
#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/tape.hpp"

namespace elegy {
namespace {

using autodiff::dense;
using kernels::Op;

}  // namespace

namespace autodiff {

void check_bias(const char* op, const Tensor& y, const Tensor& b) {
  check_defined(op, y, "y");
  ELEGY_CHECK(is_floating(y.dtype()), op, "needs a float32 or float64 input, got ", describe(y));
  ELEGY_CHECK(y.ndim() >= 1, op, "needs an input of rank >= 1 ([..., C]), got ", describe(y));
  if (!b.defined()) return;
  check_same_device(op, y, b);
  ELEGY_CHECK(b.dtype() == y.dtype() && b.ndim() == 1 && b.shape(0) == y.shape(-1), op,
              "the bias must be [C] of the input's dtype, C = its last dimension: got input ",
              describe(y), " and bias ", describe(b));
}

void run_bias_act(const char* what, const Tensor& out, const Tensor& y, const Tensor& b,
                  FusedActivation act) {
  kernels::KernelArgs args;
  args.out = buffer_view(out);
  args.in[0] = buffer_view(y);
  args.num_inputs = 1;
  if (b.defined()) {
    args.in[1] = buffer_view(b);
    args.num_inputs = 2;
  }
  args.ints[0] = std::int64_t(act == FusedActivation::relu ? kernels::Activation::relu
                                                           : kernels::Activation::none);
  args.device = out.device();
  kernels::run(what, Op::BiasAct, out.dtype(), args);
}

Tensor activation_grad(const Tensor& g, const Tensor& out, FusedActivation act) {
  return act == FusedActivation::relu ? relu_backward(g, out) : g;
}

Tensor bias_grad(const Tensor& gz) {
  std::vector<int> leading;
  for (int i = 0; i + 1 < gz.ndim(); ++i) leading.push_back(i);
  return leading.empty() ? gz : sum(gz, Axes(std::move(leading)));
}

}  // namespace autodiff

Tensor bias_act(const Tensor& y, const Tensor& b, FusedActivation act) {
  const char* op = "bias_act";
  autodiff::check_bias(op, y, b);
  Tensor out = Tensor::empty(y.shape(), y.dtype(), y.device());
  autodiff::run_bias_act(op, out, dense(y), b.defined() ? dense(b) : b, act);
  const bool has_b = b.defined();
  if (autodiff::is_recording() && (y.node() || (has_b && b.node()))) {
    std::vector<Tensor> inputs{y};
    if (has_b) inputs.push_back(b);
    autodiff::record(
        op, out, inputs,
        [act, has_b, want_b = has_b && b.node() != nullptr](const Tensor& g, const Tensor& o) {
          const Tensor gz = autodiff::activation_grad(g, o, act);
          autodiff::Cotangents c{gz};
          if (has_b) c.push_back(want_b ? autodiff::bias_grad(gz) : Tensor());
          return c;
        },
        /*keep_output=*/act == FusedActivation::relu);
  }
  return out;
}

Tensor relu_backward(const Tensor& g, const Tensor& y) {
  const char* op = "relu_backward";
  autodiff::check_defined(op, g, "g");
  autodiff::check_defined(op, y, "y");
  autodiff::check_same_device(op, g, y);
  ELEGY_CHECK(is_floating(g.dtype()) && g.dtype() == y.dtype() && g.shape() == y.shape(), op,
              "g and y must share shape and a float dtype, got g ", describe(g), " and y ",
              describe(y));
  Tensor out = Tensor::empty(g.shape(), g.dtype(), g.device());
  const Tensor gd = dense(g), yd = dense(y);
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(out);
  args.in[0] = autodiff::buffer_view(gd);
  args.in[1] = autodiff::buffer_view(yd);
  args.num_inputs = 2;
  args.device = out.device();
  kernels::run(op, kernels::Op::ReluBackward, out.dtype(), args);
  if (autodiff::should_record(g)) {
    autodiff::record(op, out, {&g, &y}, [y](const Tensor& h, const Tensor&) {
      return autodiff::Cotangents{relu_backward(h, y), Tensor()};
    });
  }
  return out;
}

}  // namespace elegy
