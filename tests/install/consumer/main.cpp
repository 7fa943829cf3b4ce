// Trains nothing, but touches each layer through the installed headers and libraries:
// tensors, broadcasting, a matmul and a gradient.
#include <cmath>
#include <cstdio>

#include <elegy/elegy.hpp>

using namespace elegy;

int main() {
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  const Tensor w = ones({2, 1});
  auto [value, grads] = value_and_grad(
      [&](const Tree& p) { return sum(square(matmul(x, p["w"]) + 1.0)); }, Tree{{"w", w}});
  // f(w) = sum((x w + 1)^2) at w = 1: rows 1+2+1 = 4 and 3+4+1 = 8 -> 16 + 64 = 80.
  // df/dw = 2 x^T (x w + 1) = 2 * [1*4 + 3*8, 2*4 + 4*8] = [56, 80].
  const auto g = grads["w"].tensor().to_vector<float>();
  const bool ok = std::abs(value.item<float>() - 80.f) < 1e-4f && std::abs(g[0] - 56.f) < 1e-4f &&
                  std::abs(g[1] - 80.f) < 1e-4f;
  std::printf("installed elegy: value %.1f, grad [%.1f, %.1f] -> %s\n", value.item<float>(), g[0],
              g[1], ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
