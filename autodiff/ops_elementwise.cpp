// Elementwise ops: operand checks, dtype promotion and broadcasting, the kernel call, and one
// backward rule per differentiable op, written with these same public ops so that grad-of-grad
// works. Rules return cotangents of the broadcast (output) shape; the tape walker sums them
// back to each input's shape.
//
// The non-recording path of `a + b` allocates only the output: operands that need no cast are
// used by reference, and closures are built only inside the should_record branch.
#include "elegy/autodiff/ops_elementwise.hpp"

#include <cmath>
#include <optional>

#include "elegy/autodiff/device_constants.hpp"
#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_bias_act.hpp"
#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/step_recording.hpp"
#include "elegy/autodiff/tape.hpp"

namespace elegy {

using autodiff::Cotangents;
using kernels::Op;

namespace {

// ---------------------------------------------------------------- operands and kernel calls

// `t` in `dtype`: t itself, or a cast kept alive in `slot` (recorded on the tape like any
// astype, so gradients flow back through float -> float casts).
const Tensor& in_dtype(const Tensor& t, DType dtype, std::optional<Tensor>& slot) {
  if (t.dtype() == dtype) return t;
  slot = t.astype(dtype);
  return *slot;
}

// Transcendental ops compute in floating point: integer and bool inputs become float32 (as
// jnp.exp(int) does).
DType float_dtype(DType t) {
  return is_floating(t) ? t : DType::f32;
}

void check_numeric(const char* op, const Tensor& x) {
  ELEGY_CHECK(x.dtype() != DType::bool_, op, "expected a numeric tensor, got ", describe(x),
              "; convert it with astype() first (or use logical_not for negation)");
}

void check_bool(const char* op, const Tensor& x) {
  ELEGY_CHECK(x.dtype() == DType::bool_, op, "expected a bool tensor, got ", describe(x),
              "; compare first (e.g. x > 0) or convert with astype(DType::bool_)");
}

// `t` seen with `shape` (which it broadcasts to: stride 0 on expanded dims), written into `v` in
// place. The same as kernel_call.hpp's broadcast_view, minus the temporary BufferView and its
// copy, which were a third of a small op's overhead.
void set_view(kernels::BufferView& v, const Tensor& t, const Shape& shape) {
  v.data = t.address();
  v.dtype = t.dtype();
  v.rank = shape.size();
  const int extra = shape.size() - t.ndim();
  for (int i = 0; i < v.rank; ++i) {
    const int j = i - extra;
    v.sizes[i] = shape[i];
    v.strides[i] = (j < 0 || t.shape()[j] == 1) ? 0 : t.strides()[j];
  }
}

Tensor run_unary(const char* op_name, Op op, const Tensor& x, DType out_dtype,
                 std::int64_t flag = 0) {
  Tensor out = Tensor::empty(x.shape(), out_dtype, x.device());
  if (out.numel() == 0) return out;
  kernels::KernelArgs args;
  set_view(args.out, out, out.shape());
  set_view(args.in[0], x, x.shape());
  args.num_inputs = 1;
  args.ints[0] = flag;
  args.device = out.device();
  kernels::run(op_name, op, x.dtype(), args);
  return out;
}

// Two operands promoted to a common dtype, and their broadcast shape.
struct Binary {
  const Tensor* a;
  const Tensor* b;
  Shape shape;
  std::optional<Tensor> cast_a, cast_b;
};

// Checks a and b, casts them to `dtype` (promote_types of both unless the op says otherwise)
// and broadcasts their shapes.
void prepare(const char* op, const Tensor& a, const Tensor& b, DType dtype, Binary& p) {
  autodiff::check_same_device(op, a, b);
  p.a = &in_dtype(a, dtype, p.cast_a);
  p.b = &in_dtype(b, dtype, p.cast_b);
  p.shape = a.shape() == b.shape() ? a.shape() : broadcast_shapes(op, a.shape(), b.shape());
}

void check_both_defined(const char* op, const Tensor& a, const Tensor& b) {
  autodiff::check_defined(op, a, "first operand");
  autodiff::check_defined(op, b, "second operand");
}

Tensor run_binary(const char* op_name, Op op, const Binary& p, DType out_dtype) {
  Tensor out = Tensor::empty(p.shape, out_dtype, p.a->device());
  if (out.numel() == 0) return out;
  kernels::KernelArgs args;
  set_view(args.out, out, p.shape);
  set_view(args.in[0], *p.a, p.shape);
  set_view(args.in[1], *p.b, p.shape);
  args.num_inputs = 2;
  args.device = out.device();
  kernels::run(op_name, op, p.a->dtype(), args);
  return out;
}

// Whether each operand is being traced, captured by rules that can skip the other's cotangent.
struct Needs {
  bool a, b;
};
Needs needs(const Binary& p) {
  return {p.a->node() != nullptr, p.b->node() != nullptr};
}

// ---------------------------------------------------------------- weak typing of numbers

// A 0-d tensor holding `value` (already checked to fit `dtype`). On the CPU the value is
// written directly: `x * 2.0` should not pay for a second kernel dispatch; on an accelerator it
// is a shared constant, filled once (device_constants.hpp).
Tensor number(double value, DType dtype, Device device) {
  if (!device.is_cpu()) return autodiff::device_constant(value, dtype, device);
  Tensor t = Tensor::empty(Shape{}, dtype, device);
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    *static_cast<T*>(t.address()) = T(value);
  });
  // A step being compiled writes the same number again when it replays (it must not be left
  // as whatever an in-place kernel made of it).
  if (autodiff::StepRecording* r = autodiff::StepRecording::current()) [[unlikely]]
    r->add_constant(t);
  return t;
}

