// A small JSON value with a strict parser and a writer: enough for safetensors headers and
// checkpoint manifests, with every malformed input reported as an Error (depth-limited, no
// recursion blow-up on hostile files).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace elegy::io {

class Json {
 public:
  enum class Kind { null, boolean, number, string, array, object };
  using Array = std::vector<Json>;
  using Object = std::map<std::string, Json, std::less<>>;

  Json() = default;
  static Json boolean(bool b);
  static Json number(double v);
  static Json integer(std::int64_t v);
  static Json string(std::string s);
  static Json array(Array items);
  static Json object(Object items);

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::null; }
  bool is_object() const { return kind_ == Kind::object; }
  bool is_array() const { return kind_ == Kind::array; }
  bool is_string() const { return kind_ == Kind::string; }
  bool is_number() const { return kind_ == Kind::number; }

  // Accessors raise an Error naming `what` when the kind differs.
  bool as_bool(const char* what) const;
  double as_double(const char* what) const;
  std::int64_t as_int(const char* what) const;  // Error unless a whole number in range
  const std::string& as_string(const char* what) const;
  const Array& as_array(const char* what) const;
  const Object& as_object(const char* what) const;
  // Member of an object, or nullptr.
  const Json* find(std::string_view key) const;

  std::string dump() const;

 private:
  Kind kind_ = Kind::null;
  bool bool_ = false;
  double number_ = 0.0;
  std::string string_;  // the string, or a number's exact text
  std::shared_ptr<Array> array_;
  std::shared_ptr<Object> object_;
};

// Parses the whole text (trailing whitespace only); Error "<what>: invalid JSON at byte N: ...".
Json parse_json(std::string_view text, const char* what);

}  // namespace elegy::io
