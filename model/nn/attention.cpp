#include "elegy/model/nn/attention.hpp"

#include <cmath>

#include "elegy/autodiff/ops_dropout.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_linalg.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/error.hpp"

namespace elegy {

Tensor dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                             const std::optional<Tensor>& mask, std::optional<double> scale) {
  ELEGY_CHECK(q.ndim() >= 2 && k.ndim() == q.ndim() && v.ndim() == q.ndim(),
              "dot_product_attention", "q, k, v must share a rank >= 2, got ", describe(q), ", ",
              describe(k), ", ", describe(v));
  const int r = q.ndim();
  ELEGY_CHECK(q.shape()[r - 1] == k.shape()[r - 1] && k.shape()[r - 2] == v.shape()[r - 2],
              "dot_product_attention",
              "needs q [..., Tq, D], k [..., Tk, D], v [..., Tk, Dv], got ", describe(q), ", ",
              describe(k), ", ", describe(v));
  const double s = scale ? *scale : 1.0 / std::sqrt(double(q.shape()[r - 1]));
  Tensor logits = matmul(q * s, swapaxes(k, -1, -2));
  if (mask) {
    // Masked logits get the dtype's lowest finite value, not -inf: a fully masked row then
    // softmaxes to uniform instead of NaN.
    const double lowest = q.dtype() == DType::f64 ? -1.7976931348623157e308 : -3.4028234e38;
    const Tensor allowed = mask->dtype() == DType::bool_ ? *mask : (*mask != 0.0);
    logits = where(allowed, logits, lowest);
  }
  return matmul(softmax(logits, -1), v);
}

}  // namespace elegy

namespace elegy::nn {

MultiHeadAttention::MultiHeadAttention(std::int64_t head_size, std::int64_t num_heads,
                                       MultiHeadAttentionOptions options)
    : Module(options.name),
      head_size_(head_size),
      num_heads_(num_heads),
      options_(std::move(options)) {
  ELEGY_CHECK(head_size > 0 && num_heads > 0, "nn::MultiHeadAttention",
              "head_size and num_heads must be positive, got ", head_size, " and ", num_heads);
  ELEGY_CHECK(options_.dropout >= 0.0 && options_.dropout < 1.0, "nn::MultiHeadAttention",
              "dropout must be in [0, 1), got ", options_.dropout);
}

Tensor MultiHeadAttention::call(Context& ctx, const Tensor& x) {
  return attend(ctx, x, x, x, std::nullopt);
}

Tensor MultiHeadAttention::operator()(Context& ctx, const Tensor& query,
                                      const std::optional<Tensor>& key,
                                      const std::optional<Tensor>& value,
                                      const std::optional<Tensor>& mask) {
  const Tensor k = key ? *key : query;
  const Tensor v = value ? *value : k;
  return scoped(ctx, [&] { return attend(ctx, query, k, v, mask); });
}

Tensor MultiHeadAttention::attend(Context& ctx, const Tensor& query, const Tensor& key,
                                  const Tensor& value, const std::optional<Tensor>& mask) {
  for (const Tensor* t : {&query, &key, &value})
    ELEGY_CHECK(t->ndim() == 3 && is_floating(t->dtype()), "nn::MultiHeadAttention", "at '",
                ctx.path(), "' expects float [batch, time, features] inputs, got ", describe(*t));
  ELEGY_CHECK(key.shape()[0] == query.shape()[0] && value.shape()[0] == query.shape()[0] &&
                  key.shape()[1] == value.shape()[1],
              "nn::MultiHeadAttention", "at '", ctx.path(),
              "': query, key and value must share the batch, and key and value the time axis; "
              "got ",
              describe(query), ", ", describe(key), ", ", describe(value));
  const std::int64_t b = query.shape()[0], tq = query.shape()[1];
  const std::int64_t out_size = options_.output_size ? *options_.output_size : query.shape()[2];
  const initializers::Initializer kinit =
      options_.kernel_initializer ? options_.kernel_initializer : initializers::glorot_uniform();
  const DType dt = query.dtype();
  const std::int64_t h = num_heads_, hs = head_size_;

  // Kernels stored per head ([features, heads, head_size]) as TF-addons does; used flattened.
  auto project = [&](const char* name, const Tensor& x) {
    const Tensor w = ctx.param(name, Shape{x.shape()[2], h, hs}, kinit, dt);
    const Tensor y = matmul(x, reshape(w, Shape{x.shape()[2], h * hs}));        // [B, T, H*hs]
    return transpose(reshape(y, Shape{b, x.shape()[1], h, hs}), {0, 2, 1, 3});  // [B, H, T, hs]
  };
  const Tensor q = project("query_kernel", query);
  const Tensor k = project("key_kernel", key);
  const Tensor v = project("value_kernel", value);

  const double scale = 1.0 / std::sqrt(double(hs));
  Tensor logits = matmul(q * scale, swapaxes(k, -1, -2));  // [B, H, Tq, Tk]
  if (mask) {
    Tensor m = *mask;
    if (m.ndim() == 3) m = expand_dims(m, 1);  // [B, Tq, Tk] -> [B, 1, Tq, Tk]
    const Tensor allowed = m.dtype() == DType::bool_ ? m : (m != 0.0);
    const double lowest = dt == DType::f64 ? -1.7976931348623157e308 : -3.4028234e38;
    logits = where(allowed, logits, lowest);
  }
  Tensor attn = softmax(logits, -1);
  if (options_.dropout > 0.0 && ctx.training())
    attn = dropout(ctx.next_key(), options_.dropout, attn);
  const Tensor heads = matmul(attn, v);  // [B, H, Tq, hs]
  const Tensor merged = reshape(transpose(heads, {0, 2, 1, 3}), Shape{b, tq, h * hs});
  const Tensor wo = ctx.param("projection_kernel", Shape{h, hs, out_size}, kinit, dt);
  Tensor out = matmul(merged, reshape(wo, Shape{h * hs, out_size}));
  if (options_.use_projection_bias)
    out = out +
          ctx.param("projection_bias", Shape{out_size},
                    options_.bias_initializer ? options_.bias_initializer : initializers::zeros(),
                    dt);
  return out;
}

}  // namespace elegy::nn
