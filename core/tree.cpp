#include "elegy/core/tree.hpp"

#include <atomic>
#include <ostream>
#include <sstream>
#include <vector>

#include "elegy/core/thread_pool.hpp"  // FunctionRef

namespace elegy {
namespace {

std::string join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "/" + key;
}

std::string kind_of(const Tree& t) {
  if (t.is_none()) return "None";
  if (t.is_leaf()) return "a leaf " + describe(t.tensor());
  if (t.is_map()) return "a map of " + std::to_string(t.size()) + " entries";
  return "a list of " + std::to_string(t.size()) + " elements";
}

std::string keys_of(const Tree::Map& m) {
  std::string out;
  for (const auto& [k, v] : m) out += (out.empty() ? "" : ", ") + k;
  return "{" + out + "}";
}

// A path segment that indexes a list: decimal digits only.
std::size_t list_index(std::string_view path, std::string_view key) {
  std::size_t index = 0;
  for (char c : key) {
    if (c < '0' || c > '9') fail("Tree", "path '", path, "': '", key, "' indexes a list");
    index = index * 10 + std::size_t(c - '0');
  }
  return index;
}

}  // namespace

Tree::Tree(Tensor leaf) : node_(std::move(leaf)) {}

Tree::Tree(std::initializer_list<std::pair<const std::string, Tree>> items)
    : node_(std::make_shared<Map>(items.begin(), items.end())) {}

Tree Tree::from_map(Map items) {
  Tree t;
  t.node_ = std::make_shared<Map>(std::move(items));
  return t;
}

Tree Tree::from_list(List items) {
  Tree t;
  t.node_ = std::make_shared<List>(std::move(items));
  return t;
}

Tree::Tree(Tree&& other) noexcept : node_(std::move(other.node_)) {
  other.node_ = std::monostate{};
}

// Both assignments take the right-hand side out first: it may live inside the container the
// old value owns (t = t["a"]), which replacing node_ frees.
// The old value is swapped out and dies last, after node_ holds the new one.
Tree& Tree::operator=(const Tree& other) {
  if (this == &other) return *this;
  Tree copy(other);
  copy.unshare_path_to(this);
  node_.swap(copy.node_);
  return *this;
}

Tree& Tree::operator=(Tree&& other) noexcept {
  if (this == &other) return *this;
  Tree taken(std::move(other));
  node_.swap(taken.node_);
  return *this;
}

namespace {

// Whether the Tree object `target` lies inside t's maps and lists.
bool holds(const Tree& t, const Tree* target) {
  if (t.is_map()) {
    for (const auto& [k, v] : t.items())
      if (&v == target || holds(v, target)) return true;
  } else if (t.is_list()) {
    for (const Tree& v : t.elements())
      if (&v == target || holds(v, target)) return true;
  }
  return false;
}

// The use count was read relaxed; when it says this tree is the only owner, the acquire fence
// orders this thread's writes after whatever the other (now released) owners did with it.
template <class Container>
Container& unshared(std::shared_ptr<Container>& c) {
  if (c.use_count() > 1)
    c = std::make_shared<Container>(*c);
  else
    std::atomic_thread_fence(std::memory_order_acquire);
  return *c;
}

}  // namespace

Tree::Map& Tree::own_map() {
  return unshared(std::get<std::shared_ptr<Map>>(node_));
}

Tree::List& Tree::own_list() {
  return unshared(std::get<std::shared_ptr<List>>(node_));
}

void Tree::unshare_path_to(const Tree* target) {
  if (is_map()) {
    for (const auto& [k, v] : items()) {
      if (&v != target && !holds(v, target)) continue;
      const std::string key = k;  // own_map() may copy the map `v` lives in
      Tree& child = own_map().find(key)->second;
      if (&child != target) child.unshare_path_to(target);
      return;
    }
  } else if (is_list()) {
    const List& l = elements();
    for (std::size_t i = 0; i < l.size(); ++i) {
      if (&l[i] != target && !holds(l[i], target)) continue;
      Tree& child = own_list()[i];
      if (&child != target) child.unshare_path_to(target);
      return;
    }
  }
}

const Tensor& Tree::tensor() const {
  if (!is_leaf()) fail("Tree::tensor", "expected a leaf, found ", kind_of(*this));
  return std::get<Tensor>(node_);
}

const Tree& Tree::operator[](std::string_view path) const {
  const Tree* t = this;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    const std::string_view key = path.substr(start, slash - start);
    if (t->is_list()) {
      t = &(*t)[list_index(path, key)];
    } else {
      if (!t->is_map()) fail("Tree", "path '", path, "': no key '", key, "' in ", kind_of(*t));
      const Map& m = t->items();
      auto it = m.find(key);
      if (it == m.end())
        fail("Tree", "path '", path, "': no key '", key, "' (keys present: ", keys_of(m), ")");
      t = &it->second;
    }
    if (slash == std::string_view::npos) return *t;
    start = slash + 1;
  }
}

