// The conv ops: argument checks, output shapes, and the backward rules. conv,
// conv_backward_input and conv_backward_filter form a closed family (each one's cotangents are
// the other two), so derivatives of any order stay inside it; conv_transpose is
// conv_backward_input with the kernel's channel axes swapped. The arithmetic lives in
// autodiff/conv_compute.cpp.
#include "elegy/autodiff/ops_conv.hpp"

#include <sstream>

#include "elegy/autodiff/bias_act_detail.hpp"
#include "elegy/autodiff/conv_compute.hpp"
#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/kernels/conv_algorithm.hpp"

namespace elegy {

using kernels::ConvGeometry;

namespace {

constexpr int kMaxSpatial = ConvGeometry::kSlots;

// "float32[3,5,5,4]": an operand as the user wrote it.
std::string dtype_and_shape(const Tensor& t) {
  std::ostringstream os;
  os << name(t.dtype()) << t.shape();
  return os.str();
}

std::string list(std::span<const std::int64_t> values) {
  std::ostringstream os;
  os << Shape(values);
  return os.str();
}

// The spatial part of a [N, *spatial, C] tensor, or of a [*kernel, A, B] kernel.
std::vector<std::int64_t> spatial_of(const Tensor& t, int first) {
  const auto dims = t.shape().span();
  return {dims.begin() + first, dims.begin() + first + (t.ndim() - 2)};
}

// Checks shared by every conv op on its two operands `a` (an image [N, *spatial, C]) and `b`
// (a kernel [*kernel, I, O] when `b_is_kernel`, else another image).
int check_operands(const char* op, const Tensor& a, const char* a_name, const Tensor& b,
                   const char* b_name, bool b_is_kernel) {
  autodiff::check_defined(op, a, a_name);
  autodiff::check_defined(op, b, b_name);
  autodiff::check_same_device(op, a, b);
  ELEGY_CHECK(is_floating(a.dtype()) && a.dtype() == b.dtype(), op,
              "operands must share a float dtype (float32 or float64), got ", a_name, " ",
              describe(a), " and ", b_name, " ", describe(b));
  const int dims = a.ndim() - 2;
  ELEGY_CHECK(dims >= 1 && dims <= kMaxSpatial && b.ndim() == a.ndim(), op, "expected ", a_name,
              " [N, *spatial, C] with 1 to ", kMaxSpatial, " spatial dims and ", b_name,
              b_is_kernel ? " [*kernel, C_in, C_out]" : " [N, *spatial, C]",
              " with as many spatial dims, got ", a_name, " ", dtype_and_shape(a), " and ", b_name,
              " ", dtype_and_shape(b));
  return dims;
}

// Strides, dilation and padding checked against `dims` and filled into g.
void apply_window(const char* op, int dims, std::span<const std::int64_t> strides,
                  std::span<const std::pair<std::int64_t, std::int64_t>> padding,
                  std::span<const std::int64_t> dilation, ConvGeometry& g,
                  std::int64_t (&pad_hi)[kMaxSpatial], const std::string& operands) {
  ELEGY_CHECK(strides.empty() || int(strides.size()) == dims, op, "strides ", list(strides),
              " has ", strides.size(), " entries for ", dims, " spatial dims (", operands, ")");
  ELEGY_CHECK(dilation.empty() || int(dilation.size()) == dims, op, "dilation ", list(dilation),
              " has ", dilation.size(), " entries for ", dims, " spatial dims (", operands, ")");
  ELEGY_CHECK(padding.empty() || int(padding.size()) == dims, op, "padding has ", padding.size(),
              " (low, high) pairs for ", dims, " spatial dims (", operands, ")");
  const int missing = kMaxSpatial - dims;
  for (int i = 0; i < dims; ++i) {
    const int s = missing + i;
    g.stride[s] = strides.empty() ? 1 : strides[std::size_t(i)];
    g.dilation[s] = dilation.empty() ? 1 : dilation[std::size_t(i)];
    g.pad_lo[s] = padding.empty() ? 0 : padding[std::size_t(i)].first;
    pad_hi[s] = padding.empty() ? 0 : padding[std::size_t(i)].second;
    ELEGY_CHECK(g.stride[s] >= 1 && g.dilation[s] >= 1, op,
                "strides and dilation must be >= 1, got strides ", list(strides), " and dilation ",
                list(dilation), " (", operands, ")");
  }
}

// The convolution geometry of x [N, *in, C_in] with a kernel of spatial size `kernel`; out
// sizes computed from the window. Error when a padded input is smaller than the dilated kernel.
ConvGeometry geometry(const char* op, std::int64_t batch, std::span<const std::int64_t> in,
                      std::int64_t channels, std::span<const std::int64_t> kernel,
                      const ConvOptions& o, const std::string& operands) {
  const int dims = int(in.size());
  ConvGeometry g;
  g.batch = batch;
  g.channels = channels;
  g.groups = o.groups;
  std::int64_t pad_hi[kMaxSpatial] = {0, 0, 0};
  apply_window(op, dims, o.strides, o.padding, o.dilation, g, pad_hi, operands);
  const int missing = kMaxSpatial - dims;
  for (int i = 0; i < dims; ++i) {
    const int s = missing + i;
    g.in[s] = in[std::size_t(i)];
    g.kernel[s] = kernel[std::size_t(i)];
    ELEGY_CHECK(g.kernel[s] >= 1, op, "kernel sizes must be >= 1 (", operands, ")");
    const std::int64_t span = g.in[s] + g.pad_lo[s] + pad_hi[s];
    const std::int64_t dilated = (g.kernel[s] - 1) * g.dilation[s] + 1;
    ELEGY_CHECK(span >= dilated, op, "spatial dim ", i, ": the padded input (", g.in[s], " + ",
                g.pad_lo[s], " + ", pad_hi[s], ") is smaller than the dilated kernel (", dilated,
                ") (", operands, ")");
    g.out[s] = (span - dilated) / g.stride[s] + 1;
  }
  return g;
}

// Groups and channel counts of a conv with input channels `c_in`, kernel [*k, c_in/groups, c_out].
void check_channels(const char* op, std::int64_t c_in, std::int64_t kernel_in, std::int64_t c_out,
                    std::int64_t groups, const std::string& operands) {
  ELEGY_CHECK(groups >= 1, op, "groups must be >= 1, got ", groups, " (", operands, ")");
  ELEGY_CHECK(c_in > 0 && c_out > 0, op, "channel counts must be positive (", operands, ")");
  ELEGY_CHECK(c_in % groups == 0 && c_out % groups == 0, op, "groups = ", groups,
              " must divide the input channels (", c_in, ") and the output channels (", c_out,
              ") (", operands, ")");
  ELEGY_CHECK(kernel_in * groups == c_in, op, "the kernel expects ", kernel_in, " * ", groups,
              " (groups) input channels but the input has ", c_in, " (", operands, ")");
}

std::string operands_of(const char* a_name, const Tensor& a, const char* b_name, const Tensor& b) {
  return std::string(a_name) + " " + describe(a) + ", " + b_name + " " + describe(b);
}

Shape image_shape(std::int64_t batch, const ConvGeometry& g, int dims, std::int64_t channels,
                  bool output) {
  Shape s{batch};
  for (int i = kMaxSpatial - dims; i < kMaxSpatial; ++i) s.push_back(output ? g.out[i] : g.in[i]);
  s.push_back(channels);
  return s;
}

using autodiff::dense;  // dense operands for the GEMMs

}  // namespace

namespace {

// conv(x, w) followed by the epilogue act(out + b) on each chunk of rows (see conv_bias_act).
Tensor conv_with_epilogue(const char* op, const Tensor& x, const Tensor& w, const Tensor& b,
                          const ConvOptions& options, FusedActivation act) {
  const int dims = check_operands(op, x, "x", w, "w", true);
  const std::string operands = operands_of("x", x, "w", w);
  check_channels(op, x.shape(-1), w.shape(-2), w.shape(-1), options.groups, operands);
  const std::vector<std::int64_t> kernel = spatial_of(w, 0);
  const ConvGeometry g =
      geometry(op, x.shape(0), spatial_of(x, 1), x.shape(-1), kernel, options, operands);
  Tensor out =
      Tensor::empty(image_shape(x.shape(0), g, dims, w.shape(-1), true), x.dtype(), x.device());
  if (b.defined()) autodiff::check_bias(op, out, b);
  autodiff::conv::forward(x, dense(w), out, g, {b.defined() ? dense(b) : b, act});
  const bool has_b = b.defined();
  if (autodiff::is_recording() && (x.node() || w.node() || (has_b && b.node()))) {
    std::vector<Tensor> inputs{x, w};
    if (has_b) inputs.push_back(b);
    autodiff::record(
        op, out, inputs,
        [x, w, options, act, has_b, g](const Tensor& gy, const Tensor& o) {
          Tensor dx, dw, db;
          // Nothing records this backward (no grad of grad): one fused sweep where it applies.
          if (!autodiff::is_recording() &&
              autodiff::conv::fused_backward(x, w, gy, o, act, g, x.node() ? &dx : nullptr,
                                             w.node() ? &dw : nullptr, has_b ? &db : nullptr)) {
            autodiff::Cotangents c{dx, dw};
            if (has_b) c.push_back(db);
            return c;
          }
          const Tensor gz = autodiff::activation_grad(gy, o, act);
          if (x.node()) dx = conv_backward_input(gz, w, spatial_of(x, 1), options);
          if (w.node()) dw = conv_backward_filter(x, gz, spatial_of(w, 0), options);
          autodiff::Cotangents c{dx, dw};
          if (has_b) c.push_back(autodiff::bias_grad(gz));
          return c;
        },
        /*keep_output=*/act == FusedActivation::relu);
  }
  return out;
}

}  // namespace

void set_conv_winograd(bool enabled) {
  kernels::conv_winograd::set_winograd_enabled(enabled);
}
bool conv_winograd() {
  return kernels::conv_winograd::winograd_enabled();
}

Tensor conv(const Tensor& x, const Tensor& w, const ConvOptions& options) {
  return conv_with_epilogue("conv", x, w, Tensor(), options, FusedActivation::none);
}

Tensor conv_bias_act(const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& options,
                     FusedActivation act) {
  return conv_with_epilogue("conv_bias_act", x, w, b, options, act);
}

Tensor conv_backward_input(const Tensor& g, const Tensor& w,
                           std::span<const std::int64_t> input_spatial,
                           const ConvOptions& options) {
  const char* op = "conv_backward_input";
  const int dims = check_operands(op, g, "g", w, "w", true);
  const std::string operands = operands_of("g", g, "w", w);
  ELEGY_CHECK(int(input_spatial.size()) == dims, op, "input_spatial ", list(input_spatial), " has ",
              input_spatial.size(), " entries for ", dims, " spatial dims (", operands, ")");
  ELEGY_CHECK(g.shape(-1) == w.shape(-1), op, "g has ", g.shape(-1),
              " channels but the kernel produces ", w.shape(-1), " (", operands, ")");
  const std::int64_t c_in = w.shape(-2) * options.groups;
  check_channels(op, c_in, w.shape(-2), w.shape(-1), options.groups, operands);
  const ConvGeometry geo =
      geometry(op, g.shape(0), input_spatial, c_in, spatial_of(w, 0), options, operands);
  const Shape expected = image_shape(g.shape(0), geo, dims, g.shape(-1), true);
  ELEGY_CHECK(expected == g.shape(), op, "a conv of input spatial size ", list(input_spatial),
              " gives an output of shape ", expected, ", not g's (", operands, ")");
  Tensor dx = Tensor::empty(image_shape(g.shape(0), geo, dims, c_in, false), g.dtype(), g.device());
  autodiff::conv::input_grad(dense(g), dense(w), dx, geo);
  if (autodiff::should_record(g, w)) {
    autodiff::record(op, dx, {&g, &w}, [g, w, options](const Tensor& h, const Tensor&) {
      Tensor dg, dw;
      if (g.node()) dg = conv(h, w, options);
      if (w.node()) dw = conv_backward_filter(h, g, spatial_of(w, 0), options);
      return autodiff::Cotangents{dg, dw};
    });
  }
  return dx;
}

Tensor conv_backward_filter(const Tensor& x, const Tensor& g,
                            std::span<const std::int64_t> kernel_spatial,
                            const ConvOptions& options) {
  const char* op = "conv_backward_filter";
  const int dims = check_operands(op, x, "x", g, "g", false);
  const std::string operands = operands_of("x", x, "g", g);
  ELEGY_CHECK(int(kernel_spatial.size()) == dims, op, "kernel_spatial ", list(kernel_spatial),
              " has ", kernel_spatial.size(), " entries for ", dims, " spatial dims (", operands,
              ")");
  ELEGY_CHECK(options.groups >= 1 && x.shape(-1) % options.groups == 0, op,
              "groups = ", options.groups, " must divide the input channels (", operands, ")");
  const std::int64_t kernel_in = x.shape(-1) / options.groups;
  check_channels(op, x.shape(-1), kernel_in, g.shape(-1), options.groups, operands);
  const ConvGeometry geo =
      geometry(op, x.shape(0), spatial_of(x, 1), x.shape(-1), kernel_spatial, options, operands);
  const Shape expected = image_shape(x.shape(0), geo, dims, g.shape(-1), true);
  ELEGY_CHECK(expected == g.shape(), op, "a conv of x with kernel size ", list(kernel_spatial),
              " gives an output of shape ", expected, ", not g's (", operands, ")");
  Shape w_shape(kernel_spatial);
  w_shape.push_back(kernel_in);
  w_shape.push_back(g.shape(-1));
  Tensor dw = Tensor::empty(w_shape, x.dtype(), x.device());
  autodiff::conv::filter_grad(x, dense(g), dw, geo);
  if (autodiff::should_record(x, g)) {
    autodiff::record(op, dw, {&x, &g}, [x, g, options](const Tensor& h, const Tensor&) {
      Tensor dx, dg;
      if (x.node()) dx = conv_backward_input(g, h, spatial_of(x, 1), options);
      if (g.node()) dg = conv(x, h, options);
      return autodiff::Cotangents{dx, dg};
    });
  }
  return dw;
}

Tensor conv_transpose(const Tensor& x, const Tensor& w, const ConvTransposeOptions& options) {
  const char* op = "conv_transpose";
  const int dims = check_operands(op, x, "x", w, "w", true);
  const std::string operands = operands_of("x", x, "w", w);
  ELEGY_CHECK(w.shape(-2) == x.shape(-1), op, "x has ", x.shape(-1),
              " channels but the kernel [*kernel, C_in, C_out] expects ", w.shape(-2), " (",
              operands, ")");
  ConvGeometry g;
  std::int64_t pad_hi[kMaxSpatial] = {0, 0, 0};
  apply_window(op, dims, options.strides, options.padding, options.dilation, g, pad_hi, operands);
  std::vector<std::int64_t> out(static_cast<std::size_t>(dims));
  for (int i = 0; i < dims; ++i) {
    const int s = kMaxSpatial - dims + i;
    const std::int64_t dilated = (w.shape(i) - 1) * g.dilation[s] + 1;
    out[std::size_t(i)] = (x.shape(1 + i) - 1) * g.stride[s] + dilated - g.pad_lo[s] - pad_hi[s];
    ELEGY_CHECK(w.shape(i) >= 1 && out[std::size_t(i)] >= 1, op, "spatial dim ", i,
                ": the output size (", x.shape(1 + i), " - 1) * ", g.stride[s], " + ", dilated,
                " - ", g.pad_lo[s], " - ", pad_hi[s], " is not positive (", operands, ")");
  }
  return conv_backward_input(x, swapaxes(w, -1, -2), out,
                             {options.strides, options.padding, options.dilation, 1});
}

std::vector<std::pair<std::int64_t, std::int64_t>> conv_padding(
    Padding padding, std::span<const std::int64_t> input_spatial,
    std::span<const std::int64_t> kernel_spatial, std::span<const std::int64_t> strides,
    std::span<const std::int64_t> dilation) {
  const std::size_t dims = input_spatial.size();
  ELEGY_CHECK(kernel_spatial.size() == dims && (strides.empty() || strides.size() == dims) &&
                  (dilation.empty() || dilation.size() == dims),
              "conv_padding", "input ", list(input_spatial), ", kernel ", list(kernel_spatial),
              ", strides ", list(strides), " and dilation ", list(dilation),
              " must have one entry per spatial dim (strides and dilation may be empty)");
  std::vector<std::pair<std::int64_t, std::int64_t>> pads(dims, {0, 0});
  if (padding == Padding::valid) return pads;
  for (std::size_t i = 0; i < dims; ++i) {
    const std::int64_t stride = strides.empty() ? 1 : strides[i];
    const std::int64_t dilated = (kernel_spatial[i] - 1) * (dilation.empty() ? 1 : dilation[i]) + 1;
    ELEGY_CHECK(stride >= 1 && dilated >= 1, "conv_padding",
                "strides, kernel sizes and dilation must be >= 1, got kernel ",
                list(kernel_spatial), ", strides ", list(strides), ", dilation ", list(dilation));
    const std::int64_t out = (input_spatial[i] + stride - 1) / stride;
    const std::int64_t total =
        std::max<std::int64_t>((out - 1) * stride + dilated - input_spatial[i], 0);
    pads[i] = {total / 2, total - total / 2};
  }
  return pads;
}

std::vector<std::pair<std::int64_t, std::int64_t>> conv_transpose_padding(
    Padding padding, std::span<const std::int64_t> kernel_spatial,
    std::span<const std::int64_t> strides, std::span<const std::int64_t> dilation) {
  const std::size_t dims = kernel_spatial.size();
  ELEGY_CHECK(
      (strides.empty() || strides.size() == dims) && (dilation.empty() || dilation.size() == dims),
      "conv_transpose_padding", "kernel ", list(kernel_spatial), ", strides ", list(strides),
      " and dilation ", list(dilation),
      " must have one entry per spatial dim (strides and dilation may be empty)");
  std::vector<std::pair<std::int64_t, std::int64_t>> pads(dims);
  for (std::size_t i = 0; i < dims; ++i) {
    const std::int64_t s = strides.empty() ? 1 : strides[i];
    const std::int64_t k = (kernel_spatial[i] - 1) * (dilation.empty() ? 1 : dilation[i]) + 1;
    ELEGY_CHECK(s >= 1 && k >= 1, "conv_transpose_padding",
                "strides, kernel sizes and dilation must be >= 1, got kernel ",
                list(kernel_spatial), ", strides ", list(strides), ", dilation ", list(dilation));
    // lax.conv_transpose's _conv_transpose_padding, then mapped to this op's convention.
    std::int64_t total, lo;
    if (padding == Padding::same) {
      total = k + s - 2;
      lo = s > k - 1 ? k - 1 : (total + 1) / 2;
    } else {
      total = k + s - 2 + std::max<std::int64_t>(k - s, 0);
      lo = k - 1;
    }
    pads[i] = {k - 1 - lo, k - 1 - (total - lo)};
  }
  return pads;
}

}  // namespace elegy
