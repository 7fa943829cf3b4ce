// Tree: construction, path lookup, canonical leaf order, rebuilding and structure errors.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include <elegy/elegy.hpp>

using namespace elegy;

namespace {

Tensor vec(std::vector<float> v) {
  return Tensor::from_vector(v);
}

// {"b": [1], "a": {"c": [2, 3]}, "layers": [{"w": [4]}, {"w": [5, 6, 7]}]}, keys given unsorted.
Tree sample() {
  Tree layer0{{"w", vec({4})}};
  Tree layer1{{"w", vec({5, 6, 7})}};
  return Tree{{"b", vec({1})},
              {"a", Tree{{"c", vec({2, 3})}}},
              {"layers", Tree::from_list({layer0, layer1})}};
}

std::vector<std::string> paths(const Tree& t) {
  std::vector<std::string> out;
  for (const auto& [p, x] : t.flatten_with_paths()) out.push_back(p);
  return out;
}

}  // namespace

TEST_CASE("Tree kinds and sizes") {
  CHECK(Tree().is_none());
  CHECK(Tree().size() == 0);
  CHECK(Tree().num_leaves() == 0);
  const Tree leaf(vec({1, 2}));
  CHECK(leaf.is_leaf());
  CHECK(leaf.num_leaves() == 1);
  CHECK(leaf.size() == 0);
  const Tree t = sample();
  CHECK(t.is_map());
  CHECK(t.size() == 3);
  CHECK(t["layers"].is_list());
  CHECK(t["layers"].size() == 2);
  CHECK(t.num_leaves() == 4);
  CHECK(t.numel() == 1 + 2 + 1 + 3);
  CHECK(t.leaves().size() == 4);
}

TEST_CASE("Tree lookup by path, list index and implicit conversion") {
  const Tree t = sample();
  CHECK(t["a/c"].tensor().to_vector<float>() == std::vector<float>{2, 3});
  CHECK(t["a"]["c"].tensor().numel() == 2);
  CHECK(t["layers/1/w"].tensor().to_vector<float>() == std::vector<float>{5, 6, 7});
  CHECK(t["layers"][0]["w"].tensor().item<float>() == 4.0f);
  CHECK(t["layers"][std::size_t(1)]["w"].tensor().numel() == 3);
  const Tensor w = t["b"];  // a leaf converts to its tensor
  CHECK(w.item<float>() == 1.0f);
  CHECK(t.contains("layers/0/w"));
  CHECK_FALSE(t.contains("layers/2/w"));
  CHECK_FALSE(t.contains("a/d"));
}

TEST_CASE("Tree lookup errors name the path and what is there") {
  const Tree t = sample();
  CHECK_THROWS_WITH_AS(
      t["a/zz"], doctest::Contains("Tree: path 'a/zz': no key 'zz' (keys present: {c})"), Error);
  CHECK_THROWS_WITH_AS(t["nope"], doctest::Contains("no key 'nope' (keys present: {a, b, layers})"),
                       Error);
  CHECK_THROWS_WITH_AS(t["layers/x/w"], doctest::Contains("'x' indexes a list"), Error);
  CHECK_THROWS_WITH_AS(t["layers/5"],
                       doctest::Contains("Tree: index 5 out of range for a list of 2"), Error);
  CHECK_THROWS_WITH_AS(t["b/c"], doctest::Contains("no key 'c' in a leaf float32[1] on cpu"),
                       Error);
  CHECK_THROWS_WITH_AS(t["a"].tensor(),
                       doctest::Contains("Tree::tensor: expected a leaf, found a map of 1 entries"),
                       Error);
  CHECK_THROWS_WITH_AS(static_cast<Tensor>(t["layers"]),
                       doctest::Contains("found a list of 2 elements"), Error);
  CHECK_THROWS_WITH_AS(t[0], doctest::Contains("cannot index a map of 3 entries with [0]"), Error);
  CHECK_THROWS_WITH_AS(t.elements(), doctest::Contains("Tree::elements: expected a list"), Error);
  CHECK_THROWS_WITH_AS(t["layers"].items(), doctest::Contains("Tree::items: expected a map"),
                       Error);
}

