// List ops in a recorded step (autodiff/step_recording.cpp): the recording keeps its own copy of
// a list op's host table (SumSquaresMany, RunningMeans, CopyMany), compares tables entry by
// entry between two recordings, and a replay reads the recorded table over the inputs' new
// values. A kernel given its key through memory cannot be recorded.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <elegy/autodiff/kernel_call.hpp>
#include <elegy/autodiff/step_recording.hpp>
#include <elegy/elegy.hpp>
#include <elegy/kernels/copy_list.hpp>
#include <elegy/kernels/view_list.hpp>

using namespace elegy;
using autodiff::StepRecording;

namespace {

// A recording of `step` over inputs {a, b}; its result is kept in `out`.
template <class Step>
std::unique_ptr<StepRecording> record(const Tensor& a, const Tensor& b, Step step, Tensor& out) {
  auto r = std::make_unique<StepRecording>();
  r->add_inputs(std::vector<Tensor>{a, b});
  out = step();
  r->stop();
  return r;
}

void overwrite(const Tensor& dst, const std::vector<float>& values) {
  std::copy(values.begin(), values.end(), static_cast<float*>(dst.address()));
}

void copy_many(const Tensor& dst, const Tensor& src, std::int64_t bytes) {
  const kernels::CopyPiece pieces[2] = {
      {dst.address(), src.address(), bytes},
      {static_cast<char*>(dst.address()) + 8, static_cast<const char*>(src.address()) + 8, 4}};
  const kernels::CopyList list{pieces, 2};
  kernels::KernelArgs args;
  args.ints[0] = kernels::address_of(list);
  args.device = Device::cpu();
  kernels::run("test", kernels::Op::CopyMany, DType::u8, args);
}

}  // namespace

TEST_CASE("a recording compares list ops' tables, and a replay reads its own copy") {
  const Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3}, Shape{3});
  const Tensor b = Tensor::from_vector(std::vector<float>{4, 5}, Shape{2});
  Tensor out, ignored;
  const auto first = record(
      a, b,
      [&] {
        return sum_of_squares(std::vector{a, b}, 0.5);
      },
      out);
  const auto same = record(
      a, b,
      [&] {
        return sum_of_squares(std::vector{a, b}, 0.5);
      },
      ignored);
  CHECK(StepRecording::difference(*first, *same).empty());
  const auto swapped = record(
      a, b,
      [&] {
        return sum_of_squares(std::vector{b, a}, 0.5);
      },
      ignored);
  CHECK(StepRecording::difference(*first, *swapped).find("tensor 0 of its list") !=
        std::string::npos);
  const auto shorter = record(
      a, b, [&] { return sum_of_squares(std::vector{a}, 0.5); }, ignored);
  CHECK(StepRecording::difference(*first, *shorter).find("the length of its list") !=
        std::string::npos);
  CHECK(first->operations().front() == "SumSquaresMany float32 (sum_of_squares, 2 tensors)");

  CHECK(out.item<float>() == 0.5f * (1 + 4 + 9 + 16 + 25));
  overwrite(a, {0, 1, 0});
  overwrite(b, {2, 0});
  first->replay();  // (the caller's table is long gone: the recording's copy is read)
  CHECK(out.item<float>() == 0.5f * (1 + 4));
}

TEST_CASE("a recording compares CopyMany's pieces") {
  const Tensor src = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, Shape{4});
  const Tensor dst = zeros(Shape{4});
  // A recording of one CopyMany of the first `bytes` of src into dst.
  const auto record_copy = [&](std::int64_t bytes) {
    Tensor unused;
    return record(
        src, dst,
        [&] {
          copy_many(dst, src, bytes);
          return Tensor();
        },
        unused);
  };
  const auto first = record_copy(8);
  const auto same = record_copy(8);
  const auto fewer = record_copy(4);
  CHECK(StepRecording::difference(*first, *same).empty());
  CHECK(StepRecording::difference(*first, *fewer).find("copy 0 of its list") != std::string::npos);
  overwrite(dst, {0, 0, 0, 0});
  overwrite(src, {7, 8, 9, 10});
  first->replay();
  CHECK(dst.to_vector<float>() == std::vector<float>{7, 8, 9, 0});
}

TEST_CASE("a kernel given its random key through memory makes a recording unreplayable") {
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3}, Shape{3});
  const std::uint32_t words[2] = {3, 4};
  StepRecording r;
  r.add_inputs(std::vector<Tensor>{x});
  const Tensor out = Tensor::empty(x.shape());
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(out);
  args.in[0] = autodiff::buffer_view(x);
  args.num_inputs = 1;
  args.scalar[0] = 0.5;
  args.key_words = words;
  args.device = Device::cpu();
  kernels::run("test", kernels::Op::Dropout, DType::f32, args);
  r.stop();
  CHECK_FALSE(r.replayable());
  CHECK(r.why_not().find("random key through memory") != std::string::npos);
}

TEST_CASE("a list op without its table, or with a table missing its entries, is an Error") {
  const Tensor out = Tensor::empty(Shape{});
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(out);
  args.device = Device::cpu();
  CHECK_THROWS_WITH_AS(kernels::run("test", kernels::Op::SumSquaresMany, DType::f32, args),
                       doctest::Contains("sum_of_squares (cpu): needs its list"), Error);
  CHECK_THROWS_WITH_AS(kernels::run("test", kernels::Op::CopyMany, DType::u8, args),
                       doctest::Contains("copy_many (cpu): needs its list"), Error);
  const kernels::ViewList hollow{nullptr, 3};
  args.ints[0] = kernels::address_of(hollow);
  CHECK_THROWS_WITH_AS(kernels::run("test", kernels::Op::RunningMeans, DType::f32, args),
                       doctest::Contains("a list of 3 entries without them"), Error);
}
