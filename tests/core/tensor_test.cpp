// Tensor metadata, views over shared storage, and host round trips for every dtype.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include <elegy/core/views.hpp>
#include <elegy/elegy.hpp>

using namespace elegy;

namespace {

// [0, 1, ..., n-1] as float32 with the given shape.
Tensor iota_f32(const Shape& shape) {
  std::vector<float> v(static_cast<std::size_t>(shape.numel()));
  std::iota(v.begin(), v.end(), 0.0f);
  return Tensor::from_vector(v, shape);
}

std::vector<float> values(const Tensor& t) {
  return t.contiguous().to_vector<float>();
}

}  // namespace

TEST_CASE("an undefined tensor has no storage and describes itself as such") {
  Tensor t;
  CHECK_FALSE(t.defined());
  CHECK(t.raw_data() == nullptr);
  CHECK(describe(t) == "undefined tensor");
  CHECK_THROWS_WITH_AS(t.to_vector<float>(),
                       doctest::Contains("to_vector: the tensor is undefined"), Error);
}

TEST_CASE("Tensor::empty sets row-major metadata") {
  const Tensor t = Tensor::empty(Shape{2, 3, 4}, DType::f64);
  CHECK(t.defined());
  CHECK(t.shape() == Shape{2, 3, 4});
  CHECK(t.strides() == Strides{12, 4, 1});
  CHECK(t.offset() == 0);
  CHECK(t.ndim() == 3);
  CHECK(t.numel() == 24);
  CHECK(t.itemsize() == 8);
  CHECK(t.nbytes() == 192);
  CHECK(t.dtype() == DType::f64);
  CHECK(t.device() == Device::cpu());
  CHECK(t.is_contiguous());
  CHECK(t.storage()->nbytes() >= 192);
  CHECK(describe(t) == "float64[2,3,4] on cpu");

  const Tensor scalar = Tensor::empty(Shape{}, DType::i32);
  CHECK(scalar.ndim() == 0);
  CHECK(scalar.numel() == 1);
  CHECK(scalar.is_contiguous());

  const Tensor none = Tensor::empty(Shape{0, 5});
  CHECK(none.numel() == 0);
  CHECK(none.nbytes() == 0);
  CHECK(none.to_vector<float>().empty());

  CHECK_THROWS_WITH_AS(Tensor::empty(Shape{2, -1}),
                       doctest::Contains("empty: negative dimension in shape [2,-1]"), Error);
}

TEST_CASE("shape(axis) counts negative axes from the end and rejects others") {
  const Tensor t = Tensor::empty(Shape{2, 3, 4});
  CHECK(t.shape(0) == 2);
  CHECK(t.shape(-1) == 4);
  CHECK(t.shape(-3) == 2);
  CHECK_THROWS_WITH_AS(
      t.shape(3), doctest::Contains("Tensor::shape: axis 3 is out of range for a tensor of rank 3"),
      Error);
  CHECK_THROWS_WITH_AS(t.shape(-4), doctest::Contains("axis -4 is out of range"), Error);
}

TEST_CASE("data<T> checks the element type") {
  const Tensor t = Tensor::from_vector(std::vector<float>{1, 2});
  CHECK(t.data<float>()[1] == 2.0f);
  CHECK_THROWS_WITH_AS(
      t.data<double>(),
      doctest::Contains("Tensor::data: requested float64 elements of a float32[2] on cpu"), Error);
}

