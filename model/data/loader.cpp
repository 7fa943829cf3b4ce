#include "elegy/model/data/loader.hpp"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/error.hpp"
#include "elegy/model/batches.hpp"

namespace elegy::data {

std::int64_t DataBatch::size() const {
  const std::vector<Tensor> leaves = x.leaves();
  return leaves.empty() || leaves.front().ndim() == 0 ? 0 : leaves.front().shape(0);
}

Dataset::Dataset(Tree x, Tree y, std::optional<Tensor> sample_weight)
    : x_(std::move(x)), y_(std::move(y)), sample_weight_(std::move(sample_weight)) {
  n_ = count_samples("Dataset", x_, y_, sample_weight_);
}

DataBatch Dataset::rows(std::int64_t begin, std::int64_t end) const {
  DataBatch b{slice_rows(x_, begin, end), slice_rows(y_, begin, end), std::nullopt};
  if (sample_weight_) b.sample_weight = slice(*sample_weight_, begin, end);
  return b;
}

DataBatch Dataset::gather(const Tensor& indices) const {
  DataBatch b{take_rows(x_, indices), take_rows(y_, indices), std::nullopt};
  if (sample_weight_) b.sample_weight = take_rows(Tree(*sample_weight_), indices).tensor();
  return b;
}

// One worker thread filling a bounded queue from the source, for one epoch.
class Prefetcher {
 public:
  Prefetcher(BatchSource* source, int epoch, int depth) : depth_(std::size_t(depth)) {
    worker_ = std::thread([this, source, epoch] {
      try {
        source->start_epoch(epoch);
        while (true) {
          std::optional<DataBatch> b = source->next();
          std::unique_lock<std::mutex> lock(mutex_);
          space_.wait(lock, [&] { return stop_ || queue_.size() < depth_; });
          if (stop_) return;
          if (!b) {
            done_ = true;
            ready_.notify_all();
            return;
          }
          queue_.push_back(std::move(*b));
          ready_.notify_all();
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        error_ = std::current_exception();
        done_ = true;
        ready_.notify_all();
      }
    });
  }
  ~Prefetcher() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    space_.notify_all();
    worker_.join();
  }
  std::optional<DataBatch> next() {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return !queue_.empty() || done_; });
    if (!queue_.empty()) {
      DataBatch b = std::move(queue_.front());
      queue_.pop_front();
      space_.notify_all();
      return b;
    }
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    return std::nullopt;
  }

 private:
  std::size_t depth_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<DataBatch> queue_;
  bool stop_ = false, done_ = false;
  std::exception_ptr error_;
  std::thread worker_;
};

EpochRange::EpochRange(BatchSource* source, std::shared_ptr<Prefetcher> prefetcher)
    : source_(source), prefetcher_(std::move(prefetcher)) {}

std::optional<DataBatch> EpochRange::next() {
  return prefetcher_ ? prefetcher_->next() : source_->next();
}

EpochRange::iterator EpochRange::begin() {
  iterator it;
  it.range_ = this;
  it.current_ = next();
  if (!it.current_) it.range_ = nullptr;
  return it;
}

EpochRange::iterator& EpochRange::iterator::operator++() {
  current_ = range_->next();
  if (!current_) range_ = nullptr;
  return *this;
}

EpochRange prefetched_epoch(BatchSource& source, int epoch, int depth) {
  ELEGY_CHECK(depth >= 0, "DataLoader", "prefetch must be >= 0, got ", depth);
  if (depth == 0) {
    source.start_epoch(epoch);
    return EpochRange(&source, nullptr);
  }
  return EpochRange(&source, std::make_shared<Prefetcher>(&source, epoch, depth));
}

DataLoader::DataLoader(Dataset dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  ELEGY_CHECK(options_.batch_size > 0, "DataLoader", "batch_size must be positive, got ",
              options_.batch_size);
  ELEGY_CHECK(options_.prefetch >= 0, "DataLoader", "prefetch must be >= 0, got ",
              options_.prefetch);
}

EpochRange DataLoader::epoch(int epoch) {
  return prefetched_epoch(*this, epoch, options_.prefetch);
}

void DataLoader::start_epoch(int epoch) {
  position_ = 0;
  order_.reset();
  if (options_.shuffle)
    order_ = random::permutation(fold_in(options_.key, std::uint32_t(epoch)), dataset_.size())
                 .astype(DType::i64);
}

std::optional<DataBatch> DataLoader::next() {
  const std::int64_t n = dataset_.size(), bs = options_.batch_size;
  if (position_ >= n) return std::nullopt;
  const std::int64_t end = std::min(position_ + bs, n);
  if (options_.drop_last && end - position_ < bs) return std::nullopt;
  DataBatch b =
      order_ ? dataset_.gather(slice(*order_, position_, end)) : dataset_.rows(position_, end);
  position_ = end;
  return b;
}

std::optional<std::int64_t> DataLoader::size() const {
  const std::int64_t n = dataset_.size(), bs = options_.batch_size;
  return options_.drop_last ? n / bs : (n + bs - 1) / bs;
}

GeneratorLoader::GeneratorLoader(std::function<Generator(int)> make_epoch,
                                 std::optional<std::int64_t> batches_per_epoch, int prefetch)
    : make_epoch_(std::move(make_epoch)), size_(batches_per_epoch), prefetch_(prefetch) {
  ELEGY_CHECK(make_epoch_ != nullptr, "GeneratorLoader", "needs a generator factory");
}

EpochRange GeneratorLoader::epoch(int epoch) {
  return prefetched_epoch(*this, epoch, prefetch_);
}

void GeneratorLoader::start_epoch(int epoch) {
  current_ = make_epoch_(epoch);
  ELEGY_CHECK(current_ != nullptr, "GeneratorLoader", "the factory returned no generator");
}

std::optional<DataBatch> GeneratorLoader::next() {
  ELEGY_CHECK(current_ != nullptr, "GeneratorLoader", "next() before start_epoch()");
  return current_();
}

}  // namespace elegy::data