Tree& Tree::operator[](std::string_view path) {
  Tree* t = this;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    const std::string_view key = path.substr(start, slash - start);
    if (t->is_list()) {
      t = &(*t)[list_index(path, key)];
    } else {
      if (t->is_none()) t->node_ = std::make_shared<Map>();
      if (!t->is_map())
        fail("Tree", "path '", path, "': cannot insert key '", key, "' into ", kind_of(*t));
      Map& m = t->own_map();
      auto it = m.find(key);
      if (it == m.end()) it = m.emplace(std::string(key), Tree()).first;
      t = &it->second;
    }
    if (slash == std::string_view::npos) return *t;
    start = slash + 1;
  }
}

const Tree& Tree::operator[](std::size_t index) const {
  if (!is_list()) fail("Tree", "cannot index ", kind_of(*this), " with [", index, "]");
  const List& l = elements();
  if (index >= l.size()) fail("Tree", "index ", index, " out of range for a list of ", l.size());
  return l[index];
}

Tree& Tree::operator[](std::size_t index) {
  (void)static_cast<const Tree&>(*this)[index];  // the checks
  return own_list()[index];
}

bool Tree::contains(std::string_view path) const {
  try {
    (void)(*this)[path];
    return true;
  } catch (const Error&) {
    return false;
  }
}

std::size_t Tree::size() const {
  if (is_map()) return items().size();
  if (is_list()) return elements().size();
  return 0;
}

const Tree::Map& Tree::items() const {
  if (!is_map()) fail("Tree::items", "expected a map, found ", kind_of(*this));
  return *std::get<std::shared_ptr<Map>>(node_);
}

const Tree::List& Tree::elements() const {
  if (!is_list()) fail("Tree::elements", "expected a list, found ", kind_of(*this));
  return *std::get<std::shared_ptr<List>>(node_);
}

namespace {

// The leaves in flatten order, without building their paths (leaves() runs several times per
// training step; the paths cost a string per node).
void collect_leaves(const Tree& t, std::vector<Tensor>& out) {
  if (t.is_leaf()) {
    out.push_back(t.tensor());
  } else if (t.is_map()) {
    for (const auto& [k, v] : t.items()) collect_leaves(v, out);
  } else if (t.is_list()) {
    for (const Tree& v : t.elements()) collect_leaves(v, out);
  }
}

}  // namespace

std::vector<Tensor> Tree::leaves() const {
  std::vector<Tensor> out;
  out.reserve(num_leaves());
  collect_leaves(*this, out);
  return out;
}

std::size_t Tree::num_leaves() const {
  if (is_leaf()) return 1;
  std::size_t n = 0;
  if (is_map())
    for (const auto& [k, v] : items()) n += v.num_leaves();
  if (is_list())
    for (const auto& v : elements()) n += v.num_leaves();
  return n;
}

namespace {
void flatten_into(const Tree& t, const std::string& prefix,
                  std::vector<std::pair<std::string, Tensor>>& out) {
  if (t.is_leaf()) {
    out.emplace_back(prefix, t.tensor());
  } else if (t.is_map()) {
    for (const auto& [k, v] : t.items()) flatten_into(v, join(prefix, k), out);
  } else if (t.is_list()) {
    for (std::size_t i = 0; i < t.size(); ++i)
      flatten_into(t.elements()[i], join(prefix, std::to_string(i)), out);
  }
}

// The same structure with leaf t replaced by fn(t), in flatten order; no paths.
Tree rebuild_leaves(const Tree& t, FunctionRef<Tensor(const Tensor&)> fn) {
  if (t.is_leaf()) return Tree(fn(t.tensor()));
  if (t.is_map()) {
    Tree::Map m;
    for (const auto& [k, v] : t.items()) m.emplace(k, rebuild_leaves(v, fn));
    return Tree::from_map(std::move(m));
  }
  if (t.is_list()) {
    Tree::List l;
    l.reserve(t.size());
    for (const Tree& v : t.elements()) l.push_back(rebuild_leaves(v, fn));
    return Tree::from_list(std::move(l));
  }
  return Tree();
}

Tree rebuild(const Tree& t, const std::string& prefix,
             const std::function<Tensor(const std::string&, const Tensor&)>& fn) {
  if (t.is_leaf()) return Tree(fn(prefix, t.tensor()));
  if (t.is_map()) {
    Tree::Map m;
    for (const auto& [k, v] : t.items()) m.emplace(k, rebuild(v, join(prefix, k), fn));
    return Tree::from_map(std::move(m));
  }
  if (t.is_list()) {
    Tree::List l;
    for (std::size_t i = 0; i < t.size(); ++i)
      l.push_back(rebuild(t.elements()[i], join(prefix, std::to_string(i)), fn));
    return Tree::from_list(std::move(l));
  }
  return Tree();
}

std::string difference(const Tree& a, const Tree& b, const std::string& path) {
  const std::string where = path.empty() ? "the root" : "'" + path + "'";
  if (a.is_leaf() && b.is_leaf()) return "";
  if (a.is_none() && b.is_none()) return "";
  if (a.is_map() && b.is_map()) {
    auto ia = a.items().begin(), ib = b.items().begin();
    for (; ia != a.items().end() && ib != b.items().end(); ++ia, ++ib) {
      if (ia->first != ib->first)
        return "at " + where + ": keys " + keys_of(a.items()) + " vs " + keys_of(b.items());
      std::string d = difference(ia->second, ib->second, join(path, ia->first));
      if (!d.empty()) return d;
    }
    if (a.size() != b.size())
      return "at " + where + ": keys " + keys_of(a.items()) + " vs " + keys_of(b.items());
    return "";
  }
  if (a.is_list() && b.is_list()) {
    if (a.size() != b.size()) return "at " + where + ": " + kind_of(a) + " vs " + kind_of(b);
    for (std::size_t i = 0; i < a.size(); ++i) {
      std::string d = difference(a.elements()[i], b.elements()[i], join(path, std::to_string(i)));
      if (!d.empty()) return d;
    }
    return "";
  }
  return "at " + where + ": " + kind_of(a) + " vs " + kind_of(b);
}
}  // namespace