TEST_CASE("mutable operator[] builds nested maps") {
  Tree t;
  t["enc"]["w"] = vec({1});
  t["enc"]["b"] = vec({2});
  t["dec"] = vec({3});
  CHECK(paths(t) == std::vector<std::string>{"dec", "enc/b", "enc/w"});
  Tree leaf(vec({1}));
  CHECK_THROWS_WITH_AS(leaf["x"], doctest::Contains("cannot insert key 'x' into a leaf"), Error);
}

TEST_CASE("a copied Tree is a value: writes through operator[] copy only the written levels") {
  // Maps and lists are shared between copies until one side writes (tree.hpp).
  const Tree original = sample();
  Tree copy = original;
  copy["a"]["c"] = vec({9});          // nested map write
  copy["layers"][1]["w"] = vec({8});  // through a list element
  copy["new/key"] = vec({7});         // insertion
  CHECK(original["a/c"].tensor().to_vector<float>() == std::vector<float>{2, 3});
  CHECK(original["layers/1/w"].tensor().to_vector<float>() == std::vector<float>{5, 6, 7});
  CHECK_FALSE(original.contains("new"));
  CHECK(copy["a/c"].tensor().to_vector<float>() == std::vector<float>{9});
  CHECK(copy["layers/1/w"].tensor().to_vector<float>() == std::vector<float>{8});
  CHECK(copy["new/key"].tensor().to_vector<float>() == std::vector<float>{7});
  // Untouched subtrees are still shared: the same map object, not an equal one.
  CHECK(&copy["b"].tensor() != &original["b"].tensor());  // the top level was copied
  CHECK(&copy["layers/0"].items() == &original["layers/0"].items());
  // Writing the original leaves the copy alone too.
  Tree again = copy;
  Tree& b = again["b"];
  b = vec({6});
  CHECK(copy["b"].tensor().to_vector<float>() == std::vector<float>{1});
  CHECK(again["b"].tensor().to_vector<float>() == std::vector<float>{6});
}

TEST_CASE("a Tree assigned into its own subtree, or a subtree to its tree, behaves as a value") {
  // Sharing maps must not turn these into cycles or reads of freed maps (found in review).
  Tree t{{"w", vec({1})}};
  t["prev"] = t;  // prev = the tree before the assignment
  CHECK(t["prev/w"].tensor().to_vector<float>() == std::vector<float>{1});
  CHECK(t["prev/prev"].is_none());
  CHECK(t.num_leaves() == 2);
  Tree d{{"w", vec({2})}};
  d["a"]["b"] = d;  // two levels down: b = the tree once a/b exists, {a: {b: None}, w}
  CHECK(d["a/b/w"].tensor().to_vector<float>() == std::vector<float>{2});
  CHECK(d["a/b/a/b"].is_none());
  CHECK(d.num_leaves() == 2);
  Tree l = Tree::from_list({Tree{{"w", vec({3})}}});
  l = l[0];  // a list replaced by its map element
  REQUIRE(l.is_map());
  CHECK(l["w"].tensor().to_vector<float>() == std::vector<float>{3});
  Tree m{{"layers", Tree::from_list({Tree(vec({4}))})}};
  m = m["layers"];  // a map replaced by its list child
  REQUIRE(m.is_list());
  CHECK(m.size() == 1);
  Tree n{{"x", Tree{{"y", vec({5})}}}};
  n = std::move(n["x"]);
  CHECK(n["y"].tensor().to_vector<float>() == std::vector<float>{5});
  // A moved-from tree is None, not a map without storage.
  Tree from{{"k", vec({6})}};
  Tree to = std::move(from);
  CHECK(from.is_none());  // NOLINT(bugprone-use-after-move): the state is specified
  CHECK(from.size() == 0);
  CHECK(to["k"].tensor().to_vector<float>() == std::vector<float>{6});
}

