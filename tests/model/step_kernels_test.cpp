// The kernels of one eager train step, counted by op: what the step's fusions promise (each a
// launch saved per step on a GPU) holds in a real Model, and the step still learns the same
// numbers as a closed-form check of its L2 gradient.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include <elegy/elegy.hpp>

#include "../grad_check.hpp"
#include "../kernel_log.hpp"

using namespace elegy;

namespace {

struct TwoLayers : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    const Tensor h = nn::Linear(16, {.activation = FusedActivation::relu})(ctx, x);
    return nn::Linear(4)(ctx, h);
  }
};

}  // namespace

TEST_CASE("a train step fuses its L2 term, log means and accuracy count and runs no Fill") {
  Model model({.module = TwoLayers(),
               .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true}),
                        regularizers::GlobalL2(1e-3)},
               .metrics = {metrics::SparseCategoricalAccuracy()},
               .optimizer = optim::adam(1e-3),
               .run_eagerly = true});
  const Tensor x = random::uniform(Key(1), {32, 12});
  const Tensor y = random::randint(Key(2), {32}, 0, 4, DType::i32);
  model.train_on_batch(x, y);  // initialises
  model.train_on_batch(x, y);
  testing::KernelLog k;
  model.train_on_batch(x, y);
  using kernels::Op;
  // Four parameter tensors: each gets its L2 term's 2 g p folded into the data loss's
  // gradient, all four by one MulAddMany. The three loss logs (the loss, its two terms) add into
  // their running totals and are read out by one RunningMeans, the accuracy's {total, count} by
  // another; the accuracy's hits are counted by one ArgMaxMatchCount (no hits vector and Sum);
  // the L2 term is one SumSquaresMany over the four tensors.
  CHECK(k.count(Op::MulAddMany) == 1);  // (the four folds in one kernel at the backward's end)
  CHECK(k.count(Op::MulAdd) == 0);
  CHECK(k.count(Op::RunningMeans) == 2);
  CHECK(k.count(Op::ArgMaxMatchCount) == 1);
  CHECK(k.count(Op::ArgMaxMatches) + k.count(Op::ArgMax) + k.count(Op::Equal) + k.count(Op::Cast) ==
        0);

  CHECK(k.count(Op::SumSquaresMany) == 1);
  CHECK(k.count(Op::SumSquares) == 0);
  CHECK(k.count(Op::DivNoNan) == 0);
  CHECK(k.count(Op::Add) == 1);  // (the data loss plus the L2 term: no running total's add)
  // No parameter-sized product or sum is left over from the unfused form (the largest Mul and
  // Add are 0-d logs and bias-sized rows at most), and the backward's seed is a constant.
  CHECK(k.largest(Op::Mul) < 16);
  CHECK(k.largest(Op::Add) < 16);
  CHECK(k.count(Op::Fill) == 0);
}

TEST_CASE("a train step's folded L2 gradient is the closed form's update") {
  // SGD with learning rate 1 on a linear model whose data loss is 0 (MAE of a perfect fit is
  // not smooth, so use y = x @ w exactly with MSE): the step is w -= 2 l2 w, a clean check that
  // the folded 2 g p reaches the update with the right scale and nothing else.
  struct Linear : nn::Module {
    Tensor call(nn::Context& ctx, const Tensor& x) override {
      return nn::Linear(3, {.with_bias = false})(ctx, x);
    }
  };
  const double l2 = 0.05;
  Model model({.module = Linear(),
               .loss = {losses::MeanSquaredError(), regularizers::GlobalL2(l2)},
               .optimizer = optim::sgd(1.0),
               .run_eagerly = true});
  const Tensor x = random::uniform(Key(3), {6, 5});
  model.init_on_batch(x, zeros({6, 3}));  // the labels only give the loss its shapes
  const Tensor w0 = model.states().net_params().leaves().front().contiguous();
  const Tensor y = matmul(x, w0);
  model.train_on_batch(x, y);
  const std::vector<double> before = testing::values(w0);
  const std::vector<double> after = testing::values(model.states().net_params().leaves().front());
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < before.size(); ++i)
    CHECK(after[i] == doctest::Approx(before[i] * (1.0 - 2.0 * l2)).epsilon(1e-6));
}
