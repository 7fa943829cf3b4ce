// Data loading: an in-memory Dataset, a DataLoader over it (batch size, a seeded shuffle per
// epoch, drop_last, background prefetch), and a GeneratorLoader for data that does not fit in
// memory (any callable producing batches). Both prefetch on one worker thread through a bounded
// queue: at most `prefetch` batches wait, so a slow training step never makes memory grow, and an
// exception on the worker is rethrown to the consumer with its message.
//
//   data::DataLoader loader(data::Dataset(x, y), {.batch_size = 64, .shuffle = true});
//   for (int epoch = 0; epoch < 3; ++epoch)
//     for (const data::DataBatch& b : loader.epoch(epoch)) model.train_on_batch(b.x, b.y);
//   model.fit({.epochs = 3, .loader = std::make_shared<data::DataLoader>(loader)});
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "elegy/core/random.hpp"
#include "elegy/core/tree.hpp"

namespace elegy::data {

struct DataBatch {
  Tree x{};
  Tree y{};
  std::optional<Tensor> sample_weight{};
  std::int64_t size() const;  // rows (the first dim of x's first leaf)
};

// Trees whose leaves share their first (sample) dimension.
class Dataset {
 public:
  Dataset(Tree x, Tree y = {}, std::optional<Tensor> sample_weight = std::nullopt);
  std::int64_t size() const { return n_; }
  DataBatch rows(std::int64_t begin, std::int64_t end) const;  // views, no copy
  DataBatch gather(const Tensor& indices) const;               // int64 row indices

 private:
  Tree x_, y_;
  std::optional<Tensor> sample_weight_;
  std::int64_t n_;
};

// Batches of one epoch, one at a time; nullopt ends the epoch.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual void start_epoch(int epoch) = 0;
  virtual std::optional<DataBatch> next() = 0;
  // Batches per epoch, when known.
  virtual std::optional<std::int64_t> size() const = 0;
  // Batches to prepare ahead on a worker thread when iterated by fit (0: on the caller's thread).
  virtual int prefetch_depth() const { return 0; }
};

class Prefetcher;

// Iterates one epoch of a source (through the prefetch thread when enabled).
class EpochRange {
 public:
  class iterator {
   public:
    using value_type = DataBatch;
    using difference_type = std::ptrdiff_t;
    const DataBatch& operator*() const { return *current_; }
    iterator& operator++();
    bool operator==(const iterator& other) const { return range_ == other.range_; }

   private:
    friend class EpochRange;
    EpochRange* range_ = nullptr;
    std::optional<DataBatch> current_;
  };
  iterator begin();
  iterator end() { return {}; }
  std::optional<DataBatch> next();

  // Reads `source` directly, or through `prefetcher` (which started the epoch itself). The
  // source must outlive the range.
  EpochRange(BatchSource* source, std::shared_ptr<Prefetcher> prefetcher);

 private:
  BatchSource* source_;
  std::shared_ptr<Prefetcher> prefetcher_;
};

struct DataLoaderOptions {
  std::int64_t batch_size = 32;
  bool shuffle = false;
  Key key = Key(0);        // the shuffle of epoch e is a permutation drawn from fold_in(key, e)
  bool drop_last = false;  // skip a last, smaller batch
  int prefetch = 2;        // batches prepared ahead on a worker thread; 0 = on the caller's
};

class DataLoader : public BatchSource {
 public:
  DataLoader(Dataset dataset, DataLoaderOptions options = {});
  EpochRange epoch(int epoch);

  void start_epoch(int epoch) override;
  std::optional<DataBatch> next() override;
  std::optional<std::int64_t> size() const override;
  int prefetch_depth() const override { return options_.prefetch; }
  const DataLoaderOptions& options() const { return options_; }

 private:
  Dataset dataset_;
  DataLoaderOptions options_;
  std::optional<Tensor> order_;
  std::int64_t position_ = 0;
};

// Batches from any callable: called with the epoch at its start, then until it returns nullopt.
class GeneratorLoader : public BatchSource {
 public:
  using Generator = std::function<std::optional<DataBatch>()>;
  // `make_epoch(e)` returns the generator of epoch e.
  GeneratorLoader(std::function<Generator(int epoch)> make_epoch,
                  std::optional<std::int64_t> batches_per_epoch = std::nullopt, int prefetch = 2);
  EpochRange epoch(int epoch);

  void start_epoch(int epoch) override;
  std::optional<DataBatch> next() override;
  std::optional<std::int64_t> size() const override { return size_; }
  int prefetch_depth() const override { return prefetch_; }

 private:
  std::function<Generator(int)> make_epoch_;
  Generator current_;
  std::optional<std::int64_t> size_;
  int prefetch_;
};

// The loader's batches of `epoch` through a bounded prefetch queue of `depth` batches.
EpochRange prefetched_epoch(BatchSource& source, int epoch, int depth);

}  // namespace elegy::data
