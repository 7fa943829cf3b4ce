#include "elegy/model/data/readers.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <sstream>

#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/error.hpp"
#include "elegy/model/io/safetensors.hpp"

namespace elegy::data {
namespace {

std::uint32_t be32(const unsigned char* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}
std::uint16_t le16(const std::string& s, std::size_t at) {
  return std::uint16_t(static_cast<unsigned char>(s[at]) | static_cast<unsigned char>(s[at + 1])
                                                               << 8);
}
std::uint32_t le32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= std::uint32_t(static_cast<unsigned char>(s[at + std::size_t(i)])) << (8 * i);
  return v;
}
std::uint64_t le64(const std::string& s, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= std::uint64_t(static_cast<unsigned char>(s[at + std::size_t(i)])) << (8 * i);
  return v;
}
void put16(std::string& s, std::uint32_t v) {
  s += char(v & 0xFF);
  s += char((v >> 8) & 0xFF);
}
void put32(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s += char((v >> (8 * i)) & 0xFF);
}

// Deflate cannot expand data more than 1032:1 (a 258-byte match costs at least two bits), so a
// claimed size beyond that is a lie, rejected before it is allocated.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

// Raw-deflate a zip member's data.
std::string inflate_raw(const std::string& in, std::uint64_t expected, const std::string& who) {
  ELEGY_CHECK(expected <= (std::uint64_t(in.size()) + 1) * kMaxDeflateRatio, who.c_str(), "claims ",
              expected, " uncompressed bytes from ", in.size(),
              " deflated ones (more than deflate's 1032:1 limit)");
  std::string out(std::size_t(expected), '\0');
  z_stream zs{};
  ELEGY_CHECK(inflateInit2(&zs, -15) == Z_OK, who.c_str(), "cannot start zlib inflate");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = uInt(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = uInt(out.size());
  const int rc = inflate(&zs, Z_FINISH);
  const std::uint64_t produced = zs.total_out;
  inflateEnd(&zs);
  ELEGY_CHECK(rc == Z_STREAM_END && produced == expected, who.c_str(),
              "corrupt deflated data (zlib code ", rc, ", ", produced, " of ", expected, " bytes)");
  return out;
}

bool npy_dtype(const std::string& descr, DType& d, std::size_t& size) {
  static const std::array<std::pair<const char*, DType>, 10> table = {{{"<f4", DType::f32},
                                                                       {"<f8", DType::f64},
                                                                       {"<i4", DType::i32},
                                                                       {"<i8", DType::i64},
                                                                       {"|u1", DType::u8},
                                                                       {"<u1", DType::u8},
                                                                       {"|b1", DType::bool_},
                                                                       {"<b1", DType::bool_},
                                                                       {"u1", DType::u8},
                                                                       {"b1", DType::bool_}}};
  for (const auto& [code, dtype] : table)
    if (descr == code) {
      d = dtype;
      size = elegy::itemsize(dtype);
      return true;
    }
  return false;
}

const char* npy_descr(DType d) {
  switch (d) {
    case DType::f32:
      return "<f4";
    case DType::f64:
      return "<f8";
    case DType::i32:
      return "<i4";
    case DType::i64:
      return "<i8";
    case DType::u8:
      return "|u1";
    case DType::bool_:
      return "|b1";
  }
  return "?";
}

// The element count of a shape read from a file header, checked against the `data_bytes` that
// follow before anything is allocated. A hostile header may claim 2^60 elements, dimensions whose
// product wraps around 64 bits (and then matches a small file), or a zero-sized shape whose other
// dimensions overflow the int64 strides; the bound on the product of max(dim, 1) rules out all
// three.
std::uint64_t checked_numel(const std::vector<std::int64_t>& dims, std::size_t item,
                            std::uint64_t data_bytes, const std::string& who) {
  const std::uint64_t limit = (std::uint64_t(1) << 62) / item;
  std::uint64_t numel = 1, extent = 1;
  for (const std::int64_t d : dims) {
    const std::uint64_t at_least_one = std::max<std::uint64_t>(std::uint64_t(d), 1);
    ELEGY_CHECK(extent <= limit / at_least_one, who.c_str(), "has an impossibly large shape ",
                Shape(dims));
    extent *= at_least_one;
    numel *= std::uint64_t(d);
  }
  ELEGY_CHECK(data_bytes == numel * item, who.c_str(), "holds ", data_bytes,
              " data bytes, expected ", numel * item, " for shape ", Shape(dims));
  return numel;
}

// The value text of key `key` in numpy's header dict ("{'descr': '<f4', ...}").
std::string dict_value(const std::string& header, const std::string& key, const std::string& who) {
  const std::string k = "'" + key + "'";
  const std::size_t at = header.find(k);
  ELEGY_CHECK(at != std::string::npos, who.c_str(), "the NPY header has no ", k, ": ", header);
  std::size_t p = header.find(':', at + k.size());
  ELEGY_CHECK(p != std::string::npos, who.c_str(), "malformed NPY header: ", header);
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  std::size_t end = p;
  if (p < header.size() && header[p] == '(') {
    end = header.find(')', p);
    ELEGY_CHECK(end != std::string::npos, who.c_str(), "malformed shape in NPY header: ", header);
    return header.substr(p, end - p + 1);
  }
  if (p < header.size() && header[p] == '\'') {
    end = header.find('\'', p + 1);
    ELEGY_CHECK(end != std::string::npos, who.c_str(), "malformed NPY header: ", header);
    return header.substr(p + 1, end - p - 1);
  }
  while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  return header.substr(p, end - p);
}

// Whether the cast of `v` to `dtype` is defined: converting a double outside an integer type's
// range (or NaN) is undefined behaviour. The cast truncates toward zero, hence the open bounds.
bool fits(double v, DType dtype) {
  const auto in_open_range = [v](auto lowest, auto highest) {
    return v > double(lowest) - 1.0 && v < double(highest) + 1.0;
  };
  switch (dtype) {
    case DType::i32:
      return in_open_range(std::numeric_limits<std::int32_t>::lowest(),
                           std::numeric_limits<std::int32_t>::max());
    case DType::i64:
      return in_open_range(std::numeric_limits<std::int64_t>::lowest(),
                           std::numeric_limits<std::int64_t>::max());
    case DType::u8:
      return in_open_range(0, 255);
    case DType::f32:
    case DType::f64:
    case DType::bool_:
      return true;
  }
  return true;
}

}  // namespace

std::string gunzip_if_gzip(const std::string& bytes, const std::string& source) {
  const auto starts_gzip_member = [&](std::size_t at) {
    return bytes.size() - at >= 2 && static_cast<unsigned char>(bytes[at]) == 0x1F &&
           static_cast<unsigned char>(bytes[at + 1]) == 0x8B;
  };
  if (!starts_gzip_member(0)) return bytes;
  z_stream zs{};
  ELEGY_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, "data", "cannot start zlib inflate");
  const auto* in = reinterpret_cast<const Bytef*>(bytes.data());
  std::size_t fed = 0;  // bytes handed to zlib so far (in chunks: avail_in is 32-bit)
  std::string out;
  std::array<char, 1 << 16> buf;
  int rc = Z_OK;
  for (;;) {
    if (zs.avail_in == 0 && fed < bytes.size()) {
      const std::size_t chunk = std::min<std::size_t>(bytes.size() - fed, std::size_t(1) << 30);
      zs.next_in = const_cast<Bytef*>(in + fed);
      zs.avail_in = uInt(chunk);
      fed += chunk;
    }
    zs.next_out = reinterpret_cast<Bytef*>(buf.data());
    zs.avail_out = uInt(buf.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf.data(), buf.size() - zs.avail_out);
    if (rc == Z_STREAM_END) {
      const std::size_t used = fed - zs.avail_in;
      if (!starts_gzip_member(used)) break;  // the end, or trailing bytes gzread ignores too
      inflateReset(&zs);
    } else if (rc != Z_OK) {
      break;  // corrupt data, or Z_BUF_ERROR: the input ended inside a member
    }
  }
  inflateEnd(&zs);
  ELEGY_CHECK(rc == Z_STREAM_END, "data", "'", source, "' is a truncated or corrupt gzip file");
  return out;
}