// Whether `value` is an integer that `t` (an integer or bool dtype) holds exactly.
bool fits_exactly(double value, DType t) {
  if (!std::isfinite(value) || value != std::trunc(value)) return false;
  switch (t) {
    case DType::bool_:
      return value == 0.0 || value == 1.0;
    case DType::u8:
      return value >= 0.0 && value <= 255.0;
    case DType::i32:
      return value >= -2147483648.0 && value <= 2147483647.0;
    case DType::i64:
      return value >= -9223372036854775808.0 && value < 9223372036854775808.0;
    default:
      return true;
  }
}

// The number a comparison with `like` uses: the tensor's own dtype when it holds the number
// exactly (and always for float tensors, JAX's weak typing); float64 otherwise, so `int_x < 2.5`
// compares exactly instead of rounding int_x to float32.
Tensor comparison_operand(const Tensor& like, double value) {
  autodiff::check_defined("comparison", like);
  const DType t = like.dtype();
  if (is_floating(t) || fits_exactly(value, t)) return number(value, t, like.device());
  return number(value, DType::f64, like.device());
}

// ---------------------------------------------------------------- shared rule pieces

Tensor zero_like_scalar(const Tensor& like) {
  return scalar_like(like, 0.0);
}

// The standard normal CDF Phi(x) from the exact GELU (x * Phi(x)) without a separate erf op; at
// x == 0 the quotient is replaced by 1/2, and the divisor by 1 so no 0/0 reaches the tape.
Tensor normal_cdf(const Tensor& x) {
  const Tensor zero = x == 0.0;
  const Tensor safe_x = where(zero, 1.0, x);
  return where(zero, 0.5, gelu(safe_x, false) / safe_x);
}

// d maximum(a, b) / da: 1 where a wins, 1/2 at ties (as JAX), 0 elsewhere.
Tensor max_share(const Tensor& g, const Tensor& a, const Tensor& b) {
  return where(a > b, g, where(a == b, g * 0.5, zero_like_scalar(g)));
}

}  // namespace

// ====================================================================== unary

