#include "elegy/model/io/safetensors.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>

#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/error.hpp"
#include "elegy/model/io/json.hpp"

namespace elegy::io {
namespace {

constexpr const char* kWho = "safetensors";

const char* dtype_code(DType d) {
  switch (d) {
    case DType::bool_:
      return "BOOL";
    case DType::u8:
      return "U8";
    case DType::i32:
      return "I32";
    case DType::i64:
      return "I64";
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
  }
  return "?";
}

bool parse_dtype(const std::string& code, DType& out) {
  for (DType d : {DType::bool_, DType::u8, DType::i32, DType::i64, DType::f32, DType::f64})
    if (code == dtype_code(d)) {
      out = d;
      return true;
    }
  return false;
}

}  // namespace

std::string encode_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  Json::Object header;
  std::set<std::string> names;
  std::vector<Tensor> hosted;
  std::int64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    ELEGY_CHECK(!name.empty() && name != "__metadata__", kWho, "invalid tensor name '", name, "'");
    ELEGY_CHECK(names.insert(name).second, kWho, "duplicate tensor name '", name, "'");
    ELEGY_CHECK(t.defined(), kWho, "tensor '", name, "' is undefined");
    const Tensor h = contiguous(t.to(Device::cpu()));
    const std::int64_t bytes = std::int64_t(h.nbytes());
    Json::Array shape;
    for (std::int64_t d : h.shape()) shape.push_back(Json::integer(d));
    header[name] = Json::object(
        {{"dtype", Json::string(dtype_code(h.dtype()))},
         {"shape", Json::array(std::move(shape))},
         {"data_offsets", Json::array({Json::integer(offset), Json::integer(offset + bytes)})}});
    offset += bytes;
    hosted.push_back(h);
  }
  if (!metadata.empty()) {
    Json::Object meta;
    for (const auto& [k, v] : metadata) meta[k] = Json::string(v);
    header["__metadata__"] = Json::object(std::move(meta));
  }
  std::string json = Json::object(std::move(header)).dump();
  while ((8 + json.size()) % 8 != 0) json += ' ';  // data starts 8-byte aligned
  std::string out(8, '\0');
  const std::uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[std::size_t(i)] = char((n >> (8 * i)) & 0xFF);
  out += json;
  out.reserve(out.size() + std::size_t(offset));
  for (const Tensor& h : hosted) out.append(static_cast<const char*>(h.raw_data()), h.nbytes());
  return out;
}

