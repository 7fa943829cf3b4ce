// elegy::Error and the messages core raises: each starts with the op's name and carries the
// offending values and what was expected.
#include <doctest/doctest.h>

#include <sstream>
#include <stdexcept>
#include <string>

#include <elegy/elegy.hpp>
#include <elegy/kernels/dispatch.hpp>

using namespace elegy;

TEST_CASE("fail streams every part after the op name") {
  try {
    fail("matmul", "inner dimensions differ: ", Shape{2, 3}, " x ", Shape{4, 5}, " (", DType::f32,
         " on ", Device::cpu(), ", ", 7, ")");
    FAIL("fail returned");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) ==
          "matmul: inner dimensions differ: [2,3] x [4,5] (float32 on cpu, 7)");
  }
  // Error is a std::runtime_error, so generic handlers catch it.
  CHECK_THROWS_AS(fail("op", "x"), std::runtime_error);
  CHECK_THROWS_WITH(fail("op", ""), "op: ");
}

TEST_CASE("ELEGY_CHECK builds the message only when the check fails") {
  int evaluated = 0;
  auto expensive = [&] {
    ++evaluated;
    return std::string("details");
  };
  ELEGY_CHECK(1 + 1 == 2, "add", expensive());
  CHECK(evaluated == 0);
  CHECK_THROWS_WITH_AS(ELEGY_CHECK(1 + 1 == 3, "add", "bad sum: ", expensive()),
                       "add: bad sum: details", Error);
  CHECK(evaluated == 1);
}

TEST_CASE("shape arithmetic errors") {
  CHECK_THROWS_WITH_AS(broadcast_shapes("add", Shape{2, 3}, Shape{3, 2}),
                       "add: shapes [2,3] and [3,2] cannot be broadcast together (dimension 0 is "
                       "2 vs 3; each must match or be 1)",
                       Error);
  CHECK_THROWS_WITH_AS(normalize_axis("softmax", -3, 2),
                       "softmax: axis -3 is out of range for a tensor of rank 2 (expected -2 <= "
                       "axis < 2)",
                       Error);
  const int repeated[] = {0, -2};
  CHECK_THROWS_WITH_AS(normalize_axes("sum", repeated, 2),
                       "sum: repeated axis in the axis list (rank 2)", Error);
  const int out_of_range[] = {0, 5};
  CHECK_THROWS_WITH_AS(normalize_axes("mean", out_of_range, 2),
                       doctest::Contains("mean: axis 5 is out of range"), Error);
  CHECK_THROWS_WITH_AS(Shape({1, 2, 3, 4, 5, 6, 7, 8, 9}),
                       "Dims: rank 9 exceeds the maximum rank 8", Error);
  Shape full = Dims::filled(kMaxRank, 1);
  CHECK_THROWS_WITH_AS(full.push_back(1), "Dims: rank would exceed the maximum rank 8", Error);
  CHECK_THROWS_WITH_AS(full.insert(0, 1), "Dims: rank would exceed the maximum rank 8", Error);
  CHECK_THROWS_WITH_AS(full.resize(9), "Dims: rank 9 exceeds the maximum rank 8", Error);
  CHECK(to_string(Shape{64, 784}) == "[64,784]");
  CHECK(to_string(Shape{}) == "[]");
}

TEST_CASE("normalize_axes sorts and expands the empty list") {
  const int axes[] = {-1, 0};
  CHECK(normalize_axes("sum", axes, 3) == std::vector<int>{0, 2});
  CHECK(normalize_axes("sum", {}, 3) == std::vector<int>{0, 1, 2});
}

TEST_CASE("dispatch errors name the op, dtype and device") {
  CHECK_THROWS_WITH_AS(
      kernels::lookup("uniform", kernels::Op::RandomUniform, Device::cpu(), DType::i32),
      "uniform: no RandomUniform kernel for int32 on cpu (this dtype/device "
      "combination is not supported)",
      Error);
  if (!cuda_compiled()) {
    CHECK_THROWS_WITH_AS(kernels::lookup("exp", kernels::Op::Exp, Device::cuda(), DType::f32),
                         "exp: no Exp kernel for float32 on cuda:0 (this build has no CUDA "
                         "backend)",
                         Error);
  }
}

TEST_CASE("dtype and device names read like numpy and JAX") {
  std::ostringstream os;
  os << DType::bool_ << ' ' << DType::u8 << ' ' << DType::i32 << ' ' << DType::i64 << ' '
     << DType::f32 << ' ' << DType::f64 << ' ' << Device::cpu() << ' ' << Device::cuda(1);
  CHECK(os.str() == "bool uint8 int32 int64 float32 float64 cpu cuda:1");
  CHECK(promote_types(DType::i32, DType::f32) == DType::f32);
  CHECK(promote_types(DType::bool_, DType::u8) == DType::u8);
  CHECK(promote_types(DType::f64, DType::i64) == DType::f64);
  CHECK(itemsize(DType::bool_) == 1);
  CHECK(itemsize(DType::i64) == 8);
}
