// What the libtorch twins of examples/mlp.cpp and examples/cnn.cpp share: the command line, the
// Fashion-MNIST IDX files, Haiku's default initialisation, and a training loop that does the work
// elegy's Model::fit does in those examples (shuffled batches with the last partial one, a
// cosine-decayed learning rate set before every update, the training loss and accuracy as
// sample-weighted running means, validation on the test set after every epoch) and prints the
// examples' final line in the same format, so bench/mains/run.py parses both alike.
//
// libtorch and zlib only: no elegy header, the twins are what a libtorch user would write.
#pragma once

#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <numbers>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// libtorch 1.13's set_num_threads sizes its OpenMP pool only; its GEMMs run on OpenBLAS's own
// threads (as bench/train/torch_train.cpp).
extern "C" void openblas_set_num_threads(int num_threads);

namespace elegy::bench::mains {

// ---- command line -------------------------------------------------------------------------------

// The examples' flags (examples/train_flags.hpp) plus --threads.
struct Flags {
  int epochs = 10;
  std::int64_t batch_size = 64;
  std::string data = "/usr/share/datasets/fashion-mnist";
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
};

inline Flags parse_flags(const char* program, int argc, char** argv) {
  const auto fail = [program](const std::string& why) {
    throw std::runtime_error(std::string(program) + ": " + why +
                             " (usage: --epochs N --batch-size B --data DIR --threads N)");
  };
  const auto integer = [&](const std::string& flag, const std::string& value) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != value.size()) fail(flag + " needs an integer, got '" + value + "'");
    return v;
  };
  Flags f;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) fail("flag " + flag + " has no value");
    const std::string value = argv[i + 1];
    if (flag == "--epochs")
      f.epochs = int(integer(flag, value));
    else if (flag == "--batch-size")
      f.batch_size = integer(flag, value);
    else if (flag == "--data")
      f.data = value;
    else if (flag == "--threads")
      f.threads = int(integer(flag, value));
    else
      fail("unknown flag " + flag);
  }
  if (f.epochs < 1 || f.batch_size < 1 || f.threads < 1)
    fail("--epochs, --batch-size and --threads must be >= 1");
  return f;
}

// Both of libtorch's thread pools get `threads`, so "N threads" means N cores for libtorch as
// ELEGY_NUM_THREADS=N does for elegy.
inline void use_threads(int threads) {
  torch::set_num_threads(threads);
  openblas_set_num_threads(threads);
  std::printf("threads: %d (torch intra-op and OpenBLAS)\n", threads);
}

// ---- Fashion-MNIST ------------------------------------------------------------------------------

// One gzipped IDX file of unsigned bytes (the format of the four Fashion-MNIST files) as a uint8
// tensor of the shape its header gives.
inline torch::Tensor read_idx_u8(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file)
    throw std::runtime_error("read_idx_u8: cannot open '" + path +
                             "' (install dataset-fashion-mnist or pass --data DIR)");
  const auto read_exactly = [&](void* out, std::size_t bytes) {
    std::size_t done = 0;
    while (done < bytes) {
      const int got = gzread(file, static_cast<char*>(out) + done, unsigned(bytes - done));
      if (got <= 0) {
        gzclose(file);
        throw std::runtime_error("read_idx_u8: '" + path + "' ends early or is corrupt");
      }
      done += std::size_t(got);
    }
  };
  unsigned char magic[4];
  read_exactly(magic, 4);
  // Bytes 0-1 are zero, byte 2 the element type (0x08: unsigned byte), byte 3 the rank.
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] < 1 || magic[3] > 4) {
    gzclose(file);
    throw std::runtime_error("read_idx_u8: '" + path + "' is not an IDX file of unsigned bytes");
  }
  std::vector<std::int64_t> shape;
  for (int d = 0; d < magic[3]; ++d) {
    unsigned char be[4];  // each dimension is a big-endian uint32
    read_exactly(be, 4);
    shape.push_back(std::int64_t(be[0]) << 24 | std::int64_t(be[1]) << 16 |
                    std::int64_t(be[2]) << 8 | std::int64_t(be[3]));
  }
  torch::Tensor t = torch::empty(shape, torch::kUInt8);
  read_exactly(t.data_ptr<std::uint8_t>(), std::size_t(t.numel()));
  gzclose(file);
  return t;
}

