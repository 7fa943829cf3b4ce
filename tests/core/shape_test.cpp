#include <doctest/doctest.h>

#include <elegy/elegy.hpp>

using namespace elegy;

TEST_CASE("broadcast_shapes follows numpy rules") {
  CHECK(broadcast_shapes("t", Shape{64, 1}, Shape{10}) == Shape{64, 10});
  CHECK(broadcast_shapes("t", Shape{}, Shape{3, 2}) == Shape{3, 2});
  CHECK_THROWS_WITH_AS(broadcast_shapes("mul", Shape{3, 2}, Shape{4}),
                       doctest::Contains("mul: shapes [3,2] and [4] cannot be broadcast"), Error);
}

TEST_CASE("contiguous strides are row-major") {
  CHECK(contiguous_strides(Shape{2, 3, 4}) == Strides{12, 4, 1});
  CHECK(contiguous_strides(Shape{}) == Strides{});
}

TEST_CASE("normalize_axis accepts negatives and rejects out-of-range axes") {
  CHECK(normalize_axis("sum", -1, 3) == 2);
  CHECK_THROWS_WITH_AS(normalize_axis("sum", 3, 3), doctest::Contains("axis 3 is out of range"),
                       Error);
}
