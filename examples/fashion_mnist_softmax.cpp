// The main job until the Model layer lands: a softmax classifier on the real Fashion-MNIST,
// trained with value_and_grad and plain SGD, printing loss and test accuracy per epoch.
//
//   fashion_mnist_softmax [--epochs N] [--batch-size B] [--lr LR] [--data DIR] [--device cpu|cuda]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <elegy/elegy.hpp>

using namespace elegy;

namespace {

struct Options {
  int epochs = 5;
  std::int64_t batch_size = 128;
  double lr = 0.1;
  std::string data = "/usr/share/datasets/fashion-mnist";
  Device device = Device::cpu();
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--epochs")
      o.epochs = std::atoi(value.c_str());
    else if (flag == "--batch-size")
      o.batch_size = std::atoll(value.c_str());
    else if (flag == "--lr")
      o.lr = std::atof(value.c_str());
    else if (flag == "--data")
      o.data = value;
    else if (flag == "--device")
      o.device = value == "cuda" ? Device::cuda() : Device::cpu();
    else
      fail("fashion_mnist_softmax", "unknown flag ", flag);
  }
  return o;
}

// Images [N,28,28] uint8 -> float32 [N,784] in [0,1].
Tensor preprocess(const Tensor& images) {
  return reshape(images, {images.shape(0), -1}).astype(DType::f32) / 255.0;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  return mean(-sum(one_hot(labels, 10) * log_softmax(logits, -1), -1));
}

}  // namespace

int main(int argc, char** argv) try {
  const Options opt = parse(argc, argv);
  const auto t0 = std::chrono::steady_clock::now();
  const data::datasets::Split ds = data::datasets::fashion_mnist(opt.data);
  const Tensor x_train = preprocess(ds.x_train).to(opt.device);
  const Tensor y_train = ds.y_train.to(opt.device);
  const Tensor x_test = preprocess(ds.x_test).to(opt.device);
  const Tensor y_test = ds.y_test.to(opt.device);
  const std::int64_t n = x_train.shape(0);
  std::printf("Fashion-MNIST: %lld train, %lld test images, loaded in %.2f s\n", (long long)n,
              (long long)x_test.shape(0),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  Tree params{{"w", zeros({784, 10}, DType::f32, opt.device)},
              {"b", zeros({10}, DType::f32, opt.device)}};
  Key key(0);
  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    key = fold_in(key, std::uint32_t(epoch));
    const Tensor order = random::permutation(key, n, opt.device);
    double loss_sum = 0;
    std::int64_t steps = 0;
    for (std::int64_t b = 0; b < n; b += opt.batch_size) {
      const Tensor idx = slice(order, b, std::min(b + opt.batch_size, n));
      const Tensor x = take(x_train, idx), y = take(y_train, idx);
      auto [loss, grads] = value_and_grad(
          [&](const Tree& p) { return cross_entropy(matmul(x, p["w"]) + p["b"].tensor(), y); },
          params);
      params = Tree::map2([&](const Tensor& p, const Tensor& g) { return p - opt.lr * g; }, params,
                          grads);
      loss_sum += loss.item<double>();
      ++steps;
    }
    NoGrad no_grad;
    const Tensor logits = matmul(x_test, params["w"]) + params["b"].tensor();
    const float accuracy = mean(astype(argmax(logits, -1) == y_test, DType::f32)).item<float>();
    const float test_loss = cross_entropy(logits, y_test).item<float>();
    std::printf("epoch %d/%d - %.2f s - loss: %.4f - test_loss: %.4f - test_accuracy: %.4f\n",
                epoch, opt.epochs,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                loss_sum / double(steps), test_loss, accuracy);
  }
  return 0;
} catch (const elegy::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