Tensor neg(const Tensor& x) {
  autodiff::check_defined("neg", x);
  check_numeric("neg", x);
  Tensor out = run_unary("neg", Op::Neg, x, x.dtype());
  if (autodiff::should_record(x))
    autodiff::record("neg", out, {&x},
                     [](const Tensor& g, const Tensor&) { return Cotangents{-g}; });
  return out;
}

Tensor abs(const Tensor& x) {
  autodiff::check_defined("abs", x);
  check_numeric("abs", x);
  Tensor out = run_unary("abs", Op::Abs, x, x.dtype());
  if (autodiff::should_record(x))
    autodiff::record("abs", out, {&x}, [x](const Tensor& g, const Tensor&) {
      return Cotangents{g * sign(x)};  // 0 at x == 0, as JAX
    });
  return out;
}

Tensor exp(const Tensor& x) {
  autodiff::check_defined("exp", x);
  std::optional<Tensor> cast;
  const Tensor& in = in_dtype(x, float_dtype(x.dtype()), cast);
  Tensor out = run_unary("exp", Op::Exp, in, in.dtype());
  if (autodiff::should_record(in))
    autodiff::record(
        "exp", out, {&in}, [](const Tensor& g, const Tensor& y) { return Cotangents{g * y}; },
        /*keep_output=*/true);
  return out;
}

Tensor log(const Tensor& x) {
  autodiff::check_defined("log", x);
  std::optional<Tensor> cast;
  const Tensor& in = in_dtype(x, float_dtype(x.dtype()), cast);
  Tensor out = run_unary("log", Op::Log, in, in.dtype());
  if (autodiff::should_record(in))
    autodiff::record("log", out, {&in},
                     [in](const Tensor& g, const Tensor&) { return Cotangents{g / in}; });
  return out;
}

Tensor log1p(const Tensor& x) {
  autodiff::check_defined("log1p", x);
  std::optional<Tensor> cast;
  const Tensor& in = in_dtype(x, float_dtype(x.dtype()), cast);
  Tensor out = run_unary("log1p", Op::Log1p, in, in.dtype());
  if (autodiff::should_record(in))
    autodiff::record("log1p", out, {&in},
                     [in](const Tensor& g, const Tensor&) { return Cotangents{g / (1.0 + in)}; });
  return out;
}

Tensor sqrt(const Tensor& x) {
  autodiff::check_defined("sqrt", x);
  std::optional<Tensor> cast;
  const Tensor& in = in_dtype(x, float_dtype(x.dtype()), cast);
  Tensor out = run_unary("sqrt", Op::Sqrt, in, in.dtype());
  if (autodiff::should_record(in))
    autodiff::record(
        "sqrt", out, {&in},
        [](const Tensor& g, const Tensor& y) { return Cotangents{g * 0.5 / y}; },
        /*keep_output=*/true);
  return out;
}

Tensor rsqrt(const Tensor& x) {
  autodiff::check_defined("rsqrt", x);
  std::optional<Tensor> cast;
  const Tensor& in = in_dtype(x, float_dtype(x.dtype()), cast);
  Tensor out = run_unary("rsqrt", Op::Rsqrt, in, in.dtype());
  if (autodiff::should_record(in))
    autodiff::record(
        "rsqrt", out, {&in},
        // d/dx x^(-1/2) = -1/2 x^(-3/2) = -1/2 * rsqrt(x) / x
        [in](const Tensor& g, const Tensor& y) { return Cotangents{g * -0.5 * y / in}; },
        /*keep_output=*/true);
  return out;
}

Tensor square(const Tensor& x) {
  autodiff::check_defined("square", x);
  check_numeric("square", x);
  Tensor out = run_unary("square", Op::Square, x, x.dtype());
  if (autodiff::should_record(x))
    autodiff::record("square", out, {&x},
                     [x](const Tensor& g, const Tensor&) { return Cotangents{g * (2.0 * x)}; });
  return out;
}