std::string read_maybe_gzip(const std::string& path) {
  return gunzip_if_gzip(io::read_file(path, "data"), path);
}

Tensor parse_idx(const std::string& bytes, const std::string& source) {
  const std::string who = "idx '" + source + "'";
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  ELEGY_CHECK(bytes.size() >= 4 && b[0] == 0 && b[1] == 0, who.c_str(), "is not an IDX file");
  const int type = b[2], ndim = b[3];
  std::size_t item = 0;
  DType dtype = DType::u8;
  switch (type) {
    case 0x08:
      item = 1, dtype = DType::u8;
      break;
    case 0x09:
      item = 1, dtype = DType::i32;
      break;
    case 0x0B:
      item = 2, dtype = DType::i32;
      break;
    case 0x0C:
      item = 4, dtype = DType::i32;
      break;
    case 0x0D:
      item = 4, dtype = DType::f32;
      break;
    case 0x0E:
      item = 8, dtype = DType::f64;
      break;
    default:
      fail(who.c_str(), "has an unknown IDX data type 0x", std::hex, type);
  }
  ELEGY_CHECK(ndim >= 1 && ndim <= kMaxRank && bytes.size() >= std::size_t(4 + 4 * ndim),
              who.c_str(), "has a truncated or invalid header (", ndim, " dims)");
  std::vector<std::int64_t> dims;
  for (int i = 0; i < ndim; ++i) dims.push_back(be32(b + 4 + 4 * i));
  const std::size_t header = std::size_t(4 + 4 * ndim);
  const std::uint64_t numel = checked_numel(dims, item, bytes.size() - header, who);
  Tensor out = Tensor::empty(Shape(dims), dtype, Device::cpu());
  const unsigned char* src = b + header;
  for (std::uint64_t i = 0; i < numel; ++i) {
    const unsigned char* p = src + i * item;
    switch (type) {
      case 0x08:
        out.data<std::uint8_t>()[i] = p[0];
        break;
      case 0x09:
        out.data<std::int32_t>()[i] = std::int8_t(p[0]);
        break;
      case 0x0B:
        out.data<std::int32_t>()[i] = std::int16_t(std::uint16_t(p[0] << 8 | p[1]));
        break;
      case 0x0C:
        out.data<std::int32_t>()[i] = std::int32_t(be32(p));
        break;
      case 0x0D: {
        const std::uint32_t v = be32(p);
        std::memcpy(&out.data<float>()[i], &v, 4);
        break;
      }
      case 0x0E: {
        const std::uint64_t v = std::uint64_t(be32(p)) << 32 | be32(p + 4);
        std::memcpy(&out.data<double>()[i], &v, 8);
        break;
      }
    }
  }
  return out;
}