// Images stay uint8 [N, 28, 28] (the networks scale them to [0, 1] per batch, as elegy's do);
// labels are int64, what cross_entropy takes.
struct Split {
  torch::Tensor x_train, y_train, x_test, y_test;
};

inline Split fashion_mnist(const std::string& dir) {
  return {read_idx_u8(dir + "/train-images-idx3-ubyte.gz"),
          read_idx_u8(dir + "/train-labels-idx1-ubyte.gz").to(torch::kInt64),
          read_idx_u8(dir + "/t10k-images-idx3-ubyte.gz"),
          read_idx_u8(dir + "/t10k-labels-idx1-ubyte.gz").to(torch::kInt64)};
}

// ---- initialisation -----------------------------------------------------------------------------

// Elegy's (Haiku's) default Linear / Conv kernel: truncated_normal(stddev = 1 / sqrt(fan_in)), a
// standard normal cut to [-2, 2] and scaled by the stddev, with no correction for the cut (so the
// values' standard deviation is 0.88 / sqrt(fan_in)). fan_in is the product of every kernel dim
// but the output one: in_features for Linear, in_channels * kh * kw for a conv. Drawn by inverse
// CDF: uniform over [erf(-2/sqrt2), erf(2/sqrt2)], then sqrt2 * erfinv.
inline void haiku_default_init_(const torch::Tensor& weight) {
  torch::NoGradGuard no_grad;
  const double fan_in = double(weight.numel() / weight.size(0));
  const double stddev = 1.0 / std::sqrt(fan_in);
  const double edge = std::erf(2.0 / std::numbers::sqrt2);
  weight.uniform_(-edge, edge).erfinv_().mul_(std::numbers::sqrt2).clamp_(-2.0, 2.0).mul_(stddev);
}

// Every Linear and Conv2d under `net` gets elegy's defaults: the kernel above and a zero bias.
inline void init_like_elegy(torch::nn::Module& net) {
  for (const std::shared_ptr<torch::nn::Module>& m : net.modules()) {
    if (auto* linear = m->as<torch::nn::Linear>()) {
      haiku_default_init_(linear->weight);
      if (linear->bias.defined()) torch::nn::init::zeros_(linear->bias);
    } else if (auto* conv = m->as<torch::nn::Conv2d>()) {
      haiku_default_init_(conv->weight);
      if (conv->bias.defined()) torch::nn::init::zeros_(conv->bias);
    }
  }
}

// ---- training -----------------------------------------------------------------------------------

// optax.cosine_decay_schedule(init_value, decay_steps) with alpha 0, at update number `count`
// (0 for the first update).
inline double cosine_decay(double init_value, std::int64_t count, std::int64_t decay_steps) {
  const double t = double(std::min(count, decay_steps));
  return init_value * 0.5 * (1.0 + std::cos(std::numbers::pi * t / double(decay_steps)));
}

struct Metrics {
  double loss = 0.0;      // sample-weighted mean over the pass (Keras's running mean)
  double accuracy = 0.0;  // fraction of argmax(logits) == label
};

// Sums of a pass's per-batch loss (weighted by batch size) and correct predictions.
class RunningMetrics {
 public:
  void add(const torch::Tensor& loss, const torch::Tensor& logits, const torch::Tensor& y) {
    const std::int64_t n = y.size(0);
    loss_sum_ += loss.item<double>() * double(n);
    correct_ += logits.argmax(1).eq(y).sum().item<std::int64_t>();
    count_ += n;
  }
  Metrics value() const { return {loss_sum_ / double(count_), double(correct_) / double(count_)}; }

 private:
  double loss_sum_ = 0.0;
  std::int64_t correct_ = 0, count_ = 0;
};

// The Model's loss: sparse categorical cross-entropy from logits (mean over the batch) plus,
// when l2 > 0, elegy's regularizers::GlobalL2(l2) = l2 * sum of p^2 over every parameter.
struct Loss {
  std::vector<torch::Tensor> params;
  double l2 = 0.0;
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& y) const {
    torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
    if (l2 > 0.0) {
      torch::Tensor squares = torch::zeros({}, logits.options());
      for (const torch::Tensor& p : params) squares = squares + p.square().sum();
      loss = loss + l2 * squares;
    }
    return loss;
  }
};