Tensor tanh(const Tensor& x) {
  autodiff::check_defined("tanh", x);
  std::optional<Tensor> cast;
  const Tensor& in = in_dtype(x, float_dtype(x.dtype()), cast);
  Tensor out = run_unary("tanh", Op::Tanh, in, in.dtype());
  if (autodiff::should_record(in))
    autodiff::record(
        "tanh", out, {&in},
        [](const Tensor& g, const Tensor& y) { return Cotangents{g * (1.0 - y * y)}; },
        /*keep_output=*/true);
  return out;
}

Tensor sigmoid(const Tensor& x) {
  autodiff::check_defined("sigmoid", x);
  std::optional<Tensor> cast;
  const Tensor& in = in_dtype(x, float_dtype(x.dtype()), cast);
  Tensor out = run_unary("sigmoid", Op::Sigmoid, in, in.dtype());
  if (autodiff::should_record(in))
    autodiff::record(
        "sigmoid", out, {&in},
        [](const Tensor& g, const Tensor& y) { return Cotangents{g * (y * (1.0 - y))}; },
        /*keep_output=*/true);
  return out;
}

Tensor relu(const Tensor& x) {
  autodiff::check_defined("relu", x);
  check_numeric("relu", x);
  Tensor out = run_unary("relu", Op::Relu, x, x.dtype());
  if (!autodiff::should_record(x)) return out;
  if (x.dtype() == DType::f32 || x.dtype() == DType::f64) {
    // One pass of the fused ReluBackward kernel instead of a comparison, a bool mask and a
    // where: g where relu's output is positive, which is exactly where x > 0 (0 at x == 0 and at
    // NaN, as JAX's where(x > 0, g, 0)). relu_backward is linear in g, so higher derivatives
    // flow as before.
    autodiff::record(
        "relu", out, {&x},
        [](const Tensor& g, const Tensor& y) { return Cotangents{relu_backward(g, y)}; },
        /*keep_output=*/true);
  } else {
    autodiff::record("relu", out, {&x}, [x](const Tensor& g, const Tensor&) {
      return Cotangents{where(x > 0.0, g, zero_like_scalar(g))};  // 0 at x == 0, as JAX
    });
  }
  return out;
}

Tensor gelu(const Tensor& x, bool approximate) {
  autodiff::check_defined("gelu", x);
  std::optional<Tensor> cast;
  const Tensor& in = in_dtype(x, float_dtype(x.dtype()), cast);
  Tensor out = run_unary("gelu", Op::Gelu, in, in.dtype(), approximate ? 1 : 0);
  if (!autodiff::should_record(in)) return out;
  if (approximate) {
    // gelu = x * s with s = sigmoid(2z), z = k0 (x + k1 x^3) (the kernel's form); so
    // gelu' = s + x * s (1 - s) * 2 k0 (1 + 3 k1 x^2).
    autodiff::record("gelu", out, {&in}, [in](const Tensor& g, const Tensor&) {
      constexpr double k0 = 0.79788456080286535588, k1 = 0.044715;
      const Tensor x2 = square(in);
      const Tensor s = sigmoid((in + k1 * x2 * in) * (2.0 * k0));
      const Tensor dz = (1.0 + (3.0 * k1) * x2) * (2.0 * k0);
      return Cotangents{g * (s + in * (s * (1.0 - s)) * dz)};
    });
  } else {
    // gelu = x Phi(x): gelu' = Phi(x) + x phi(x), phi the standard normal density.
    autodiff::record("gelu", out, {&in}, [in](const Tensor& g, const Tensor&) {
      constexpr double kInvSqrt2Pi = 0.39894228040143267794;
      const Tensor density = exp(square(in) * -0.5) * kInvSqrt2Pi;
      return Cotangents{g * (normal_cdf(in) + in * density)};
    });
  }
  return out;
}