TEST_CASE("view_of checks that the view stays inside its storage") {
  auto storage = Storage::allocate(10 * sizeof(float), Device::cpu());
  // In bounds: the last element reached is 1 + 2*4 = 9.
  const Tensor ok = Tensor::view_of(storage, Shape{3, 2}, Strides{4, -1}, 1, DType::f32);
  CHECK(ok.offset() == 1);
  CHECK(ok.storage() == storage);
  CHECK_FALSE(ok.is_contiguous());
  // A negative stride walking back to element 0 is fine too.
  const Tensor reversed = Tensor::view_of(storage, Shape{10}, Strides{-1}, 9, DType::f32);
  CHECK(reversed.numel() == 10);
  // An empty view may have any offset.
  CHECK(Tensor::view_of(storage, Shape{0}, Strides{1}, 100, DType::f32).numel() == 0);

  CHECK_THROWS_WITH_AS(Tensor::view_of(storage, Shape{3, 2}, Strides{4, 1}, 1, DType::f32),
                       doctest::Contains("view_of: view [3,2] strides [4,1] offset 1 reaches "
                                         "outside its storage of 10 float32 elements"),
                       Error);
  CHECK_THROWS_WITH_AS(Tensor::view_of(storage, Shape{10}, Strides{-1}, 8, DType::f32),
                       doctest::Contains("reaches outside its storage"), Error);
  // The same bytes hold fewer float64 elements.
  CHECK_THROWS_WITH_AS(Tensor::view_of(storage, Shape{10}, Strides{1}, 0, DType::f64),
                       doctest::Contains("storage of 5 float64 elements"), Error);
  CHECK_THROWS_WITH_AS(Tensor::view_of(storage, Shape{10}, Strides{1, 1}, 0, DType::f32),
                       doctest::Contains("view_of: shape [10] and strides [1,1] differ in rank"),
                       Error);
  CHECK_THROWS_WITH_AS(Tensor::view_of(nullptr, Shape{1}, Strides{1}, 0, DType::f32),
                       doctest::Contains("view_of: null storage"), Error);
}

TEST_CASE("is_contiguous for transposed, sliced and broadcast views") {
  const Tensor x = iota_f32(Shape{4, 6});
  int perm[] = {1, 0};
  CHECK_FALSE(views::permute(x, perm).is_contiguous());
  CHECK(views::slice(x, 0, 1, 3, 1).is_contiguous());        // whole rows
  CHECK_FALSE(views::slice(x, 0, 0, 4, 2).is_contiguous());  // every other row
  CHECK_FALSE(views::slice(x, 1, 0, 3, 1).is_contiguous());  // part of each row
  CHECK(views::slice(x, 0, 2, 3, 1).is_contiguous());        // one row: size-1 dims never matter
  CHECK(views::slice(views::slice(x, 0, 2, 3, 1), 1, 1, 4, 1).is_contiguous());
  const Tensor row = iota_f32(Shape{1, 6});
  CHECK_FALSE(views::broadcast_to(row, Shape{3, 6}).is_contiguous());
  CHECK(views::broadcast_to(row, Shape{1, 1, 6}).is_contiguous());
  CHECK(views::expand_dims(x, 1).is_contiguous());
  // Size-1 dimensions with arbitrary strides do not break contiguity.
  auto storage = Storage::allocate(6 * sizeof(float), Device::cpu());
  CHECK(Tensor::view_of(storage, Shape{1, 6, 1}, Strides{99, 1, 7}, 0, DType::f32).is_contiguous());
}