TEST_CASE("flatten_with_paths is depth first with sorted keys and list order") {
  const Tree t = sample();
  CHECK(paths(t) == std::vector<std::string>{"a/c", "b", "layers/0/w", "layers/1/w"});
  const auto flat = t.flatten_with_paths();
  CHECK(flat[2].second.item<float>() == 4.0f);
  const std::vector<Tensor> leaves = t.leaves();
  CHECK(leaves[0].numel() == 2);
  CHECK(leaves[3].numel() == 3);
  // A bare leaf has the empty path.
  CHECK(paths(Tree(vec({1}))) == std::vector<std::string>{""});
}

TEST_CASE("unflatten rebuilds the structure and checks the leaf count") {
  const Tree t = sample();
  std::vector<Tensor> replacement;
  for (int i = 0; i < 4; ++i) replacement.push_back(vec({float(10 + i)}));
  const Tree u = t.unflatten(replacement);
  CHECK(paths(u) == paths(t));
  CHECK(u["a/c"].tensor().item<float>() == 10.0f);
  CHECK(u["layers/1/w"].tensor().item<float>() == 13.0f);
  CHECK(Tree::structure_difference(t, u).empty());
  CHECK_THROWS_WITH_AS(
      t.unflatten(std::vector<Tensor>(replacement.begin(), replacement.begin() + 1)),
      doctest::Contains("Tree::unflatten: got 1 leaves for a structure with 4"), Error);
}

TEST_CASE("map and map_with_path transform every leaf") {
  const Tree t = sample();
  const Tree d = t.map([](const Tensor& x) { return x.astype(DType::f64); });
  for (const Tensor& x : d.leaves()) CHECK(x.dtype() == DType::f64);
  CHECK(d["layers/1/w"].tensor().to_vector<double>() == std::vector<double>{5, 6, 7});
  std::vector<std::string> seen;
  const Tree same = t.map_with_path([&](const std::string& p, const Tensor& x) {
    seen.push_back(p);
    return x;
  });
  CHECK(seen == paths(t));
  CHECK(same["b"].tensor().storage() == t["b"].tensor().storage());
}

TEST_CASE("map2 pairs leaves and names the first structural difference") {
  const Tree a = sample();
  const Tree b = a.map([](const Tensor& x) { return x.astype(DType::i32); });
  const Tree pairs = Tree::map2(
      [](const Tensor& x, const Tensor& y) {
        CHECK(x.dtype() == DType::f32);
        CHECK(y.dtype() == DType::i32);
        CHECK(x.shape() == y.shape());
        return x;
      },
      a, b);
  CHECK(pairs.num_leaves() == 4);

  Tree missing = sample();
  Tree::Map m = missing.items();
  m.erase("b");
  CHECK_THROWS_WITH_AS(
      Tree::map2([](const Tensor& x, const Tensor&) { return x; }, a, Tree::from_map(m), "sgd"),
      doctest::Contains("sgd: the two trees differ in structure at the root: keys {a, b, layers} "
                        "vs {a, layers}"),
      Error);

  Tree shorter = sample();
  Tree::Map m2 = shorter.items();
  m2["layers"] = Tree::from_list({Tree{{"w", vec({4})}}});
  CHECK_THROWS_WITH_AS(
      Tree::map2([](const Tensor& x, const Tensor&) { return x; }, a, Tree::from_map(m2)),
      doctest::Contains("tree_map: the two trees differ in structure at 'layers': a list of 2 "
                        "elements vs a list of 1 elements"),
      Error);

  Tree::Map m3 = a.items();
  m3["a"] = Tree{{"c", Tree{{"deep", vec({1})}}}};
  CHECK(Tree::structure_difference(a, Tree::from_map(m3)) ==
        "at 'a/c': a leaf float32[2] on cpu vs a map of 1 entries");
}

TEST_CASE("Tree prints its structure") {
  std::ostringstream os;
  os << Tree{{"w", vec({1, 2})}, {"l", Tree::from_list({Tree(), Tree(vec({3}))})}};
  CHECK(os.str() == "{l: [None, float32[1] on cpu], w: float32[2] on cpu}");
}
