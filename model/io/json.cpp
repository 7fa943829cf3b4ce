#include "elegy/model/io/json.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "elegy/core/error.hpp"

namespace elegy::io {

Json Json::boolean(bool b) {
  Json j;
  j.kind_ = Kind::boolean;
  j.bool_ = b;
  return j;
}
Json Json::number(double v) {
  Json j;
  j.kind_ = Kind::number;
  j.number_ = v;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  j.string_ = buf;
  return j;
}
Json Json::integer(std::int64_t v) {
  Json j;
  j.kind_ = Kind::number;
  j.number_ = double(v);
  j.string_ = std::to_string(v);
  return j;
}
Json Json::string(std::string s) {
  Json j;
  j.kind_ = Kind::string;
  j.string_ = std::move(s);
  return j;
}
Json Json::array(Array items) {
  Json j;
  j.kind_ = Kind::array;
  j.array_ = std::make_shared<Array>(std::move(items));
  return j;
}
Json Json::object(Object items) {
  Json j;
  j.kind_ = Kind::object;
  j.object_ = std::make_shared<Object>(std::move(items));
  return j;
}

bool Json::as_bool(const char* what) const {
  ELEGY_CHECK(kind_ == Kind::boolean, what, "expected a JSON boolean");
  return bool_;
}
double Json::as_double(const char* what) const {
  ELEGY_CHECK(kind_ == Kind::number, what, "expected a JSON number");
  return number_;
}
std::int64_t Json::as_int(const char* what) const {
  ELEGY_CHECK(kind_ == Kind::number, what, "expected a JSON integer");
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(string_.c_str(), &end, 10);
  ELEGY_CHECK(errno == 0 && end && *end == '\0', what, "expected a JSON integer, got ", string_);
  return v;
}
const std::string& Json::as_string(const char* what) const {
  ELEGY_CHECK(kind_ == Kind::string, what, "expected a JSON string");
  return string_;
}
const Json::Array& Json::as_array(const char* what) const {
  ELEGY_CHECK(kind_ == Kind::array, what, "expected a JSON array");
  return *array_;
}
const Json::Object& Json::as_object(const char* what) const {
  ELEGY_CHECK(kind_ == Kind::object, what, "expected a JSON object");
  return *object_;
}
const Json* Json::find(std::string_view key) const {
  if (kind_ != Kind::object) return nullptr;
  const auto it = object_->find(key);
  return it == object_->end() ? nullptr : &it->second;
}

namespace {

void dump_string(std::string& out, const std::string& s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void dump_to(std::string& out, const Json& j) {
  switch (j.kind()) {
    case Json::Kind::null:
      out += "null";
      break;
    case Json::Kind::boolean:
      out += j.as_bool("json") ? "true" : "false";
      break;
    case Json::Kind::number: {
      const double v = j.as_double("json");
      if (v == std::floor(v) && std::abs(v) < 9e15) {
        out += std::to_string(j.as_int("json"));
      } else {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", v);
        out += buf;
      }
      break;
    }
    case Json::Kind::string:
      dump_string(out, j.as_string("json"));
      break;
    case Json::Kind::array: {
      out += '[';
      bool first = true;
      for (const Json& item : j.as_array("json")) {
        if (!first) out += ',';
        first = false;
        dump_to(out, item);
      }
      out += ']';
      break;
    }
    case Json::Kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, v] : j.as_object("json")) {
        if (!first) out += ',';
        first = false;
        dump_string(out, k);
        out += ':';
        dump_to(out, v);
      }
      out += '}';
      break;
    }
  }
}

class Parser {
 public:
  Parser(std::string_view text, const char* what) : s_(text), what_(what) {}

  Json parse_document() {
    Json v = value(0);
    skip_ws();
    if (pos_ != s_.size()) error("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void error(const char* msg) const {
    fail(what_, "invalid JSON at byte ", pos_, ": ", msg);
  }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  char peek() {
    skip_ws();
    if (pos_ >= s_.size()) error("unexpected end of input");
    return s_[pos_];
  }
  void expect(char c) {
    if (peek() != c) error("unexpected character");
    ++pos_;
  }
  bool match(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Json value(int depth) {
    if (depth > 64) error("nested too deeply");
    const char c = peek();
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') return Json::string(string());
    if (match("true")) return Json::boolean(true);
    if (match("false")) return Json::boolean(false);
    if (match("null")) return Json();
    return number();
  }

  Json object(int depth) {
    expect('{');
    Json::Object items;
    if (peek() == '}') {
      ++pos_;
      return Json::object(std::move(items));
    }
    while (true) {
      if (peek() != '"') error("expected a key");
      std::string key = string();
      expect(':');
      Json v = value(depth + 1);
      if (!items.emplace(std::move(key), std::move(v)).second) error("duplicate key");
      const char c = peek();
      ++pos_;
      if (c == '}') break;
      if (c != ',') error("expected ',' or '}'");
    }
    return Json::object(std::move(items));
  }

  Json array(int depth) {
    expect('[');
    Json::Array items;
    if (peek() == ']') {
      ++pos_;
      return Json::array(std::move(items));
    }
    while (true) {
      items.push_back(value(depth + 1));
      const char c = peek();
      ++pos_;
      if (c == ']') break;
      if (c != ',') error("expected ',' or ']'");
    }
    return Json::array(std::move(items));
  }

  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) error("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) error("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          if (pos_ + 4 > s_.size()) error("short \\u escape");
          unsigned code = 0;
          for (int i = 0; i < 4; ++i) {
            const char h = s_[pos_++];
            code <<= 4;
            if (h >= '0' && h <= '9')
              code |= unsigned(h - '0');
            else if (h >= 'a' && h <= 'f')
              code |= unsigned(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F')
              code |= unsigned(h - 'A' + 10);
            else
              error("bad \\u escape");
          }
          // UTF-8 of the code unit (surrogate pairs are kept as two 3-byte sequences).
          if (code < 0x80) {
            out += char(code);
          } else if (code < 0x800) {
            out += char(0xC0 | (code >> 6));
            out += char(0x80 | (code & 0x3F));
          } else {
            out += char(0xE0 | (code >> 12));
            out += char(0x80 | ((code >> 6) & 0x3F));
            out += char(0x80 | (code & 0x3F));
          }
          break;
        }
        default:
          error("bad escape");
      }
    }
    return out;
  }

  Json number() {
    const std::size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    bool digits = false, integral = true;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c >= '0' && c <= '9') {
        digits = true;
      } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
        integral = false;
      } else {
        break;
      }
      ++pos_;
    }
    if (!digits) error("unexpected character");
    const std::string text(s_.substr(start, pos_ - start));
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (!end || *end != '\0' || !std::isfinite(v)) error("bad number");
    if (integral) {
      errno = 0;
      const long long i = std::strtoll(text.c_str(), &end, 10);
      if (errno == 0 && end && *end == '\0') return Json::integer(i);
    }
    return Json::number(v);
  }

  std::string_view s_;
  const char* what_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string Json::dump() const {
  std::string out;
  dump_to(out, *this);
  return out;
}

Json parse_json(std::string_view text, const char* what) {
  return Parser(text, what).parse_document();
}

}  // namespace elegy::io