Tensor softplus(const Tensor& x) {
  autodiff::check_defined("softplus", x);
  std::optional<Tensor> cast;
  const Tensor& in = in_dtype(x, float_dtype(x.dtype()), cast);
  Tensor out = run_unary("softplus", Op::Softplus, in, in.dtype());
  if (autodiff::should_record(in))
    autodiff::record("softplus", out, {&in},
                     [in](const Tensor& g, const Tensor&) { return Cotangents{g * sigmoid(in)}; });
  return out;
}

// Piecewise constant: no rule, so the output is a constant to the tape (zero gradient).
Tensor sign(const Tensor& x) {
  autodiff::check_defined("sign", x);
  check_numeric("sign", x);
  return run_unary("sign", Op::Sign, x, x.dtype());
}

Tensor logical_not(const Tensor& x) {
  autodiff::check_defined("logical_not", x);
  check_bool("logical_not", x);
  return run_unary("logical_not", Op::LogicalNot, x, DType::bool_);
}

// ====================================================================== binary arithmetic

Tensor add(const Tensor& a, const Tensor& b) {
  check_both_defined("add", a, b);
  Binary p;
  const DType t = promote_types(a.dtype(), b.dtype());
  prepare("add", a, b, t, p);
  Tensor out = run_binary("add", Op::Add, p, t);
  if (autodiff::should_record(*p.a, *p.b))
    autodiff::record("add", out, {p.a, p.b}, [](const Tensor& g, const Tensor&) {
      return Cotangents{g, g};
    });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  check_both_defined("sub", a, b);
  const DType t = promote_types(a.dtype(), b.dtype());
  ELEGY_CHECK(t != DType::bool_, "sub", "subtracting bool tensors (", describe(a), " - ",
              describe(b), ") is not supported; use logical_xor, or astype() to a number type");
  Binary p;
  prepare("sub", a, b, t, p);
  Tensor out = run_binary("sub", Op::Sub, p, t);
  if (autodiff::should_record(*p.a, *p.b))
    autodiff::record("sub", out, {p.a, p.b}, [n = needs(p)](const Tensor& g, const Tensor&) {
      return Cotangents{g, n.b ? -g : Tensor()};
    });
  return out;
}

namespace {

// a * b when both are shared constants of one float dtype on one accelerator
// (device_constants.hpp): the product as the Mul kernel rounds it (one IEEE multiply in the
// dtype), made on the host as another constant, so no kernel runs. (A constant has no tape node:
// nothing to record.)
std::optional<Tensor> constant_product(const Tensor& a, const Tensor& b) {
  if (a.device().is_cpu() || a.device() != b.device() || a.dtype() != b.dtype()) return {};
  const std::optional<double> x = autodiff::device_constant_value(a);
  if (!x) return {};
  const std::optional<double> y = autodiff::device_constant_value(b);
  if (!y) return {};
  const double product = a.dtype() == DType::f32 ? double(float(*x) * float(*y)) : *x * *y;
  if (std::isnan(product)) return {};  // (the host keeps a NaN's payload, a GPU may not)
  return autodiff::device_constant(product, a.dtype(), a.device());
}

}  // namespace

Tensor mul(const Tensor& a, const Tensor& b) {
  check_both_defined("mul", a, b);
  if (std::optional<Tensor> folded = constant_product(a, b)) return *std::move(folded);
  Binary p;
  const DType t = promote_types(a.dtype(), b.dtype());
  prepare("mul", a, b, t, p);
  Tensor out = run_binary("mul", Op::Mul, p, t);
  if (autodiff::should_record(*p.a, *p.b))
    autodiff::record("mul", out, {p.a, p.b},
                     [a = *p.a, b = *p.b, n = needs(p)](const Tensor& g, const Tensor&) {
                       return Cotangents{n.a ? g * b : Tensor(), n.b ? g * a : Tensor()};
                     });
  return out;
}