Tensor read_idx(const std::string& path) {
  return parse_idx(read_maybe_gzip(path), path);
}

Tensor parse_npy(const std::string& bytes, const std::string& source) {
  const std::string who = "npy '" + source + "'";
  ELEGY_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, who.c_str(),
              "is not an NPY file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  ELEGY_CHECK(major >= 1 && major <= 3, who.c_str(), "has an unsupported NPY version ", major);
  std::size_t header_len, start;
  if (major == 1) {
    header_len = le16(bytes, 8);
    start = 10;
  } else {
    ELEGY_CHECK(bytes.size() >= 12, who.c_str(), "is truncated");
    header_len = le32(bytes, 8);
    start = 12;
  }
  ELEGY_CHECK(bytes.size() >= start + header_len, who.c_str(), "is truncated in its header");
  const std::string header = bytes.substr(start, header_len);
  const std::string descr = dict_value(header, "descr", who);
  DType dtype;
  std::size_t item;
  ELEGY_CHECK(npy_dtype(descr, dtype, item), who.c_str(), "has dtype '", descr,
              "' (supported: <f4 <f8 <i4 <i8 |u1 |b1, little endian)");
  const std::string fortran = dict_value(header, "fortran_order", who);
  ELEGY_CHECK(fortran == "False", who.c_str(),
              "is in Fortran order; save it C-ordered (np.ascontiguousarray)");
  const std::string shape_text = dict_value(header, "shape", who);
  std::vector<std::int64_t> dims;
  for (std::size_t p = 1; p + 1 < shape_text.size();) {
    while (p < shape_text.size() && (shape_text[p] == ' ' || shape_text[p] == ',')) ++p;
    if (p + 1 >= shape_text.size()) break;
    char* end = nullptr;
    const long long v = std::strtoll(shape_text.c_str() + p, &end, 10);
    ELEGY_CHECK(end != shape_text.c_str() + p && v >= 0, who.c_str(), "has a bad shape ",
                shape_text);
    dims.push_back(v);
    p = std::size_t(end - shape_text.c_str());
  }
  ELEGY_CHECK(int(dims.size()) <= kMaxRank, who.c_str(), "has rank ", dims.size());
  const std::size_t data = start + header_len;
  const std::uint64_t numel = checked_numel(dims, item, bytes.size() - data, who);
  Tensor out = Tensor::empty(Shape(dims), dtype, Device::cpu());
  if (numel) std::memcpy(out.raw_data(), bytes.data() + data, std::size_t(numel * item));
  return out;
}