TEST_CASE("views share storage and address the right elements") {
  const Tensor x = iota_f32(Shape{2, 3, 4});

  SUBCASE("reshape") {
    const Tensor r = views::reshape(x, Shape{4, -1});
    CHECK(r.shape() == Shape{4, 6});
    CHECK(r.storage() == x.storage());
    CHECK(values(r) == values(x));
    CHECK(views::reshape(x, Shape{24}).strides() == Strides{1});
    CHECK_THROWS_WITH_AS(
        views::reshape(x, Shape{5, -1}),
        doctest::Contains("reshape: cannot reshape [2,3,4] (24 elements) into [5,-1]"), Error);
    CHECK_THROWS_WITH_AS(views::reshape(x, Shape{-1, -1}), doctest::Contains("more than one -1"),
                         Error);
    CHECK_THROWS_WITH_AS(views::reshape(x, Shape{5, 5}),
                         doctest::Contains("into [5,5] (25 elements)"), Error);
    // A non-contiguous tensor cannot be reinterpreted: the caller must copy.
    int perm[] = {2, 1, 0};
    CHECK_FALSE(views::reshape(views::permute(x, perm), Shape{24}).defined());
  }

  SUBCASE("permute") {
    int perm[] = {2, 0, 1};
    const Tensor p = views::permute(x, perm);
    CHECK(p.shape() == Shape{4, 2, 3});
    CHECK(p.strides() == Strides{1, 12, 4});
    CHECK(p.storage() == x.storage());
    // p[k][i][j] = x[i][j][k] = 12i + 4j + k
    const std::vector<float> v = values(p);
    for (int k = 0; k < 4; ++k)
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j) CHECK(v[std::size_t(k * 6 + i * 3 + j)] == 12 * i + 4 * j + k);
    int bad[] = {0, 0, 1};
    CHECK_THROWS_WITH_AS(views::permute(x, bad), doctest::Contains("transpose: axis 0 repeated"),
                         Error);
    int short_perm[] = {1, 0};
    CHECK_THROWS_WITH_AS(views::permute(x, short_perm),
                         doctest::Contains("permutation of 2 axes for a tensor of rank 3"), Error);
  }

  SUBCASE("slice with positive, negative and out-of-range bounds") {
    const Tensor v = iota_f32(Shape{10});
    CHECK(values(views::slice(v, 0, 1, 8, 3)) == std::vector<float>{1, 4, 7});
    CHECK(values(views::slice(v, 0, 8, 2, -2)) == std::vector<float>{8, 6, 4});
    CHECK(values(views::slice(v, 0, -1, -11, -3)) == std::vector<float>{9, 6, 3, 0});
    CHECK(values(views::slice(v, 0, -100, 100, 1)).size() == 10);
    CHECK(values(views::slice(v, 0, 100, -100, -1)) ==
          std::vector<float>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
    CHECK(views::slice(v, 0, 5, 2, 1).numel() == 0);
    CHECK(views::slice(v, 0, -3, 10, 1).offset() == 7);
    // Reversed rows of a matrix: a negative stride on axis 0.
    const Tensor rows = views::slice(x, 1, 2, -4, -1);
    CHECK(rows.shape() == Shape{2, 3, 4});
    CHECK(rows.strides() == Strides{12, -4, 1});
    CHECK(rows.storage() == x.storage());
    const std::vector<float> r = values(rows);
    CHECK(std::vector<float>(r.begin(), r.begin() + 4) == std::vector<float>{8, 9, 10, 11});
    CHECK_THROWS_WITH_AS(views::slice(v, 0, 0, 5, 0),
                         doctest::Contains("slice: step must not be zero"), Error);
    CHECK_THROWS_WITH_AS(views::slice(v, 1, 0, 5, 1),
                         doctest::Contains("slice: axis 1 is out of range"), Error);
  }

  SUBCASE("broadcast_to") {
    const Tensor row = iota_f32(Shape{3, 1});
    const Tensor b = views::broadcast_to(row, Shape{2, 3, 4});
    CHECK(b.strides() == Strides{0, 1, 0});
    CHECK(b.storage() == row.storage());
    const std::vector<float> v = values(b);
    CHECK(v.size() == 24);
    for (int i = 0; i < 24; ++i) CHECK(v[std::size_t(i)] == float((i / 4) % 3));
    CHECK_THROWS_WITH_AS(
        views::broadcast_to(row, Shape{2, 4}),
        doctest::Contains("broadcast_to: cannot broadcast [3,1] to [2,4] (dimension 0 "
                          "is 3, expected 2 or 1)"),
        Error);
    CHECK_THROWS_WITH_AS(views::broadcast_to(x, Shape{4}),
                         doctest::Contains("cannot broadcast [2,3,4] to the lower-rank [4]"),
                         Error);
  }

  SUBCASE("squeeze and expand_dims") {
    const Tensor e = views::expand_dims(x, -1);
    CHECK(e.shape() == Shape{2, 3, 4, 1});
    const Tensor e0 = views::expand_dims(x, 0);
    CHECK(e0.shape() == Shape{1, 2, 3, 4});
    CHECK(e0.storage() == x.storage());
    CHECK(values(e0) == values(x));
    CHECK(views::squeeze(e0, {}).shape() == Shape{2, 3, 4});
    int axis0[] = {0};
    CHECK(views::squeeze(e0, axis0).shape() == Shape{2, 3, 4});
    int axis1[] = {1};
    CHECK_THROWS_WITH_AS(views::squeeze(e0, axis1),
                         doctest::Contains("squeeze: cannot squeeze axis 1 of shape [1,2,3,4]: its "
                                           "size is 2, expected 1"),
                         Error);
    CHECK_THROWS_WITH_AS(views::expand_dims(x, 5), doctest::Contains("expand_dims: axis 5"), Error);
  }

  SUBCASE("views of views keep the base offset") {
    const Tensor inner = views::slice(views::slice(x, 0, 1, 2, 1), 2, 1, 4, 2);  // x[1:2, :, 1:4:2]
    CHECK(inner.shape() == Shape{1, 3, 2});
    CHECK(inner.offset() == 13);
    CHECK(values(inner) == std::vector<float>{13, 15, 17, 19, 21, 23});
  }
}

