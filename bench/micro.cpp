// elegy's microbenchmarks: the same cases, names and output format as bench/peers (libtorch and
// the plain C++/OpenBLAS reference), so bench/run_micro.py can put them side by side.
//
//   bench_elegy_micro [--threads N] [--filter SUBSTR]   ->  "elegy,<case>,<threads>,<median_us>"
#include <string>

#include <elegy/elegy.hpp>

#include "peers/timing.hpp"

using namespace elegy;
using elegy::bench::do_not_optimize;
using elegy::bench::median_us;
using elegy::bench::print_row;

namespace {

struct Size {
  const char* label;
  std::int64_t n;
};
constexpr Size kSizes[] = {{"1K", 1000}, {"1M", 1 << 20}, {"16M", 16 << 20}};

template <class Fn>
void run_case(const bench::Args& args, const std::string& name, Fn&& fn) {
  if (!args.wants(name)) return;
  print_row("elegy", name, args.threads, median_us(fn));
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(argc, argv);
  set_num_threads(args.threads);

  for (const Size& s : kSizes) {
    const Tensor a = random::uniform(Key(1), {s.n}), b = random::uniform(Key(2), {s.n});
    run_case(args, std::string("add_") + s.label, [&] { do_not_optimize(a + b); });
    run_case(args, std::string("mul_") + s.label, [&] { do_not_optimize(a * b); });
    run_case(args, std::string("exp_") + s.label, [&] { do_not_optimize(exp(a)); });
    // a * s + b with a 0-d s: how the tape adds an L2 term's gradient into a parameter's.
    const Tensor scale = random::uniform(Key(9), {});
    run_case(args, std::string("muladd_") + s.label,
             [&] { do_not_optimize(mul_add(a, scale, b)); });
  }
  {
    const Tensor a = random::uniform(Key(3), {16 << 20});
    run_case(args, "sum_16M", [&] { do_not_optimize(sum(a)); });
  }
  {
    const Tensor x = random::normal(Key(4), {4096, 1024});
    run_case(args, "softmax_4096x1024", [&] { do_not_optimize(softmax(x, -1)); });
  }
  for (int n : {256, 1024, 2048}) {
    const Tensor a = random::uniform(Key(5), {n, n}), b = random::uniform(Key(6), {n, n});
    run_case(args, "sgemm_" + std::to_string(n), [&] { do_not_optimize(matmul(a, b)); });
  }
  {
    const Tensor a = random::uniform(Key(7), {1000}), b = random::uniform(Key(8), {1000});
    run_case(args, "overhead_add_1000", [&] { do_not_optimize(a + b); });
    const Tree params{{"a", a}, {"b", b}};
    run_case(args, "overhead_mul_sum_backward_1000", [&] {
      auto [value, grads] = value_and_grad(
          [](const Tree& p) { return sum(p["a"].tensor() * p["b"].tensor()); }, params);
      do_not_optimize(grads);
    });
  }
  return 0;
}