namespace {

// True division (integers give float) by Op::Div or Op::DivNoNan; `self` is the op itself, so
// both backward rules read d/da = self(g, b), d/db = -self(g, b) * out (0 where divide_no_nan's
// b == 0, where its output is the constant 0).
Tensor true_division(const char* name, Op kop, Tensor (*self)(const Tensor&, const Tensor&),
                     const Tensor& a, const Tensor& b) {
  check_both_defined(name, a, b);
  Binary p;
  const DType t = float_dtype(promote_types(a.dtype(), b.dtype()));
  prepare(name, a, b, t, p);
  Tensor out = run_binary(name, kop, p, t);
  if (autodiff::should_record(*p.a, *p.b))
    autodiff::record(
        name, out, {p.a, p.b},
        [self, b = *p.b, n = needs(p)](const Tensor& g, const Tensor& y) {
          const Tensor ga = self(g, b);
          return Cotangents{n.a ? ga : Tensor(), n.b ? -(ga * y) : Tensor()};
        },
        /*keep_output=*/true);
  return out;
}

}  // namespace

Tensor div(const Tensor& a, const Tensor& b) {
  return true_division("div", Op::Div, &div, a, b);
}

Tensor divide_no_nan(const Tensor& a, const Tensor& b) {
  return true_division("divide_no_nan", Op::DivNoNan, &divide_no_nan, a, b);
}

Tensor pow(const Tensor& a, const Tensor& b) {
  check_both_defined("pow", a, b);
  const DType t = promote_types(a.dtype(), b.dtype());
  ELEGY_CHECK(t != DType::bool_, "pow", "not defined for bool tensors (", describe(a), " ** ",
              describe(b), "); convert with astype() first");
  Binary p;
  prepare("pow", a, b, t, p);
  Tensor out = run_binary("pow", Op::Pow, p, t);
  if (autodiff::should_record(*p.a, *p.b))
    autodiff::record(
        "pow", out, {p.a, p.b},
        [a = *p.a, b = *p.b, n = needs(p)](const Tensor& g, const Tensor& y) {
          Cotangents c(2);
          // d/da = b a^(b-1), taken as 0 where b == 0 (so 0^0 does not give 0 * inf).
          if (n.a) c[0] = g * where(b == 0.0, zero_like_scalar(y), b * pow(a, b - 1.0));
          // d/db = a^b log(a), with log(1) in place of log(0) as JAX does: 0 where a == 0.
          if (n.b) c[1] = g * (y * log(where(a == 0.0, scalar_like(a, 1.0), a)));
          return c;
        },
        /*keep_output=*/true);
  return out;
}

Tensor pow(const Tensor& a, double exponent) {
  autodiff::check_defined("pow", a);
  if (exponent == 2.0 && a.dtype() != DType::bool_) return square(a);  // the common x ** 2
  return pow(a, scalar_like(a, exponent));
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  check_both_defined("maximum", a, b);
  Binary p;
  const DType t = promote_types(a.dtype(), b.dtype());
  prepare("maximum", a, b, t, p);
  Tensor out = run_binary("maximum", Op::Maximum, p, t);
  if (autodiff::should_record(*p.a, *p.b))
    autodiff::record("maximum", out, {p.a, p.b},
                     [a = *p.a, b = *p.b, n = needs(p)](const Tensor& g, const Tensor&) {
                       return Cotangents{n.a ? max_share(g, a, b) : Tensor(),
                                         n.b ? max_share(g, b, a) : Tensor()};
                     });
  return out;
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  check_both_defined("minimum", a, b);
  Binary p;
  const DType t = promote_types(a.dtype(), b.dtype());
  prepare("minimum", a, b, t, p);
  Tensor out = run_binary("minimum", Op::Minimum, p, t);
  // min(a, b) = -max(-a, -b): a wins where a < b.
  if (autodiff::should_record(*p.a, *p.b))
    autodiff::record("minimum", out, {p.a, p.b},
                     [a = *p.a, b = *p.b, n = needs(p)](const Tensor& g, const Tensor&) {
                       return Cotangents{n.a ? max_share(g, b, a) : Tensor(),
                                         n.b ? max_share(g, a, b) : Tensor()};
                     });
  return out;
}