Tensor read_npy(const std::string& path) {
  return parse_npy(read_maybe_gzip(path), path);
}

std::string encode_npy(const Tensor& t) {
  const Tensor h = contiguous(t.to(Device::cpu()));
  std::ostringstream shape;
  shape << '(';
  for (int i = 0; i < h.ndim(); ++i)
    shape << h.shape()[i] << (h.ndim() == 1 ? "," : (i + 1 < h.ndim() ? ", " : ""));
  shape << ')';
  std::string header = std::string("{'descr': '") + npy_descr(h.dtype()) +
                       "', 'fortran_order': False, 'shape': " + shape.str() + ", }";
  // Pad with spaces so magic + version + length + header + '\n' is a multiple of 64.
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  put16(out, std::uint32_t(header.size()));
  out += header;
  out.append(static_cast<const char*>(h.raw_data()), h.nbytes());
  return out;
}

void write_npy(const std::string& path, const Tensor& t) {
  io::write_file_atomically(path, encode_npy(t), "write_npy");
}

std::map<std::string, Tensor> parse_npz(const std::string& z, const std::string& source) {
  const std::string who = "npz '" + source + "'";
  // End of central directory: the last "PK\5\6" record (a comment may follow it).
  ELEGY_CHECK(z.size() >= 22, who.c_str(), "is too short to be a zip file");
  std::size_t eocd = std::string::npos;
  for (std::size_t i = z.size() - 22 + 1; i-- > 0 && z.size() - i <= 22 + 65535;)
    if (le32(z, i) == 0x06054b50u) {
      eocd = i;
      break;
    }
  ELEGY_CHECK(eocd != std::string::npos, who.c_str(), "is not a zip file (no end record)");
  std::uint64_t entries = le16(z, eocd + 10);
  std::uint64_t cd_offset = le32(z, eocd + 16);
  if (cd_offset == 0xFFFFFFFFu || entries == 0xFFFF) {
    // Zip64: the locator sits just before the end record and points at the zip64 end record.
    ELEGY_CHECK(eocd >= 20 && le32(z, eocd - 20) == 0x07064b50u, who.c_str(),
                "has a broken zip64 locator");
    const std::uint64_t rec = le64(z, eocd - 20 + 8);
    ELEGY_CHECK(z.size() >= 56 && rec <= z.size() - 56 && le32(z, std::size_t(rec)) == 0x06064b50u,
                who.c_str(), "has a broken zip64 end record");
    entries = le64(z, std::size_t(rec) + 32);
    cd_offset = le64(z, std::size_t(rec) + 48);
  }
  std::map<std::string, Tensor> out;
  std::size_t p = std::size_t(cd_offset);
  for (std::uint64_t e = 0; e < entries; ++e) {
    ELEGY_CHECK(p <= z.size() && z.size() - p >= 46 && le32(z, p) == 0x02014b50u, who.c_str(),
                "has a corrupt central directory");
    const std::uint16_t method = le16(z, p + 10);
    const std::uint32_t crc = le32(z, p + 16);
    std::uint64_t csize = le32(z, p + 20), usize = le32(z, p + 24);
    const std::size_t name_len = le16(z, p + 28), extra_len = le16(z, p + 30),
                      comment_len = le16(z, p + 32);
    std::uint64_t local = le32(z, p + 42);
    ELEGY_CHECK(p + 46 + name_len + extra_len + comment_len <= z.size(), who.c_str(),
                "is truncated");
    const std::string name = z.substr(p + 46, name_len);
    // Zip64 extra field (id 1): the sizes/offset that are 0xFFFFFFFF above, in this order.
    const std::size_t extra_end = p + 46 + name_len + extra_len;
    for (std::size_t x = p + 46 + name_len; x + 4 <= extra_end;) {
      const std::uint16_t id = le16(z, x), len = le16(z, x + 2);
      ELEGY_CHECK(x + 4 + len <= extra_end, who.c_str(), "member '", name,
                  "' has an extra field running past its end");
      std::size_t f = x + 4;
      if (id == 1) {
        if (usize == 0xFFFFFFFFu && f + 8 <= x + 4 + len) usize = le64(z, f), f += 8;
        if (csize == 0xFFFFFFFFu && f + 8 <= x + 4 + len) csize = le64(z, f), f += 8;
        if (local == 0xFFFFFFFFu && f + 8 <= x + 4 + len) local = le64(z, f), f += 8;
      }
      x += 4 + len;
    }
    p += 46 + name_len + extra_len + comment_len;
    ELEGY_CHECK(
        local <= z.size() && z.size() - local >= 30 && le32(z, std::size_t(local)) == 0x04034b50u,
        who.c_str(), "member '", name, "' has a corrupt local header");
    const std::size_t data = std::size_t(local) + 30 + le16(z, std::size_t(local) + 26) +
                             le16(z, std::size_t(local) + 28);
    ELEGY_CHECK(data <= z.size() && csize <= z.size() - data, who.c_str(), "member '", name,
                "' is truncated");
    std::string member = z.substr(data, std::size_t(csize));
    if (method == 8)
      member = inflate_raw(member, usize, who + " member '" + name + "'");
    else
      ELEGY_CHECK(method == 0 && csize == usize, who.c_str(), "member '", name,
                  "' uses zip compression method ", method, " (only stored and deflate)");
    ELEGY_CHECK(std::uint32_t(crc32(0, reinterpret_cast<const Bytef*>(member.data()),
                                    uInt(member.size()))) == crc,
                who.c_str(), "member '", name, "' fails its CRC check");
    std::string key = name;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    out[key] = parse_npy(member, source + ":" + name);
  }
  return out;
}

