// add_noise: annealed Gaussian gradient noise (optax/transforms/_adding.py).
#include <cmath>
#include <cstring>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/detail.hpp"
#include "elegy/optim/transforms.hpp"

namespace elegy::optim {

namespace {

constexpr const char* kOp = "add_noise";

// The key's two 32-bit words, stored bit for bit as an int32[2] tensor on the CPU.
Tensor key_tensor(const Key& key) {
  std::vector<std::int32_t> words(2);
  std::memcpy(words.data(), key.words().data(), sizeof(std::uint32_t) * 2);
  return Tensor::from_vector(words, Shape{2});
}

Key read_key(const OptState& state) {
  const Tensor& t = state["rng_key"].tensor();
  ELEGY_CHECK(t.dtype() == DType::i32 && t.numel() == 2 && t.device().is_cpu(), kOp,
              "the state's rng_key must be an int32[2] tensor on the cpu, got ", describe(t),
              "; pass the state that init (or the previous update) returned");
  std::uint32_t w[2];
  std::memcpy(w, t.data<std::int32_t>(), sizeof(w));
  return Key::from_words(w[0], w[1]);
}

}  // namespace

GradientTransformation add_noise(double eta, double gamma, AddNoiseOptions options) {
  detail::check_finite_nonnegative(kOp, "eta", eta);
  detail::check_finite_nonnegative(kOp, "gamma", gamma);
  return {[key = options.key](const Tree&) {
            return Tree{{"count", detail::make_count(0)}, {"rng_key", key_tensor(key)}};
          },
          [eta, gamma](const Tree& updates, const OptState& state, const Tree&) {
            detail::check_state_keys(kOp, state, {"count", "rng_key"});
            const std::int32_t count = detail::safe_increment(detail::read_count(kOp, state));
            const auto [next_key, sample_key] = split(read_key(state));
            // sqrt(eta / count^gamma), in float32 as optax computes it.
            const float variance =
                float(eta) / float(std::pow(double(count), double(float(gamma))));
            const double stddev = std::sqrt(variance);
            autodiff::NoGrad no_grad;
            const std::vector<Tensor> leaves = updates.leaves();
            const std::vector<Key> keys =
                leaves.empty() ? std::vector<Key>{} : split(sample_key, int(leaves.size()));
            std::vector<Tensor> out(leaves.size());
            for (std::size_t i = 0; i < leaves.size(); ++i) {
              const Tensor& g = leaves[i];
              out[i] = g + random::normal(keys[i], g.shape(), g.dtype(), g.device()) * stddev;
            }
            return UpdateResult{updates.unflatten(out), Tree{{"count", detail::make_count(count)},
                                                             {"rng_key", key_tensor(next_key)}}};
          }};
}

}  // namespace elegy::optim