Tensor maximum(const Tensor& a, double b) {
  autodiff::check_defined("maximum", a);
  return maximum(a, scalar_like(a, b));
}

Tensor minimum(const Tensor& a, double b) {
  autodiff::check_defined("minimum", a);
  return minimum(a, scalar_like(a, b));
}

// ====================================================================== comparisons, logic

namespace {

Tensor compare(const char* op_name, Op op, const Tensor& a, const Tensor& b) {
  check_both_defined(op_name, a, b);
  Binary p;
  prepare(op_name, a, b, promote_types(a.dtype(), b.dtype()), p);
  return run_binary(op_name, op, p, DType::bool_);
}

Tensor logical(const char* op_name, Op op, const Tensor& a, const Tensor& b) {
  check_both_defined(op_name, a, b);
  check_bool(op_name, a);
  check_bool(op_name, b);
  Binary p;
  prepare(op_name, a, b, DType::bool_, p);
  return run_binary(op_name, op, p, DType::bool_);
}

}  // namespace

Tensor equal(const Tensor& a, const Tensor& b) {
  return compare("equal", Op::Equal, a, b);
}
Tensor not_equal(const Tensor& a, const Tensor& b) {
  return compare("not_equal", Op::NotEqual, a, b);
}
Tensor less(const Tensor& a, const Tensor& b) {
  return compare("less", Op::Less, a, b);
}
Tensor less_equal(const Tensor& a, const Tensor& b) {
  return compare("less_equal", Op::LessEqual, a, b);
}
Tensor greater(const Tensor& a, const Tensor& b) {
  return compare("greater", Op::Greater, a, b);
}
Tensor greater_equal(const Tensor& a, const Tensor& b) {
  return compare("greater_equal", Op::GreaterEqual, a, b);
}

Tensor logical_and(const Tensor& a, const Tensor& b) {
  return logical("logical_and", Op::LogicalAnd, a, b);
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return logical("logical_or", Op::LogicalOr, a, b);
}
Tensor logical_xor(const Tensor& a, const Tensor& b) {
  return logical("logical_xor", Op::LogicalXor, a, b);
}

// ====================================================================== where, clip

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  autodiff::check_defined("where", cond, "condition");
  check_both_defined("where", a, b);
  ELEGY_CHECK(cond.dtype() == DType::bool_, "where", "the condition must be a bool tensor, got ",
              describe(cond), "; compare first (e.g. x > 0)");
  autodiff::check_same_device("where", cond, a);
  Binary p;
  prepare("where", a, b, promote_types(a.dtype(), b.dtype()), p);
  const Shape shape =
      cond.shape() == p.shape ? p.shape : broadcast_shapes("where", cond.shape(), p.shape);
  Tensor out = Tensor::empty(shape, p.a->dtype(), cond.device());
  if (out.numel() > 0) {
    kernels::KernelArgs args;
    set_view(args.out, out, shape);
    set_view(args.in[0], cond, shape);
    set_view(args.in[1], *p.a, shape);
    set_view(args.in[2], *p.b, shape);
    args.num_inputs = 3;
    args.device = out.device();
    kernels::run("where", Op::Where, p.a->dtype(), args);
  }
  if (autodiff::should_record(*p.a, *p.b))
    autodiff::record("where", out, {&cond, p.a, p.b},
                     [cond, n = needs(p)](const Tensor& g, const Tensor&) {
                       const Tensor zero = zero_like_scalar(g);
                       return Cotangents{Tensor(), n.a ? where(cond, g, zero) : Tensor(),
                                         n.b ? where(cond, zero, g) : Tensor()};
                     });
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, double b) {
  autodiff::check_defined("where", a);
  return where(cond, a, scalar_like(a, b));
}

