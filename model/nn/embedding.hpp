// Embedding (Haiku's hk.Embed): integer ids [...] -> vectors [..., embed_dim] from a
// [vocab_size, embed_dim] table, looked up by gathering rows (ARRAY_INDEX) or by a one-hot
// matrix product (ONE_HOT, faster for tiny vocabularies on some devices).
#pragma once

#include <optional>

#include "elegy/model/nn/module.hpp"

namespace elegy::nn {

enum class EmbedLookupStyle { array_index, one_hot };

struct EmbeddingOptions {
  initializers::Initializer w_init{};  // empty: truncated_normal(1.0) (Haiku's default)
  EmbedLookupStyle lookup_style = EmbedLookupStyle::array_index;
  std::optional<Tensor> embedding_matrix{};  // initial table (its shape sets vocab/embed dims)
  std::string name{};
};

class Embedding : public Module {
 public:
  Embedding(std::int64_t vocab_size, std::int64_t embed_dim, EmbeddingOptions options = {});
  // From an initial table [vocab_size, embed_dim].
  explicit Embedding(const Tensor& embedding_matrix, EmbeddingOptions options = {});
  Tensor call(Context& ctx, const Tensor& ids) override;
  std::string type_name() const override { return "Embedding"; }

 private:
  std::int64_t vocab_size_;
  std::int64_t embed_dim_;
  EmbeddingOptions options_;
};

}  // namespace elegy::nn
