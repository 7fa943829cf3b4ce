// The GEMM floor of the MLP 784-512-512-10 step: the same matrix products the step does, called
// straight into OpenBLAS (cblas_sgemm, row-major, elegy's [in, out] weight layout), measured in
// the same run as the steps so the machine's state is the same.
//   mlp_b<B>_infer_gemms  forward:  y = x W for the three layers
//   mlp_b<B>_train_gemms  forward + dW = xᵀ dy (three layers) + dx = dy Wᵀ (layers 2 and 3):
//                         2·B·(2·784·512 + 3·512·512 + 3·512·10) FLOP (411 MFLOP at B = 128;
//                         issue 8's 514 MFLOP = 3 x forward also counts dx of the first layer,
//                         which no framework computes since the input needs no gradient)
//   sgemm_1024            a square 1024³ product, for the machine's sgemm GFLOP/s
// bench_train_gemm_floor [--threads N]; CSV `ref,case,threads,median_us` on stdout, GFLOP/s on
// stderr.
#include <cblas.h>  // OpenBLAS's: also declares openblas_set_num_threads

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "../peers/timing.hpp"

namespace {

using elegy::bench::median_us;
using elegy::bench::print_row;

struct Matrix {
  std::int64_t rows, cols;
  std::vector<float> v;
  Matrix(std::int64_t r, std::int64_t c) : rows(r), cols(c), v(std::size_t(r * c)) {
    std::mt19937 rng(std::uint32_t(r * 131 + c));
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (float& x : v) x = u(rng);
  }
};

// c = op(a) op(b) with the shapes taken from c and the transposes; returns its FLOP.
double gemm(const Matrix& a, bool ta, const Matrix& b, bool tb, Matrix& c) {
  const std::int64_t k = ta ? a.rows : a.cols;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              int(c.rows), int(c.cols), int(k), 1.0f, a.v.data(), int(a.cols), b.v.data(),
              int(b.cols), 0.0f, c.v.data(), int(c.cols));
  return 2.0 * double(c.rows) * double(c.cols) * double(k);
}

void report(const std::string& name, int threads, double us, double flop) {
  print_row("ref", name, threads, us);
  std::fprintf(stderr, "  ref %-24s %d thr %10.1f us %7.1f GFLOP/s\n", name.c_str(), threads, us,
               flop / (us * 1e3));
}

void mlp_floor(std::int64_t batch, int threads) {
  const std::int64_t sizes[] = {784, 512, 512, 10};
  std::vector<Matrix> acts, grads, weights, dweights;
  for (int l = 0; l < 4; ++l) {
    acts.emplace_back(batch, sizes[l]);   // layer inputs / output
    grads.emplace_back(batch, sizes[l]);  // their gradients
  }
  for (int l = 0; l < 3; ++l) {
    weights.emplace_back(sizes[l], sizes[l + 1]);
    dweights.emplace_back(sizes[l], sizes[l + 1]);
  }
  double fwd_flop = 0, train_flop = 0;
  auto forward = [&] {
    double f = 0;
    for (int l = 0; l < 3; ++l) f += gemm(acts[l], false, weights[l], false, acts[l + 1]);
    return f;
  };
  auto train = [&] {
    double f = forward();
    for (int l = 2; l >= 0; --l) {
      f += gemm(acts[l], true, grads[l + 1], false, dweights[l]);             // dW = xᵀ dy
      if (l > 0) f += gemm(grads[l + 1], false, weights[l], true, grads[l]);  // dx = dy Wᵀ
    }
    return f;
  };
  fwd_flop = forward();
  train_flop = train();
  const std::string name = "mlp_b" + std::to_string(batch);
  report(name + "_infer_gemms", threads, median_us([&] { forward(); }), fwd_flop);
  report(name + "_train_gemms", threads, median_us([&] { train(); }), train_flop);
}

}  // namespace

int main(int argc, char** argv) {
  const elegy::bench::Args args = elegy::bench::parse_args(argc, argv);
  openblas_set_num_threads(args.threads);
  for (std::int64_t batch : {32, 128, 512}) mlp_floor(batch, args.threads);
  Matrix a(1024, 1024), b(1024, 1024), c(1024, 1024);
  const double flop = 2.0 * 1024 * 1024 * 1024;
  report("sgemm_1024", args.threads, median_us([&] { gemm(a, false, b, false, c); }), flop);
  return 0;
}