Tensor where(const Tensor& cond, double a, const Tensor& b) {
  autodiff::check_defined("where", b);
  return where(cond, scalar_like(b, a), b);
}

Tensor clip(const Tensor& x, double lo, double hi) {
  autodiff::check_defined("clip", x);
  return minimum(maximum(x, lo), hi);
}

// ====================================================================== conversions

Tensor astype(const Tensor& x, DType dtype) {
  return x.astype(dtype);  // checks x and records float -> float casts
}

Tensor stop_gradient(const Tensor& x) {
  autodiff::check_defined("stop_gradient", x);
  return x.detached();
}

Tensor scalar_like(const Tensor& like, double value) {
  autodiff::check_defined("scalar_like", like);
  DType t = like.dtype();
  if (!is_floating(t)) {
    const bool integral = std::isfinite(value) && value == std::trunc(value);
    if (!integral) {
      t = DType::f32;  // a fractional number (or inf/nan) with integers: float32
    } else if (t == DType::bool_) {
      t = DType::i32;  // bool with a number: int32, as JAX's weak int
    } else {
      ELEGY_CHECK(fits_exactly(value, t), "scalar_like", "the number ", value,
                  " does not fit the dtype of ", describe(like),
                  "; convert the tensor with astype() first");
    }
  }
  return number(value, t, like.device());
}

// ====================================================================== operators

Tensor operator-(const Tensor& x) {
  return neg(x);
}
Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}

Tensor operator+(const Tensor& a, double b) {
  return add(a, scalar_like(a, b));
}
Tensor operator-(const Tensor& a, double b) {
  return sub(a, scalar_like(a, b));
}
Tensor operator*(const Tensor& a, double b) {
  return mul(a, scalar_like(a, b));
}
Tensor operator/(const Tensor& a, double b) {
  return div(a, scalar_like(a, b));
}
Tensor operator+(double a, const Tensor& b) {
  return add(scalar_like(b, a), b);
}
Tensor operator-(double a, const Tensor& b) {
  return sub(scalar_like(b, a), b);
}
Tensor operator*(double a, const Tensor& b) {
  return mul(scalar_like(b, a), b);
}
Tensor operator/(double a, const Tensor& b) {
  return div(scalar_like(b, a), b);
}

Tensor operator==(const Tensor& a, const Tensor& b) {
  return equal(a, b);
}
Tensor operator!=(const Tensor& a, const Tensor& b) {
  return not_equal(a, b);
}
Tensor operator<(const Tensor& a, const Tensor& b) {
  return less(a, b);
}
Tensor operator<=(const Tensor& a, const Tensor& b) {
  return less_equal(a, b);
}
Tensor operator>(const Tensor& a, const Tensor& b) {
  return greater(a, b);
}
Tensor operator>=(const Tensor& a, const Tensor& b) {
  return greater_equal(a, b);
}

Tensor operator==(const Tensor& a, double b) {
  return equal(a, comparison_operand(a, b));
}
Tensor operator!=(const Tensor& a, double b) {
  return not_equal(a, comparison_operand(a, b));
}
Tensor operator<(const Tensor& a, double b) {
  return less(a, comparison_operand(a, b));
}
Tensor operator<=(const Tensor& a, double b) {
  return less_equal(a, comparison_operand(a, b));
}
Tensor operator>(const Tensor& a, double b) {
  return greater(a, comparison_operand(a, b));
}
Tensor operator>=(const Tensor& a, double b) {
  return greater_equal(a, comparison_operand(a, b));
}

Tensor operator&(const Tensor& a, const Tensor& b) {
  return logical_and(a, b);
}
Tensor operator|(const Tensor& a, const Tensor& b) {
  return logical_or(a, b);
}
Tensor operator^(const Tensor& a, const Tensor& b) {
  return logical_xor(a, b);
}
Tensor operator!(const Tensor& x) {
  return logical_not(x);
}

}  // namespace elegy
