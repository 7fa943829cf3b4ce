#include "elegy/model/nn/embedding.hpp"

#include "elegy/autodiff/deferred_checks.hpp"
#include "elegy/autodiff/ops_index.hpp"
#include "elegy/autodiff/ops_linalg.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/core/error.hpp"

namespace elegy::nn {

Embedding::Embedding(std::int64_t vocab_size, std::int64_t embed_dim, EmbeddingOptions options)
    : Module(options.name),
      vocab_size_(vocab_size),
      embed_dim_(embed_dim),
      options_(std::move(options)) {
  ELEGY_CHECK(vocab_size > 0 && embed_dim > 0, "nn::Embedding",
              "vocab_size and embed_dim must be positive, got ", vocab_size, " and ", embed_dim);
}

Embedding::Embedding(const Tensor& embedding_matrix, EmbeddingOptions options)
    : Module(options.name), options_(std::move(options)) {
  ELEGY_CHECK(embedding_matrix.defined() && embedding_matrix.ndim() == 2, "nn::Embedding",
              "embedding_matrix must be [vocab_size, embed_dim], got ", describe(embedding_matrix));
  vocab_size_ = embedding_matrix.shape()[0];
  embed_dim_ = embedding_matrix.shape()[1];
  options_.embedding_matrix = embedding_matrix;
}

Tensor Embedding::call(Context& ctx, const Tensor& ids) {
  ELEGY_CHECK(!is_floating(ids.dtype()) && ids.dtype() != DType::bool_, "nn::Embedding", "at '",
              ctx.path(), "' looks up integer ids, got ", describe(ids));
  initializers::Initializer init =
      options_.w_init ? options_.w_init : initializers::truncated_normal(1.0);
  if (options_.embedding_matrix) {
    const Tensor table = *options_.embedding_matrix;
    init = [table](const Key&, const Shape&, DType dtype, Device device) {
      return table.astype(dtype).to(device);
    };
  }
  const Tensor w = ctx.param("embeddings", Shape{vocab_size_, embed_dim_}, init);
  if (options_.lookup_style == EmbedLookupStyle::array_index)
    return take(w, ids, 0);  // take checks the ids' range itself
  if (ids.numel() > 0) {
    // An out-of-range id would give a silent zero row: [min, max] is checked, inside a Model
    // step on a GPU before the step writes anything (not stopping the host mid-step).
    check_range_later(
        ids, 0, vocab_size_,
        [path = ctx.path(), vocab = vocab_size_](std::int64_t lo, std::int64_t hi) {
          fail("nn::Embedding", "at '", path, "': ids must be in [0, ", vocab, "), got values in [",
               lo, ", ", hi, "]");
        },
        "nn::Embedding");
  }
  return matmul(one_hot(ids, vocab_size_, w.dtype()), w);
}

}  // namespace elegy::nn
