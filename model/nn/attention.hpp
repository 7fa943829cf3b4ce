// Attention. dot_product_attention is the op-level building block; MultiHeadAttention is
// Elegy's (TF-addons style) layer: per-head projections of query, key and value, scaled dot
// product attention with an optional mask, dropout on the attention weights, and an output
// projection.
#pragma once

#include <optional>

#include "elegy/model/nn/module.hpp"

namespace elegy {

// softmax(q @ k^T * scale + mask) @ v over the last two axes, q [..., Tq, D], k [..., Tk, D],
// v [..., Tk, Dv]; `mask` broadcasts to [..., Tq, Tk] and is true (non-zero) where attention is
// allowed. scale defaults to 1/sqrt(D). Returns [..., Tq, Dv].
Tensor dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                             const std::optional<Tensor>& mask = std::nullopt,
                             std::optional<double> scale = std::nullopt);

}  // namespace elegy

namespace elegy::nn {

struct MultiHeadAttentionOptions {
  std::optional<std::int64_t> output_size{};  // default: the query's feature size
  double dropout = 0.0;                       // on the attention weights, while training
  bool use_projection_bias = true;
  initializers::Initializer kernel_initializer{};  // empty: glorot_uniform (TF-addons' default)
  initializers::Initializer bias_initializer{};    // empty: zeros
  std::string name{};
};

class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(std::int64_t head_size, std::int64_t num_heads,
                     MultiHeadAttentionOptions options = {});
  // Self-attention: query = key = value = x.
  Tensor call(Context& ctx, const Tensor& x) override;
  // query [B, Tq, Dq], key [B, Tk, Dk] (default query), value [B, Tk, Dv] (default key); mask
  // broadcastable to [B, num_heads, Tq, Tk] or [B, Tq, Tk]. Returns [B, Tq, output_size].
  Tensor operator()(Context& ctx, const Tensor& query, const std::optional<Tensor>& key,
                    const std::optional<Tensor>& value = std::nullopt,
                    const std::optional<Tensor>& mask = std::nullopt);
  using Module::operator();
  std::string type_name() const override { return "MultiHeadAttention"; }

 private:
  Tensor attend(Context& ctx, const Tensor& query, const Tensor& key, const Tensor& value,
                const std::optional<Tensor>& mask);

  std::int64_t head_size_;
  std::int64_t num_heads_;
  MultiHeadAttentionOptions options_;
};

}  // namespace elegy::nn
