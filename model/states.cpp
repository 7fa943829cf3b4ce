#include "elegy/model/states.hpp"

#include <ostream>

namespace elegy {
namespace {
const Tree kNone;
}

const States::Fields& States::map() const {
  static const Fields kEmpty;
  return fields_ ? *fields_ : kEmpty;
}

const Tree& States::operator[](std::string_view field) const {
  auto it = map().find(field);
  if (it == map().end()) {
    std::string present;
    for (const auto& f : fields()) present += (present.empty() ? "" : ", ") + f;
    fail("States", "no field '", field, "' (fields present: {", present,
         "}); add it with states.update(\"", field, "\", value)");
  }
  return it->second;
}

bool States::has(std::string_view field) const {
  if (field == "rng") return has_rng();
  auto it = map().find(field);
  return it != map().end() && !it->second.is_none();
}

std::vector<std::string> States::fields() const {
  std::vector<std::string> out;
  if (rng_) out.push_back("rng");
  for (const auto& [k, v] : map()) out.push_back(k);
  return out;
}

States States::update(std::string_view field, Tree value) const {
  ELEGY_CHECK(field != "rng", "States::update", "set the rng with update_rng(RngSeq)");
  auto fields = std::make_shared<Fields>(map());
  auto it = fields->find(field);
  if (it == fields->end())
    fields->emplace(std::string(field), std::move(value));
  else
    it->second = std::move(value);
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
  for (const auto& [k, v] : other.map())
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
  auto it = map().find(field);
  return it == map().end() ? kNone : it->second;
}

std::ostream& operator<<(std::ostream& os, const States& s) {
  os << "States(";
  bool first = true;
  if (s.rng_) {
    os << "rng=" << s.rng_->key();
    first = false;
  }
  for (const auto& [k, v] : s.map()) {
    os << (first ? "" : ", ") << k << "=" << v;
    first = false;
  }
  return os << ")";
}

}  // namespace elegy
