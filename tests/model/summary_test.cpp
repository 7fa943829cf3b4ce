// Model.summary: Elegy's table, character for character, for the MLP of its getting-started
// notebook (ELEGY.md 4.1), plus depth folding and the module-less table.
#include <doctest/doctest.h>

#include <elegy/elegy.hpp>

using namespace elegy;

namespace {

struct MLP : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = nn::Flatten()(ctx, x.astype(DType::f32) / 255.0);
    h = nn::relu(ctx, nn::Linear(300)(ctx, h));
    h = nn::relu(ctx, nn::Linear(100)(ctx, h));
    return nn::Linear(10)(ctx, h);
  }
};

}  // namespace

TEST_CASE("summary: Elegy's MLP table") {
  Model model({.module = MLP()});
  const std::string table = model.summary(zeros({64, 28, 28}, DType::u8), 2, /*print=*/false);
  const std::string expected = R"(
┏━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer             ┃ Outputs Shape         ┃ Trainable           ┃ Non-trainable ┃
┃                   ┃                       ┃ Parameters          ┃ Parameters    ┃
┡━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ Inputs            │ (64, 28, 28)  uint8   │                     │               │
├───────────────────┼───────────────────────┼─────────────────────┼───────────────┤
│ flatten   Flatten │ (64, 784)     float32 │                     │               │
├───────────────────┼───────────────────────┼─────────────────────┼───────────────┤
│ linear    Linear  │ (64, 300)     float32 │ 235,500    942.0 KB │               │
├───────────────────┼───────────────────────┼─────────────────────┼───────────────┤
│ relu              │ (64, 300)     float32 │                     │               │
├───────────────────┼───────────────────────┼─────────────────────┼───────────────┤
│ linear_1  Linear  │ (64, 100)     float32 │ 30,100     120.4 KB │               │
├───────────────────┼───────────────────────┼─────────────────────┼───────────────┤
│ relu              │ (64, 100)     float32 │                     │               │
├───────────────────┼───────────────────────┼─────────────────────┼───────────────┤
│ linear_2  Linear  │ (64, 10)      float32 │ 1,010      4.0 KB   │               │
├───────────────────┼───────────────────────┼─────────────────────┼───────────────┤
│ *         MLP     │ (64, 10)      float32 │                     │               │
├───────────────────┼───────────────────────┼─────────────────────┼───────────────┤
│                   │                 Total │ 266,610    1.1 MB   │               │
└───────────────────┴───────────────────────┴─────────────────────┴───────────────┘

                        Total Parameters: 266,610   1.1 MB
)";
  CHECK(table == expected);
  // The model is not initialized by summary (Elegy's summary only traces).
  CHECK_FALSE(model.initialized());
}

TEST_CASE("summary: depth folds deeper modules' parameters into their ancestor") {
  struct Net : nn::Module {
    Tensor call(nn::Context& ctx, const Tensor& x) override {
      return nn::Linear(2)(ctx, nn::MLP({4, 3})(ctx, x));
    }
  };
  Model model({.module = Net()});
  const std::string deep = model.summary(ones({1, 5}), 2, false);
  CHECK(deep.find("mlp/linear  ") != std::string::npos);
  const std::string shallow = model.summary(ones({1, 5}), 1, false);
  CHECK(shallow.find("mlp/linear") == std::string::npos);
  // mlp's row carries 5*4+4 + 4*3+3 = 39 parameters at depth 1.
  CHECK(shallow.find("│ mlp     MLP    │ (1, 3)  float32 │ 39    156.0 B │") != std::string::npos);
  CHECK(shallow.find("Total Parameters: 47   188.0 B") != std::string::npos);
}

TEST_CASE("summary: a model without a module shows its inputs and totals") {
  struct LowLevel : Model {
    using Model::Model;
    PredStep pred_step(const StepArgs& a) override {
      const Tensor w = a.initializing ? zeros({784, 10}) : a.states.net_params()["w"].tensor();
      return {matmul(a.x.tensor(), w), a.states.update("net_params", Tree{{"w", w}})};
    }
  };
  LowLevel model;
  const std::string table = model.summary(zeros({64, 784}), 2, false);
  CHECK(table.find("│ Inputs │ (64, 784)  float32 │") != std::string::npos);
  CHECK(table.find("Total │ 7,840    31.4 KB") != std::string::npos);
  CHECK(format_size(999) == "999.0 B");
  CHECK(format_size(1'066'440) == "1.1 MB");
  CHECK(format_count(1234567) == "1,234,567");
}

TEST_CASE("summary: shapes come from a meta pass; a step that reads values falls back") {
  auto seen = std::make_shared<std::vector<Device>>();
  struct Probe : nn::Module {
    std::shared_ptr<std::vector<Device>> seen;
    Tensor call(nn::Context& ctx, const Tensor& x) override {
      seen->push_back(x.device());
      Tensor h = nn::relu(ctx, nn::Conv2D(4, 3)(ctx, x));
      // Layers whose ops must all run shape-only for the meta pass to succeed.
      h = nn::Dropout(0.5)(ctx, nn::MaxPool(1)(ctx, nn::BatchNorm()(ctx, h)));
      h = nn::LayerNorm()(ctx, h);
      return nn::Linear(3)(ctx, h);
    }
  };
  Probe probe;
  probe.seen = seen;
  Model model({.module = probe});
  const std::string table = model.summary(ones({2, 5, 5, 1}), 2, false);
  REQUIRE(seen->size() == 1);      // one pass: no fallback
  CHECK(seen->front().is_meta());  // no kernel ran, no memory was used for the activations
  CHECK(table.find("Conv2D    │ (2, 5, 5, 4)  float32 │ 40    160.0 B │") != std::string::npos);
  CHECK(table.find("│ (2, 5, 5, 1)  float32 │") != std::string::npos);  // the inputs row

  struct ReadsValues : nn::Module {
    Tensor call(nn::Context& ctx, const Tensor& x) override {
      const float total = sum(x).item<float>();  // needs values: no meta pass possible
      return nn::Linear(2)(ctx, x * double(total));
    }
  };
  Model reads({.module = ReadsValues()});
  CHECK(reads.summary(ones({3, 4}), 2, false).find("Total Parameters: 10   40.0 B") !=
        std::string::npos);
  // Meta tensors refuse to give values.
  CHECK_THROWS_WITH_AS(ones({2}).to(Device::meta()).to_vector<float>(),
                       doctest::Contains("meta tensor"), Error);
}
