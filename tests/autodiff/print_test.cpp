// operator<< for tensors: exact text for each dtype family, layout, summarisation and views.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <elegy/core/views.hpp>
#include <elegy/elegy.hpp>

using namespace elegy;

namespace {

std::string str(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}

template <class T>
Tensor iota(const Shape& shape) {
  std::vector<T> v(static_cast<std::size_t>(shape.numel()));
  std::iota(v.begin(), v.end(), T(0));
  return Tensor::from_vector(v, shape);
}

}  // namespace

TEST_CASE("a float matrix prints with aligned 4-decimal columns") {
  const Tensor t = Tensor::from_vector(std::vector<float>{1, -2.5f, 3, 4, 5, 6}, Shape{2, 3});
  CHECK(str(t) ==
        "Tensor(float32[2,3], cpu)\n"
        "[[ 1.0000, -2.5000,  3.0000],\n"
        " [ 4.0000,  5.0000,  6.0000]]");
}

TEST_CASE("integers print without decimals, right-aligned") {
  const Tensor t = Tensor::from_vector(std::vector<std::int32_t>{1, -20, 300, 4}, Shape{2, 2});
  CHECK(str(t) ==
        "Tensor(int32[2,2], cpu)\n"
        "[[  1, -20],\n"
        " [300,   4]]");
  const Tensor big =
      Tensor::from_vector(std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::max(), -1});
  CHECK(str(big) == "Tensor(int64[2], cpu)\n[9223372036854775807,                  -1]");
  const Tensor bytes = Tensor::from_vector(std::vector<std::uint8_t>{0, 255, 7});
  CHECK(str(bytes) == "Tensor(uint8[3], cpu)\n[  0, 255,   7]");
}

TEST_CASE("bools print as true/false") {
  const Tensor b = Tensor::from_vector(std::vector<std::uint8_t>{1, 0, 1}).astype(DType::bool_);
  CHECK(str(b) == "Tensor(bool[3], cpu)\n[ true, false,  true]");
}

TEST_CASE("a 0-d tensor prints its value") {
  CHECK(str(Tensor::from_vector(std::vector<double>{3.5}, Shape{})) ==
        "Tensor(float64[], cpu)\n3.5000");
  CHECK(str(Tensor::from_vector(std::vector<std::int32_t>{-7}, Shape{})) ==
        "Tensor(int32[], cpu)\n-7");
}

TEST_CASE("empty and undefined tensors") {
  CHECK(str(Tensor::empty(Shape{0, 3})) == "Tensor(float32[0,3], cpu)\n[]");
  CHECK(str(Tensor::empty(Shape{0}, DType::i64)) == "Tensor(int64[0], cpu)\n[]");
  CHECK(str(Tensor()) == "Tensor(undefined)");
}

TEST_CASE("dimensions longer than 6 are summarised with their first and last 3 entries") {
  CHECK(str(iota<std::int32_t>(Shape{10, 10})) ==
        "Tensor(int32[10,10], cpu)\n"
        "[[ 0,  1,  2, ...,  7,  8,  9],\n"
        " [10, 11, 12, ..., 17, 18, 19],\n"
        " [20, 21, 22, ..., 27, 28, 29],\n"
        " ...,\n"
        " [70, 71, 72, ..., 77, 78, 79],\n"
        " [80, 81, 82, ..., 87, 88, 89],\n"
        " [90, 91, 92, ..., 97, 98, 99]]");
  CHECK(str(iota<std::int32_t>(Shape{7})) == "Tensor(int32[7], cpu)\n[0, 1, 2, ..., 4, 5, 6]");
  // Six entries are shown whole.
  CHECK(str(iota<std::int32_t>(Shape{6})) == "Tensor(int32[6], cpu)\n[0, 1, 2, 3, 4, 5]");
  // Only the shown elements set the column width (the hidden 10..96 would need 2 digits too,
  // but 1000 is hidden and must not widen the columns).
  std::vector<std::int32_t> v = {0, 1, 2, 1000, 3, 4, 5};
  CHECK(str(Tensor::from_vector(v)) == "Tensor(int32[7], cpu)\n[0, 1, 2, ..., 3, 4, 5]");
}

