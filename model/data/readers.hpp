// File readers for datasets: IDX (the MNIST family), numpy's NPY and NPZ, and numeric CSV.
// Compressed files are read transparently (IDX and NPY through zlib's gzip detection, NPZ's
// deflated members through raw inflate). Every malformed or truncated file is an Error naming
// the file and what is wrong. Every format also has a parser over bytes already in memory
// (parse_*): the path-based readers read the file and call it, and the fuzz harnesses in
// tests/fuzz/ call it directly.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "elegy/core/tensor.hpp"

namespace elegy::data {

// The whole file, gunzipped when it is gzip (plain files pass through).
std::string read_maybe_gzip(const std::string& path);
// The same on bytes in memory: gzip data (one or more concatenated members; anything after them
// that is not another member is ignored, as zlib's gzread does) is inflated, anything else is
// returned as is. `source` names the data in errors.
std::string gunzip_if_gzip(const std::string& bytes, const std::string& source);

// IDX: magic 0 0 <type> <ndim>, big-endian uint32 sizes, then big-endian data. Types: 0x08 u8
// (uint8), 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64 (signed and 16-bit types widen to
// int32).
Tensor read_idx(const std::string& path);
Tensor parse_idx(const std::string& bytes, const std::string& source);  // already gunzipped

// NPY (format 1.0-3.0): f4/f8/i4/i8/u1/b1, little endian, C order. Fortran order, big endian
// or other dtypes are Errors.
Tensor read_npy(const std::string& path);
Tensor parse_npy(const std::string& bytes, const std::string& source);
std::string encode_npy(const Tensor& t);
void write_npy(const std::string& path, const Tensor& t);

// NPZ: a zip of NPY members (np.savez: stored, np.savez_compressed: deflated), by name without
// the ".npy" suffix.
std::map<std::string, Tensor> read_npz(const std::string& path);
std::map<std::string, Tensor> parse_npz(const std::string& bytes, const std::string& source);
// Writes an uncompressed NPZ (np.savez's layout), atomically.
void write_npz(const std::string& path, const std::map<std::string, Tensor>& arrays);

struct CsvOptions {
  char delimiter = ',';
  bool header = true;  // the first row names the columns
  DType dtype = DType::f32;
};
struct CsvTable {
  std::vector<std::string> columns;  // from the header, else "0", "1", ...
  Tensor values;                     // [rows, columns]
};
// Numeric CSV: blank lines skipped, fields may be quoted; a non-numeric cell or a row of another
// width is an Error with its line and column.
CsvTable read_csv(const std::string& path, CsvOptions options = {});
CsvTable parse_csv(const std::string& text, const std::string& source, CsvOptions options = {});

}  // namespace elegy::data