// Model::evaluate: eval mode (BatchNorm's averages, no Dropout), no graph, batches in order.
template <class Net>
Metrics evaluate(Net& net, const Loss& loss_fn, const torch::Tensor& x, const torch::Tensor& y,
                 std::int64_t batch_size) {
  net->eval();
  torch::NoGradGuard no_grad;
  RunningMetrics m;
  for (std::int64_t begin = 0; begin < x.size(0); begin += batch_size) {
    const std::int64_t end = std::min(begin + batch_size, x.size(0));
    const torch::Tensor xb = x.slice(0, begin, end), yb = y.slice(0, begin, end);
    const torch::Tensor logits = net->forward(xb);
    m.add(loss_fn(logits, yb), logits, yb);
  }
  return m.value();
}

// What examples/{mlp,cnn}.cpp time: fit for flags.epochs epochs (each a shuffled pass over the
// training set, learning rate 1e-3 cosine-decayed to 0 over the run, then validation on the test
// set), then a final evaluation outside the timing at Keras's default batch size of 32. Prints one
// line per epoch and the examples' final line.
template <class Net>
void fit_and_report(Net& net, torch::optim::Optimizer& optimizer, const Loss& loss_fn,
                    const Split& d, const Flags& flags) {
  const std::int64_t n = d.x_train.size(0);
  const std::int64_t steps_per_epoch = (n + flags.batch_size - 1) / flags.batch_size;
  const std::int64_t decay_steps = flags.epochs * steps_per_epoch;
  using Clock = std::chrono::steady_clock;
  const auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };

  std::int64_t updates = 0;
  const auto start = Clock::now();
  for (int epoch = 0; epoch < flags.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    net->train();
    RunningMetrics train;
    const torch::Tensor order = torch::randperm(n, torch::kInt64);  // elegy reshuffles every pass
    for (std::int64_t begin = 0; begin < n; begin += flags.batch_size) {
      const torch::Tensor rows = order.slice(0, begin, std::min(begin + flags.batch_size, n));
      const torch::Tensor xb = d.x_train.index_select(0, rows);
      const torch::Tensor yb = d.y_train.index_select(0, rows);
      for (torch::optim::OptimizerParamGroup& group : optimizer.param_groups())
        group.options().set_lr(cosine_decay(1e-3, updates, decay_steps));
      optimizer.zero_grad();
      const torch::Tensor logits = net->forward(xb);
      const torch::Tensor loss = loss_fn(logits, yb);
      loss.backward();
      optimizer.step();
      ++updates;
      train.add(loss.detach(), logits.detach(), yb);
    }
    const double train_seconds = seconds_since(epoch_start);
    const Metrics t = train.value();
    const Metrics v = evaluate(net, loss_fn, d.x_test, d.y_test, flags.batch_size);
    const double epoch_seconds = seconds_since(epoch_start);
    std::printf(
        "epoch %d/%d: loss %.4f - accuracy %.4f - val_loss %.4f - val_accuracy %.4f - %.2f s "
        "(train %.2f s, %.1f ms/step; validation %.2f s)\n",
        epoch + 1, flags.epochs, t.loss, t.accuracy, v.loss, v.accuracy, epoch_seconds,
        train_seconds, 1e3 * train_seconds / double(steps_per_epoch),
        epoch_seconds - train_seconds);
    std::fflush(stdout);
  }
  const double seconds = seconds_since(start);

  const Metrics final_test = evaluate(net, loss_fn, d.x_test, d.y_test, 32);
  std::printf("test accuracy: %.4f (loss %.4f) after %d epochs, %.2f s per epoch\n",
              final_test.accuracy, final_test.loss, flags.epochs, seconds / double(flags.epochs));
}

// The twins' main: flags, threads, a fixed seed, the data, then `train`; errors are one line on
// stderr and exit status 1, as the examples'.
inline int run_main(const char* program, int argc, char** argv,
                    const std::function<void(const Flags&, const Split&)>& train) {
  try {
    const Flags flags = parse_flags(program, argc, argv);
    use_threads(flags.threads);
    torch::manual_seed(0);
    train(flags, fashion_mnist(flags.data));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

}  // namespace elegy::bench::mains