std::map<std::string, Tensor> read_npz(const std::string& path) {
  return parse_npz(io::read_file(path, "read_npz"), path);
}

void write_npz(const std::string& path, const std::map<std::string, Tensor>& arrays) {
  std::string zip, central;
  for (const auto& [name, t] : arrays) {
    const std::string member = encode_npy(t);
    const std::string file = name + ".npy";
    ELEGY_CHECK(zip.size() + member.size() < 0xFFFFFFFFull, "write_npz", "'", path,
                "' would exceed 4 GiB (zip64 writing is not supported)");
    const std::uint32_t crc =
        std::uint32_t(crc32(0, reinterpret_cast<const Bytef*>(member.data()), uInt(member.size())));
    const std::uint32_t offset = std::uint32_t(zip.size());
    put32(zip, 0x04034b50u);
    put16(zip, 20), put16(zip, 0), put16(zip, 0), put16(zip, 0),
        put16(zip, 0x21);  // ver, flags, stored, time, date
    put32(zip, crc), put32(zip, std::uint32_t(member.size())),
        put32(zip, std::uint32_t(member.size()));
    put16(zip, std::uint32_t(file.size())), put16(zip, 0);
    zip += file;
    zip += member;
    put32(central, 0x02014b50u);
    put16(central, 20), put16(central, 20), put16(central, 0), put16(central, 0), put16(central, 0),
        put16(central, 0x21);
    put32(central, crc), put32(central, std::uint32_t(member.size())),
        put32(central, std::uint32_t(member.size()));
    put16(central, std::uint32_t(file.size())), put16(central, 0), put16(central, 0),
        put16(central, 0), put16(central, 0);
    put32(central, 0), put32(central, offset);
    central += file;
  }
  const std::uint32_t cd_offset = std::uint32_t(zip.size());
  zip += central;
  put32(zip, 0x06054b50u);
  put16(zip, 0), put16(zip, 0), put16(zip, std::uint32_t(arrays.size())),
      put16(zip, std::uint32_t(arrays.size()));
  put32(zip, std::uint32_t(central.size())), put32(zip, cd_offset), put16(zip, 0);
  io::write_file_atomically(path, zip, "write_npz");
}