SafetensorsFile decode_safetensors(const std::string& bytes, const std::string& source) {
  const std::string who = std::string(kWho) + " '" + source + "'";
  ELEGY_CHECK(bytes.size() >= 8, who.c_str(), "is ", bytes.size(),
              " bytes long, shorter than the 8-byte header length");
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= std::uint64_t(static_cast<unsigned char>(bytes[std::size_t(i)])) << (8 * i);
  ELEGY_CHECK(n <= bytes.size() - 8, who.c_str(), "declares a ", n, "-byte header but only ",
              bytes.size() - 8, " bytes follow (truncated?)");
  const Json header = parse_json(std::string_view(bytes).substr(8, std::size_t(n)), who.c_str());
  ELEGY_CHECK(header.is_object(), who.c_str(), "the header is not a JSON object");
  const std::size_t data_start = 8 + std::size_t(n);
  const std::uint64_t data_size = bytes.size() - data_start;

  SafetensorsFile out;
  struct Entry {
    std::uint64_t begin, end;
    std::string name;
    DType dtype;
    Shape shape;
  };
  std::vector<Entry> entries;
  for (const auto& [name, spec] : header.as_object(who.c_str())) {
    if (name == "__metadata__") {
      for (const auto& [k, v] : spec.as_object(who.c_str()))
        out.metadata[k] = v.as_string((who + ": __metadata__/" + k).c_str());
      continue;
    }
    const std::string what = who + ": tensor '" + name + "'";
    ELEGY_CHECK(spec.is_object(), what.c_str(), "is not a JSON object");
    const Json* dt = spec.find("dtype");
    const Json* sh = spec.find("shape");
    const Json* off = spec.find("data_offsets");
    ELEGY_CHECK(dt && sh && off, what.c_str(), "needs dtype, shape and data_offsets");
    Entry e;
    e.name = name;
    ELEGY_CHECK(parse_dtype(dt->as_string(what.c_str()), e.dtype), what.c_str(),
                "has an unsupported dtype '", dt->as_string(what.c_str()),
                "' (supported: BOOL U8 I32 I64 F32 F64)");
    std::vector<std::int64_t> dims;
    // extent, the product of max(dim, 1), bounds the int64 strides as well: a zero dimension
    // keeps numel at 0 but not the strides of the dimensions after it.
    std::uint64_t numel = 1, extent = 1;
    for (const Json& d : sh->as_array(what.c_str())) {
      const std::int64_t v = d.as_int(what.c_str());
      ELEGY_CHECK(v >= 0 && v < (std::int64_t(1) << 40), what.c_str(), "has a bad dimension ", v);
      dims.push_back(v);
      // Checked before multiplying: 2^49 x 2^39 would wrap around 64 bits.
      const std::uint64_t at_least_one = std::max<std::uint64_t>(std::uint64_t(v), 1);
      ELEGY_CHECK(extent < (std::uint64_t(1) << 50) / at_least_one, what.c_str(),
                  "is impossibly large");
      extent *= at_least_one;
      numel *= std::uint64_t(v);
    }
    ELEGY_CHECK(int(dims.size()) <= kMaxRank, what.c_str(), "has rank ", dims.size(), " (at most ",
                kMaxRank, ")");
    e.shape = Shape(dims);
    const Json::Array& o = off->as_array(what.c_str());
    ELEGY_CHECK(o.size() == 2, what.c_str(), "data_offsets must be [begin, end]");
    const std::int64_t b = o[0].as_int(what.c_str()), en = o[1].as_int(what.c_str());
    ELEGY_CHECK(b >= 0 && en >= b && std::uint64_t(en) <= data_size, what.c_str(), "data_offsets [",
                b, ", ", en, "] fall outside the ", data_size, " data bytes (truncated?)");
    e.begin = std::uint64_t(b);
    e.end = std::uint64_t(en);
    ELEGY_CHECK(e.end - e.begin == numel * elegy::itemsize(e.dtype), what.c_str(), "holds ",
                e.end - e.begin, " bytes but ", elegy::name(e.dtype), e.shape, " needs ",
                numel * elegy::itemsize(e.dtype));
    entries.push_back(std::move(e));
  }
  // The data must be covered exactly, in order, without overlap or holes.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin < b.begin || (a.begin == b.begin && a.end < b.end);
  });
  std::uint64_t expected = 0;
  for (const Entry& e : entries) {
    ELEGY_CHECK(e.begin == expected, who.c_str(), "tensor '", e.name, "' starts at byte ", e.begin,
                " but the previous data ends at ", expected, " (overlap or hole)");
    expected = e.end;
  }
  ELEGY_CHECK(expected == data_size, who.c_str(), "the tensors cover ", expected, " of ", data_size,
              " data bytes");
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype, Device::cpu());
    if (e.end > e.begin)
      std::memcpy(t.raw_data(), bytes.data() + data_start + e.begin, std::size_t(e.end - e.begin));
    if (e.dtype == DType::bool_) {
      for (std::uint64_t i = e.begin; i < e.end; ++i) {
        const unsigned char c = static_cast<unsigned char>(bytes[data_start + std::size_t(i)]);
        ELEGY_CHECK(c <= 1, who.c_str(), "tensor '", e.name, "' holds a bool byte ", int(c));
      }
    }
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

void write_file_atomically(const std::string& path, const std::string& bytes, const char* who) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ELEGY_CHECK(fd >= 0, who, "cannot create '", tmp, "': ", std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      fail(who, "cannot write '", tmp, "': ", std::strerror(err));
    }
    done += std::size_t(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail(who, "cannot flush '", tmp, "': ", std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail(who, "cannot rename '", tmp, "' to '", path, "': ", std::strerror(err));
  }
}

std::string read_file(const std::string& path, const char* who) {
  std::ifstream in(path, std::ios::binary);
  ELEGY_CHECK(in.good(), who, "cannot open '", path, "': ", std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ELEGY_CHECK(!in.bad(), who, "cannot read '", path, "'");
  return bytes;
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  write_file_atomically(path, encode_safetensors(tensors, metadata), kWho);
}

SafetensorsFile load_safetensors(const std::string& path) {
  return decode_safetensors(read_file(path, kWho), path);
}

}  // namespace elegy::io