std::vector<std::pair<std::string, Tensor>> Tree::flatten_with_paths() const {
  std::vector<std::pair<std::string, Tensor>> out;
  flatten_into(*this, "", out);
  return out;
}

bool Tree::same_structure(const Tree& a, const Tree& b) {
  if (a.node_.index() != b.node_.index()) return false;
  if (a.is_map()) {
    const Map &x = a.items(), &y = b.items();
    if (x.size() != y.size()) return false;
    for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j)
      if (i->first != j->first || !same_structure(i->second, j->second)) return false;
  } else if (a.is_list()) {
    const List &x = a.elements(), &y = b.elements();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!same_structure(x[i], y[i])) return false;
  }
  return true;
}

bool Tree::uniquely_owned() const {
  if (const auto* m = std::get_if<std::shared_ptr<Map>>(&node_)) {
    if (m->use_count() != 1) return false;
    for (const auto& [k, v] : **m)
      if (!v.uniquely_owned()) return false;
  } else if (const auto* l = std::get_if<std::shared_ptr<List>>(&node_)) {
    if (l->use_count() != 1) return false;
    for (const Tree& v : **l)
      if (!v.uniquely_owned()) return false;
  }
  return true;
}

Tree Tree::unflatten(std::span<const Tensor> leaves) const {
  const std::size_t expected = num_leaves();
  if (leaves.size() != expected)
    fail("Tree::unflatten", "got ", leaves.size(), " leaves for a structure with ", expected);
  std::size_t next = 0;
  return rebuild_leaves(*this, [&](const Tensor&) { return leaves[next++]; });
}

Tree Tree::map(const std::function<Tensor(const Tensor&)>& fn) const {
  return rebuild_leaves(*this, [&](const Tensor& t) { return fn(t); });
}

Tree Tree::map_with_path(const std::function<Tensor(const std::string&, const Tensor&)>& fn) const {
  return rebuild(*this, "", fn);
}

Tree Tree::map2(const std::function<Tensor(const Tensor&, const Tensor&)>& fn, const Tree& a,
                const Tree& b, std::string_view op) {
  const std::string d = difference(a, b, "");
  if (!d.empty()) fail(op, "the two trees differ in structure ", d);
  const std::vector<Tensor> lb = b.leaves();
  std::size_t next = 0;
  return rebuild_leaves(a, [&](const Tensor& t) { return fn(t, lb[next++]); });
}

std::string Tree::structure_difference(const Tree& a, const Tree& b) {
  return difference(a, b, "");
}

std::int64_t Tree::numel() const {
  std::int64_t n = 0;
  for (const Tensor& t : leaves()) n += t.numel();
  return n;
}

std::ostream& operator<<(std::ostream& os, const Tree& tree) {
  if (tree.is_none()) return os << "None";
  if (tree.is_leaf()) return os << describe(tree.tensor());
  if (tree.is_list()) {
    os << '[';
    for (std::size_t i = 0; i < tree.size(); ++i) os << (i ? ", " : "") << tree.elements()[i];
    return os << ']';
  }
  os << '{';
  bool first = true;
  for (const auto& [k, v] : tree.items()) {
    os << (first ? "" : ", ") << k << ": " << v;
    first = false;
  }
  return os << '}';
}

}  // namespace elegy
