#include "elegy/model/states.hpp"

#include <algorithm>
#include <ostream>

namespace elegy {
namespace {
const Tree kNone;
}

States::States(std::initializer_list<std::pair<const std::string, Tree>> fields) {
  // As a std::map built from the list: sorted by name, the first of repeated names kept.
  auto sorted = std::make_shared<Fields>(fields.begin(), fields.end());
  std::stable_sort(sorted->begin(), sorted->end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  sorted->erase(std::unique(sorted->begin(), sorted->end(),
                            [](const auto& a, const auto& b) { return a.first == b.first; }),
                sorted->end());
  fields_ = std::move(sorted);
}

const States::Fields& States::entries() const {
  static const Fields kEmpty;
  return fields_ ? *fields_ : kEmpty;
}

const Tree* States::find(std::string_view field) const {
  for (const auto& [k, v] : entries())
    if (k == field) return &v;
  return nullptr;
}

const Tree& States::operator[](std::string_view field) const {
  const Tree* found = find(field);
  if (!found) {
    std::string present;
    for (const auto& f : fields()) present += (present.empty() ? "" : ", ") + f;
    fail("States", "no field '", field, "' (fields present: {", present,
         "}); add it with states.update(\"", field, "\", value)");
  }
  return *found;
}

bool States::has(std::string_view field) const {
  if (field == "rng") return has_rng();
  const Tree* found = find(field);
  return found && !found->is_none();
}

std::vector<std::string> States::fields() const {
  std::vector<std::string> out;
  if (rng_) out.push_back("rng");
  for (const auto& [k, v] : entries()) out.push_back(k);
  return out;
}

States States::update(std::string_view field, Tree value) const {
  ELEGY_CHECK(field != "rng", "States::update", "set the rng with update_rng(RngSeq)");
  auto fields = std::make_shared<Fields>();
  fields->reserve(entries().size() + 1);
  bool placed = false;
  for (const auto& [k, v] : entries()) {
    if (!placed && field <= k) {
      fields->emplace_back(std::string(field), std::move(value));
      placed = true;
      if (k == field) continue;
    }
    fields->emplace_back(k, v);
  }
  if (!placed) fields->emplace_back(std::string(field), std::move(value));
  States s = *this;
  s.fields_ = std::move(fields);
  return s;
}

States States::update(std::initializer_list<std::pair<std::string_view, Tree>> values) const {
  States s = *this;
  for (const auto& [k, v] : values) s = s.update(k, v);
  return s;
}

States States::maybe_update(std::initializer_list<std::pair<std::string_view, Tree>> values) const {
  States s = *this;
  for (const auto& [k, v] : values)
    if (!s.has(k)) s = s.update(k, v);
  return s;
}

States States::maybe_update(const States& other) const {
  States s = *this;
  if (!s.rng_ && other.rng_) s.rng_ = other.rng_;
  for (const auto& [k, v] : other.entries())
    if (!s.has(k)) s = s.update(k, v);
  return s;
}

const RngSeq& States::rng() const {
  ELEGY_CHECK(rng_.has_value(), "States::rng",
              "these states have no rng (a Model's states_step adds one, seeded by its seed)");
  return *rng_;
}

States States::update_rng(RngSeq rng) const {
  States s = *this;
  s.rng_ = rng;
  return s;
}

const Tree& States::field_or_none(std::string_view field) const {
  const Tree* found = find(field);
  return found ? *found : kNone;
}

std::vector<Tensor> States::leaves() const {
  std::vector<Tensor> out;
  for (const auto& [k, v] : entries()) {
    std::vector<Tensor> l = v.leaves();
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

States States::with_leaves(std::span<const Tensor> leaves) const {
  auto fields = std::make_shared<Fields>();
  fields->reserve(entries().size());
  std::size_t next = 0;
  for (const auto& [k, v] : entries()) {
    const std::size_t n = v.num_leaves();
    ELEGY_CHECK(next + n <= leaves.size(), "States::with_leaves", "got ", leaves.size(),
                " leaves for states with more");
    fields->emplace_back(k, v.unflatten(leaves.subspan(next, n)));
    next += n;
  }
  ELEGY_CHECK(next == leaves.size(), "States::with_leaves", "got ", leaves.size(),
              " leaves for states with ", next);
  States s;
  s.fields_ = std::move(fields);
  s.rng_ = rng_;
  return s;
}

bool States::same_structure(const States& a, const States& b) {
  const Fields &x = a.entries(), &y = b.entries();
  if (x.size() != y.size()) return false;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (x[i].first != y[i].first || !Tree::same_structure(x[i].second, y[i].second)) return false;
  return true;
}

bool States::uniquely_owned() const {
  if (fields_ && fields_.use_count() != 1) return false;
  for (const auto& [k, v] : entries())
    if (!v.uniquely_owned()) return false;
  return true;
}

std::vector<bool> States::leaves_uniquely_owned() const {
  std::vector<bool> out;
  const bool fields_unique = !fields_ || fields_.use_count() == 1;
  for (const auto& [k, v] : entries())
    out.resize(out.size() + v.num_leaves(), fields_unique && v.uniquely_owned());
  return out;
}

std::ostream& operator<<(std::ostream& os, const States& s) {
  os << "States(";
  bool first = true;
  if (s.rng_) {
    os << "rng=" << s.rng_->key();
    first = false;
  }
  for (const auto& [k, v] : s.entries()) {
    os << (first ? "" : ", ") << k << "=" << v;
    first = false;
  }
  return os << ")";
}

}  // namespace elegy