TEST_CASE("higher ranks nest brackets with blank lines between blocks") {
  CHECK(str(iota<std::int32_t>(Shape{2, 2, 2})) ==
        "Tensor(int32[2,2,2], cpu)\n"
        "[[[0, 1],\n"
        "  [2, 3]],\n"
        "\n"
        " [[4, 5],\n"
        "  [6, 7]]]");
  CHECK(str(iota<std::int32_t>(Shape{8, 1, 1})) ==
        "Tensor(int32[8,1,1], cpu)\n"
        "[[[0]],\n\n [[1]],\n\n [[2]],\n\n ...,\n\n [[5]],\n\n [[6]],\n\n [[7]]]");
  CHECK(str(iota<std::int32_t>(Shape{1, 1, 2, 1})) ==
        "Tensor(int32[1,1,2,1], cpu)\n[[[[0],\n   [1]]]]");
}

TEST_CASE("views print their logical elements") {
  const Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{2, 3});
  int perm[] = {1, 0};
  CHECK(str(views::permute(t, perm)) ==
        "Tensor(float32[3,2], cpu)\n"
        "[[1.0000, 4.0000],\n"
        " [2.0000, 5.0000],\n"
        " [3.0000, 6.0000]]");
  CHECK(str(views::slice(t, 1, -1, -4, -2)) ==
        "Tensor(float32[2,2], cpu)\n"
        "[[3.0000, 1.0000],\n"
        " [6.0000, 4.0000]]");
  CHECK(str(views::broadcast_to(views::slice(t, 0, 1, 2, 1), Shape{2, 1, 3})) ==
        "Tensor(float32[2,1,3], cpu)\n"
        "[[[4.0000, 5.0000, 6.0000]],\n"
        "\n"
        " [[4.0000, 5.0000, 6.0000]]]");
  // A summarised strided view: the transpose of a 10x10 matrix.
  const Tensor big = views::permute(iota<std::int32_t>(Shape{10, 10}), perm);
  CHECK(str(big) ==
        "Tensor(int32[10,10], cpu)\n"
        "[[ 0, 10, 20, ..., 70, 80, 90],\n"
        " [ 1, 11, 21, ..., 71, 81, 91],\n"
        " [ 2, 12, 22, ..., 72, 82, 92],\n"
        " ...,\n"
        " [ 7, 17, 27, ..., 77, 87, 97],\n"
        " [ 8, 18, 28, ..., 78, 88, 98],\n"
        " [ 9, 19, 29, ..., 79, 89, 99]]");
}

TEST_CASE("very large or small floats switch to scientific notation") {
  CHECK(str(Tensor::from_vector(std::vector<double>{1e-5, 1.0})) ==
        "Tensor(float64[2], cpu)\n[1.0000e-05, 1.0000e+00]");
  CHECK(str(Tensor::from_vector(std::vector<float>{-3e9f, 2.0f})) ==
        "Tensor(float32[2], cpu)\n[-3.0000e+09,  2.0000e+00]");
  // Zeros alone do not trigger it; 1e-4 itself is still fixed.
  CHECK(str(Tensor::from_vector(std::vector<double>{0.0, 1e-4, 0.5})) ==
        "Tensor(float64[3], cpu)\n[0.0000, 0.0001, 0.5000]");
}

TEST_CASE("non-finite floats print as nan and inf") {
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(str(Tensor::from_vector(std::vector<double>{NAN, -inf, 1.0, inf})) ==
        "Tensor(float64[4], cpu)\n[   nan,   -inf, 1.0000,    inf]");
}

TEST_CASE("the caller's stream flags do not leak into the output") {
  std::ostringstream os;
  os << std::hex << Tensor::from_vector(std::vector<std::int32_t>{10, 11}, Shape{1, 2}) << ' '
     << 255;
  CHECK(os.str() == "Tensor(int32[1,2], cpu)\n[[10, 11]] ff");
}

TEST_CASE("huge tensors print only their shown elements") {
  const std::string s = str(zeros(Shape{1 << 12, 1 << 12}));
  CHECK(s.rfind("Tensor(float32[4096,4096], cpu)\n[[0.0000, 0.0000, 0.0000, ..., 0.0000", 0) == 0);
  CHECK(s.size() < 400);
}