CsvTable parse_csv(const std::string& text, const std::string& source, CsvOptions options) {
  const std::string who = "csv '" + source + "'";
  CsvTable table;
  std::vector<double> values;
  std::size_t width = 0, line_no = 0, rows = 0;
  bool first = true;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (quoted) {
        if (c == '"' && i + 1 < line.size() && line[i + 1] == '"')
          field += '"', ++i;
        else if (c == '"')
          quoted = false;
        else
          field += c;
      } else if (c == '"') {
        quoted = true;
      } else if (c == options.delimiter) {
        fields.push_back(field), field.clear();
      } else {
        field += c;
      }
    }
    ELEGY_CHECK(!quoted, who.c_str(), "line ", line_no, ": unterminated quote");
    fields.push_back(field);
    if (first && options.header) {
      for (std::string& f : fields) {
        const std::size_t a = f.find_first_not_of(" \t"), b = f.find_last_not_of(" \t");
        table.columns.push_back(a == std::string::npos ? "" : f.substr(a, b - a + 1));
      }
      width = fields.size();
      first = false;
      continue;
    }
    if (first) width = fields.size();
    first = false;
    ELEGY_CHECK(fields.size() == width, who.c_str(), "line ", line_no, " has ", fields.size(),
                " fields, expected ", width);
    for (std::size_t c = 0; c < fields.size(); ++c) {
      const std::string& f = fields[c];
      char* end = nullptr;
      const double v = std::strtod(f.c_str(), &end);
      // Only blanks may follow the number (a NUL byte is not the end of the cell).
      bool ok = end != f.c_str();
      for (const char* r = end; ok && r != f.c_str() + f.size(); ++r) ok = *r == ' ' || *r == '\t';
      ELEGY_CHECK(ok, who.c_str(), "line ", line_no, ", column ", c + 1, ": '", f,
                  "' is not a number");
      ELEGY_CHECK(fits(v, options.dtype), who.c_str(), "line ", line_no, ", column ", c + 1, ": ",
                  v, " does not fit ", elegy::name(options.dtype));
      values.push_back(v);
    }
    ++rows;
  }
  if (table.columns.empty())
    for (std::size_t c = 0; c < width; ++c) table.columns.push_back(std::to_string(c));
  table.values = Tensor::from_vector(values, Shape{std::int64_t(rows), std::int64_t(width)})
                     .astype(options.dtype);
  return table;
}

CsvTable read_csv(const std::string& path, CsvOptions options) {
  return parse_csv(io::read_file(path, "read_csv"), path, options);
}

}  // namespace elegy::data