TEST_CASE_TEMPLATE("from_vector / to_vector / item round-trip", T, float, double, std::int32_t,
                   std::int64_t, std::uint8_t) {
  const std::vector<T> v = {T(0), T(1), T(7), T(42), T(100), T(127)};
  const Tensor t = Tensor::from_vector(v, Shape{2, 3});
  CHECK(t.dtype() == dtype_of<T>());
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.to_vector<T>() == v);
  // Conversion on the way out.
  CHECK(t.to_vector<double>() == std::vector<double>{0, 1, 7, 42, 100, 127});
  CHECK(t.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 7, 42, 100, 127});
  // 1-D by default.
  CHECK(Tensor::from_vector(v).shape() == Shape{6});
  // One element: item.
  const Tensor s = Tensor::from_vector(std::vector<T>{T(42)}, Shape{});
  CHECK(s.item<T>() == T(42));
  CHECK(s.item<double>() == 42.0);
  const Tensor one = Tensor::from_vector(std::vector<T>{T(9)}, Shape{1, 1});
  CHECK(one.item<float>() == 9.0f);
  const std::string expected =
      "item: expected a tensor with exactly one element, got " + describe(t);
  CHECK_THROWS_WITH_AS(t.item<T>(), doctest::Contains(expected.c_str()), Error);
}

TEST_CASE("extreme values survive the round trip") {
  const std::vector<std::int64_t> big = {std::numeric_limits<std::int64_t>::min(),
                                         std::numeric_limits<std::int64_t>::max(), -1};
  CHECK(Tensor::from_vector(big).to_vector<std::int64_t>() == big);
  const std::vector<double> d = {1e-300, -1e300, std::numeric_limits<double>::infinity()};
  CHECK(Tensor::from_vector(d).to_vector<double>() == d);
  const std::vector<float> f = {1.17549435e-38f, -3.4028235e38f};
  CHECK(Tensor::from_vector(f).to_vector<float>() == f);
}

TEST_CASE("bool tensors come from uint8 data through astype") {
  const Tensor b =
      Tensor::from_vector(std::vector<std::uint8_t>{1, 0, 1, 1}, Shape{2, 2}).astype(DType::bool_);
  CHECK(b.dtype() == DType::bool_);
  CHECK(b.itemsize() == 1);
  CHECK(b.to_vector<std::uint8_t>() == std::vector<std::uint8_t>{1, 0, 1, 1});
  CHECK(b.to_vector<float>() == std::vector<float>{1, 0, 1, 1});
  const std::vector<bool> expected = {true, false, true, true};
  const bool* data = b.data<bool>();
  for (std::size_t i = 0; i < 4; ++i) CHECK(data[i] == expected[i]);
  // Any nonzero value becomes true.
  const Tensor c = Tensor::from_vector(std::vector<float>{0.0f, 2.5f, -1.0f}).astype(DType::bool_);
  CHECK(c.to_vector<std::int32_t>() == std::vector<std::int32_t>{0, 1, 1});
  CHECK(views::slice(c, 0, 1, 2, 1).item<bool>() == true);
}

TEST_CASE("from_vector checks the element count") {
  CHECK_THROWS_WITH_AS(Tensor::from_vector(std::vector<float>(5), Shape{2, 3}),
                       doctest::Contains("Tensor::from_vector: got 5 values for shape [2,3] (6 "
                                         "elements expected)"),
                       Error);
}

TEST_CASE("to_vector reads strided views in logical order") {
  const Tensor x = iota_f32(Shape{2, 3});
  int perm[] = {1, 0};
  const Tensor t = views::permute(x, perm);
  CHECK(t.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(t.to_vector<std::int32_t>() == std::vector<std::int32_t>{0, 3, 1, 4, 2, 5});
  const Tensor c = t.contiguous();
  CHECK(c.is_contiguous());
  CHECK(c.storage() != x.storage());
  CHECK(c.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(x.contiguous().storage() == x.storage());  // already dense: no copy
}
