// Reads the IDX files of MNIST / Fashion-MNIST (optionally gzip-compressed) into tensors:
// images as uint8 [N, 28, 28], labels as int32 [N]. Any malformed file raises elegy::Error.
#pragma once

#include <zlib.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <elegy/elegy.hpp>

namespace elegy::examples {

// The whole (decompressed) file; gzip is detected by zlib itself, plain files pass through.
inline std::vector<std::uint8_t> read_gz_file(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) fail("read_idx", "cannot open '", path, "'");
  std::vector<std::uint8_t> data;
  std::array<std::uint8_t, 1 << 16> buf;
  int n;
  while ((n = gzread(f, buf.data(), unsigned(buf.size()))) > 0)
    data.insert(data.end(), buf.data(), buf.data() + n);
  const bool failed = n < 0;
  gzclose(f);
  if (failed) fail("read_idx", "'", path, "' is not a readable gzip/IDX file");
  return data;
}

// IDX: magic 0x00 0x00 <type 0x08 = uint8> <ndim>, then ndim big-endian uint32 sizes, then data.
inline Tensor read_idx(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_gz_file(path);
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08)
    fail("read_idx", "'", path, "' is not an IDX file of uint8 data");
  const int ndim = bytes[3];
  if (ndim < 1 || ndim > 4 || bytes.size() < std::size_t(4 + 4 * ndim))
    fail("read_idx", "'", path, "' has a truncated header");
  Shape shape;
  for (int i = 0; i < ndim; ++i) {
    const std::uint8_t* p = &bytes[std::size_t(4 + 4 * i)];
    shape.push_back(std::int64_t(p[0]) << 24 | std::int64_t(p[1]) << 16 | std::int64_t(p[2]) << 8 |
                    p[3]);
  }
  const std::size_t header = std::size_t(4 + 4 * ndim);
  if (bytes.size() - header != std::size_t(shape.numel()))
    fail("read_idx", "'", path, "' holds ", bytes.size() - header, " bytes of data, expected ",
         shape.numel(), " for shape ", shape);
  std::vector<std::uint8_t> values(bytes.begin() + std::ptrdiff_t(header), bytes.end());
  return Tensor::from_vector(values, shape);
}

struct Dataset {
  Tensor x_train, y_train, x_test, y_test;
};

// Fashion-MNIST as Debian's dataset-fashion-mnist package installs it.
inline Dataset load_fashion_mnist(const std::string& dir = "/usr/share/datasets/fashion-mnist") {
  return {read_idx(dir + "/train-images-idx3-ubyte.gz"),
          read_idx(dir + "/train-labels-idx1-ubyte.gz").astype(DType::i32),
          read_idx(dir + "/t10k-images-idx3-ubyte.gz"),
          read_idx(dir + "/t10k-labels-idx1-ubyte.gz").astype(DType::i32)};
}

}  // namespace elegy::examples
