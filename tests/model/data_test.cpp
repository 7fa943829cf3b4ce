// The data pipeline: loaders (coverage, seeded shuffles, drop_last, bounded prefetch, worker
// errors, generators, fit from a loader) and the readers (IDX, NPY, NPZ, CSV), each checked on
// real values, cross-checked with numpy when it is installed, and fuzzed by truncation.
#include <doctest/doctest.h>

#include <zlib.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include <elegy/elegy.hpp>
#include <elegy/model/io/safetensors.hpp>

#include "../grad_check.hpp"

using namespace elegy;
using namespace elegy::testing;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const char* name) {
  const fs::path p =
      fs::temp_directory_path() / ("elegy_data_test_" + std::to_string(::getpid())) / name;
  fs::create_directories(p.parent_path());
  return p;
}

bool has_numpy() {
  return std::system("python3 -c \"import numpy\" > /dev/null 2>&1") == 0;
}

std::vector<std::int64_t> ids_of(const data::DataBatch& b) {
  std::vector<std::int64_t> out;
  for (double v : values(b.x.tensor())) out.push_back(std::int64_t(v));
  return out;
}

}  // namespace

TEST_CASE("DataLoader: every sample once per epoch, seeded shuffles, drop_last, prefetch") {
  const Tensor x = arange(0.0, 10.0, 1.0, DType::f64);
  const Tensor y = arange(10, DType::i32);
  for (int prefetch : {0, 2}) {
    data::DataLoader loader(
        data::Dataset(x, y),
        {.batch_size = 3, .shuffle = true, .key = Key(7), .prefetch = prefetch});
    CHECK(loader.size() == 4);
    std::vector<std::vector<std::int64_t>> epochs;
    for (int e = 0; e < 2; ++e) {
      std::vector<std::int64_t> seen;
      std::vector<std::int64_t> sizes;
      for (const data::DataBatch& b : loader.epoch(e)) {
        for (std::int64_t v : ids_of(b)) seen.push_back(v);
        sizes.push_back(b.size());
        CHECK(values(b.y.tensor()) == values(b.x.tensor()));  // rows stay paired
      }
      CHECK(sizes == std::vector<std::int64_t>{3, 3, 3, 1});
      CHECK(std::set<std::int64_t>(seen.begin(), seen.end()).size() == 10);
      epochs.push_back(seen);
    }
    CHECK(epochs[0] != epochs[1]);  // a new order each epoch
    data::DataLoader again(data::Dataset(x, y), {.batch_size = 3, .shuffle = true, .key = Key(7)});
    std::vector<std::int64_t> replay;
    for (const data::DataBatch& b : again.epoch(0))
      for (std::int64_t v : ids_of(b)) replay.push_back(v);
    CHECK(replay == epochs[0]);  // reproducible from the key
  }
  data::DataLoader dropping(data::Dataset(x), {.batch_size = 4, .drop_last = true});
  CHECK(dropping.size() == 2);
  int batches = 0;
  for (const data::DataBatch& b : dropping.epoch(0)) batches += b.size() == 4;
  CHECK(batches == 2);
  CHECK_THROWS_WITH_AS(data::DataLoader(data::Dataset(x), {.batch_size = 0}),
                       doctest::Contains("batch_size must be positive"), Error);
}

TEST_CASE("loaders: the prefetch queue is bounded; worker errors reach the consumer") {
  std::atomic<int> produced{0};
  data::GeneratorLoader gen(
      [&](int) {
        return [&, i = 0]() mutable -> std::optional<data::DataBatch> {
          if (i == 20) return std::nullopt;
          ++i;
          ++produced;
          return data::DataBatch{full({1}, double(i))};
        };
      },
      20, /*prefetch=*/3);
  int consumed = 0, worst = 0;
  for (const data::DataBatch& b : gen.epoch(0)) {
    ++consumed;
    CHECK(b.x.tensor().item<float>() == float(consumed));  // in order
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    worst = std::max(worst, produced.load() - consumed);
  }
  CHECK(consumed == 20);
  // Queued (3) plus the one the worker holds while it waits for room.
  CHECK(worst <= 4);

  data::GeneratorLoader failing([](int) {
    return [i = 0]() mutable -> std::optional<data::DataBatch> {
      if (++i == 3) fail("my_reader", "disk on fire");
      return data::DataBatch{ones({1})};
    };
  });
  int got = 0;
  CHECK_THROWS_WITH_AS(
      [&] {
        for (const data::DataBatch& b : failing.epoch(0)) got += int(b.size());
      }(),
      doctest::Contains("my_reader: disk on fire"), Error);
  CHECK(got == 2);
  // Abandoning an epoch midway shuts the worker down cleanly.
  {
    auto range = gen.epoch(1);
    CHECK(range.next().has_value());
  }
}

TEST_CASE("fit from a DataLoader trains like fit from arrays") {
  const Tensor x = random::normal(Key(5), {64, 3});
  const Tensor y = matmul(x, Tensor::from_vector<float>({1, -2, 0.5}, {3, 1}));
  Model model({.module = nn::Linear(1),
               .loss = {losses::MeanSquaredError()},
               .optimizer = optim::sgd(0.1)});
  auto loader = std::make_shared<data::DataLoader>(
      data::Dataset(x, y), data::DataLoaderOptions{.batch_size = 16, .shuffle = true});
  const History h = model.fit({.epochs = 5, .verbose = 0, .loader = loader});
  CHECK(h.epoch.size() == 5);
  CHECK(h.history.at("loss").back() < 0.1f * h.history.at("loss").front());
  CHECK_THROWS_WITH_AS(model.fit({.x = x, .epochs = 1, .verbose = 0, .loader = loader}),
                       doctest::Contains("with a loader, x, y"), Error);
}

TEST_CASE("NPY and NPZ: round trips, numpy cross-checks, truncation") {
  const Tensor f = host_uniform({2, 3}, 1).astype(DType::f32);
  const Tensor i = Tensor::from_vector<std::int64_t>({-5, 7}, {2});
  const Tensor b = Tensor::from_vector<std::uint8_t>({1, 0, 1}, {3}).astype(DType::bool_);
  const fs::path npy = scratch("a.npy"), npz = scratch("a.npz");
  data::write_npy(npy, f);
  CHECK(values(data::read_npy(npy)) == values(f));
  data::write_npz(npz, {{"f", f}, {"i", i}, {"b", b}, {"s", scalar(2.5, DType::f64)}});
  const auto arrays = data::read_npz(npz);
  CHECK(arrays.size() == 4);
  CHECK(values(arrays.at("i")) == values(i));
  CHECK(arrays.at("b").dtype() == DType::bool_);
  CHECK(arrays.at("s").ndim() == 0);
  const std::string bytes = data::encode_npy(f);
  CHECK(bytes.size() % 64 == 24 % 64);  // 64-byte aligned header + 24 data bytes
  for (std::size_t len = 0; len < bytes.size(); ++len)
    CHECK_THROWS_AS(data::parse_npy(bytes.substr(0, len), "cut"), Error);
  const std::string zip = io::read_file(npz, "test");
  for (std::size_t len = 0; len < zip.size(); len += 7) {
    io::write_file_atomically(scratch("cut.npz"), zip.substr(0, len), "test");
    CHECK_THROWS_AS(data::read_npz(scratch("cut.npz")), Error);
  }
  if (!has_numpy()) {
    MESSAGE("numpy not installed: cross-checks skipped");
    return;
  }
  // numpy reads what elegy wrote, and elegy reads numpy's (compressed) output.
  const fs::path made = scratch("numpy.npz");
  const std::string script = "import numpy as np; d = np.load('" + npz.string() +
                             "'); "
                             "assert d['i'].tolist() == [-5, 7] and d['b'].tolist() == [True, "
                             "False, True] and float(d['s']) == 2.5; "
                             "np.savez_compressed('" +
                             made.string() +
                             "', m=np.arange(12, dtype=np.float64).reshape(3, 4), "
                             "u=np.array([[1, 2], [3, 250]], dtype=np.uint8)); "
                             "np.save('" +
                             scratch("f.npy").string() + "', np.asfortranarray(np.ones((2, 3))))";
  REQUIRE(std::system(("python3 -c \"" + script + "\"").c_str()) == 0);
  const auto theirs = data::read_npz(made);
  CHECK(theirs.at("m").shape() == Shape{3, 4});
  CHECK(values(theirs.at("m"))[11] == 11.0);
  CHECK(values(theirs.at("u")) == std::vector<double>{1, 2, 3, 250});
  CHECK_THROWS_WITH_AS(data::read_npy(scratch("f.npy")), doctest::Contains("Fortran order"), Error);
}

TEST_CASE("IDX (plain and gzip) and Fashion-MNIST") {
  // A 2x3 uint8 IDX file, written by hand, then gzipped.
  const std::string raw = std::string("\0\0\x08\x02\0\0\0\x02\0\0\0\x03", 12) +
                          std::string("\x01\x02\x03\x04\x05\xff", 6);
  const fs::path plain = scratch("x.idx"), gz = scratch("x.idx.gz");
  io::write_file_atomically(plain, raw, "test");
  gzFile g = gzopen(gz.c_str(), "wb");
  gzwrite(g, raw.data(), unsigned(raw.size()));
  gzclose(g);
  for (const fs::path& p : {plain, gz}) {
    const Tensor t = data::read_idx(p);
    CHECK(t.shape() == Shape{2, 3});
    CHECK(values(t) == std::vector<double>{1, 2, 3, 4, 5, 255});
  }
  for (std::size_t len = 0; len < raw.size(); ++len) {
    io::write_file_atomically(scratch("cut.idx"), raw.substr(0, len), "test");
    CHECK_THROWS_AS(data::read_idx(scratch("cut.idx")), Error);
  }
  CHECK_THROWS_WITH_AS(data::datasets::fashion_mnist("/nonexistent"),
                       doctest::Contains("sudo apt-get install dataset-fashion-mnist"), Error);
  if (fs::exists("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")) {
    const Tensor labels =
        data::read_idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");
    CHECK(labels.shape() == Shape{10000});
    CHECK(values(labels)[0] == 9.0);  // the first test image is an ankle boot
  }
}

TEST_CASE("CSV: header, quotes, blank lines, and bad cells named by line and column") {
  const data::CsvTable t = data::parse_csv("a, \"b\"\n1,2.5\n\n\"3\",-4e1\n", "mem");
  CHECK(t.columns == std::vector<std::string>{"a", "b"});
  CHECK(t.values.shape() == Shape{2, 2});
  CHECK(values(t.values) == std::vector<double>{1, 2.5, 3, -40});
  const data::CsvTable n = data::parse_csv(
      "1;2\n3;4\n", "mem", {.delimiter = ';', .header = false, .dtype = DType::f64});
  CHECK(n.columns == std::vector<std::string>{"0", "1"});
  CHECK(n.values.dtype() == DType::f64);
  CHECK_THROWS_WITH_AS(data::parse_csv("a,b\n1,x\n", "mem"),
                       doctest::Contains("line 2, column 2: 'x' is not a number"), Error);
  CHECK_THROWS_WITH_AS(data::parse_csv("a,b\n1,2,3\n", "mem"),
                       doctest::Contains("line 2 has 3 fields, expected 2"), Error);
  CHECK_THROWS_WITH_AS(data::parse_csv("a\n\"1\n", "mem"), doctest::Contains("unterminated quote"),
                       Error);
}

TEST_CASE("readers on bytes in memory: gunzip_if_gzip, parse_idx, parse_npz (fuzz entry points)") {
  const std::string raw = std::string("\0\0\x08\x02\0\0\0\x02\0\0\0\x03", 12) +
                          std::string("\x01\x02\x03\x04\x05\xff", 6);
  CHECK(values(data::parse_idx(raw, "mem")) == std::vector<double>{1, 2, 3, 4, 5, 255});
  CHECK(data::gunzip_if_gzip(raw, "mem") == raw);  // plain bytes pass through
  // Two gzip members, as `cat a.gz b.gz` makes: each half deflated with a gzip wrapper.
  const auto gzip = [](const std::string& in) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&zs, uLong(in.size())) + 32, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = uInt(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = uInt(out.size());
    REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
  };
  const std::string first = gzip(raw.substr(0, 7)), two_members = first + gzip(raw.substr(7));
  CHECK(data::gunzip_if_gzip(two_members, "mem") == raw);
  CHECK(data::gunzip_if_gzip(two_members + "trailing", "mem") == raw);  // as gzread ignores it
  for (std::size_t len = 2; len < first.size(); ++len)  // cut inside the first member
    CHECK_THROWS_WITH_AS(data::gunzip_if_gzip(two_members.substr(0, len), "cut"),
                         doctest::Contains("truncated or corrupt gzip"), Error);
  const fs::path npz = scratch("mem.npz");
  data::write_npz(npz, {{"v", Tensor::from_vector<std::int32_t>({4, -2}, {2})}});
  const auto arrays = data::parse_npz(io::read_file(npz, "test"), "mem");
  CHECK(values(arrays.at("v")) == std::vector<double>{4, -2});
}

TEST_CASE("fuzz regressions: IDX and NPY shapes whose element count overflows") {
  // Found by fuzz_idx: 8 dimensions whose product wraps around 64 bits, the last one 0, so the
  // empty data matched and Dims::numel overflowed int64.
  const std::string idx_found = std::string(
      "\x00\x00\x08\x08\x00\x00\x00\x08\x08\x00\x08\x02\x00\x00\x00\x09\x01\x00\x00\x02\x00\x00"
      "\x00;z\x00\x1c\x00\x00\x00\x01\x00\x00\x00\x00\x00",
      36);
  CHECK_THROWS_WITH_AS(data::parse_idx(idx_found, "fuzz"),
                       doctest::Contains("impossibly large shape"), Error);
  // 2^16 x 2^16 x 2^16 x 2^16 elements wrap to 0, matching 0 data bytes.
  const std::string idx_wrap = std::string(
      "\x00\x00\x08\x04\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00", 20);
  CHECK_THROWS_WITH_AS(data::parse_idx(idx_wrap, "fuzz"),
                       doctest::Contains("impossibly large shape"), Error);
  const auto npy = [](const std::string& header) {
    return std::string("\x93NUMPY\x01\x00", 8) + char(header.size()) + '\0' + header;
  };
  // Found by fuzz_npy (hand-minimised): a zero dimension keeps the data empty while the strides
  // of the others overflow int64.
  CHECK_THROWS_WITH_AS(data::parse_npy(npy("{'descr': '|u1', 'fortran_order': False, "
                                           "'shape': (0, 4294967296, 4294967296, 2), }"),
                                       "fuzz"),
                       doctest::Contains("impossibly large shape"), Error);
  CHECK_THROWS_WITH_AS(data::parse_npy(npy("{'descr': '|u1', 'fortran_order': False, "
                                           "'shape': (4294967296, 4294967296), }"),
                                       "fuzz"),
                       doctest::Contains("impossibly large shape"), Error);
  // The largest shapes that still fit are read: 0 x 2^30 x 2^30 float32 is an empty tensor.
  const Tensor empty = data::parse_npy(
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1073741824, 1073741824), }"),
      "fuzz");
  CHECK(empty.shape() == Shape{0, 1073741824, 1073741824});
}

TEST_CASE("fuzz regressions: NPZ sizes and offsets from the file checked before use") {
  // Found by fuzz_npz (hand-minimised): a deflated member claiming 0xFFFFFFF0 uncompressed bytes
  // was allocated (4 GiB) before inflating its 2 bytes.
  const std::string deflate_4gib = std::string(
      "PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\xf0\xff"
      "\xff\xff\x00\x00\x00\x00\x03\x00PK\x01\x02\x14\x00\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00"
      "\x00\x00\x00\x00\x02\x00\x00\x00\xf0\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
      "\x00\x00\x00\x00\x00\x00\x00\x00PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00.\x00\x00\x00 "
      "\x00\x00\x00\x00\x00",
      100);
  CHECK_THROWS_WITH_AS(data::parse_npz(deflate_4gib, "fuzz"), doctest::Contains("1032:1"), Error);
  // A zip64 locator whose end-record offset wraps around 64 bits (offset + 56 == 40).
  const std::string zip64_wrap = std::string(
      "PK\x06\x07\x00\x00\x00\x00\xf0\xff\xff\xff\xff\xff\xff\xff\x01\x00\x00\x00PK\x05\x06\x00"
      "\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00",
      42);
  CHECK_THROWS_WITH_AS(data::parse_npz(zip64_wrap, "fuzz"),
                       doctest::Contains("broken zip64 end record"), Error);
  // The end record first (its comment holds the central directory), then an entry whose zip64
  // extra field claims 8 bytes where the file ends: the 64-bit size was read past the end.
  const std::string extra_overrun = std::string(
      "PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00"
      "2\x00\x00\x00\x16\x00\x00\x00"
      "2\x00PK\x01\x02\x14\x00\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff"
      "\xff\xff\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
      "\x00\x00\x01\x00\x08\x00",
      72);
  CHECK_THROWS_WITH_AS(data::parse_npz(extra_overrun, "fuzz"),
                       doctest::Contains("extra field running past its end"), Error);
}

TEST_CASE("fuzz regressions: CSV cells that do not fit the dtype, NUL bytes in cells") {
  // Found by fuzz_csv: 525 cast to uint8 (undefined behaviour, not an Error).
  CHECK_THROWS_WITH_AS(
      data::parse_csv("g\n525", "fuzz", {.delimiter = '|', .header = true, .dtype = DType::u8}),
      doctest::Contains("line 2, column 1: 525 does not fit uint8"), Error);
  const data::CsvOptions i32{.header = false, .dtype = DType::i32};
  CHECK_THROWS_WITH_AS(data::parse_csv("1,2147483648\n", "mem", i32),
                       doctest::Contains("column 2: 2.14748e+09 does not fit int32"), Error);
  CHECK_THROWS_WITH_AS(data::parse_csv("nan\n", "mem", {.header = false, .dtype = DType::i64}),
                       doctest::Contains("does not fit int64"), Error);
  // The edges that fit: truncation toward zero keeps -2147483648.9 and 255.5 in range.
  CHECK(values(data::parse_csv("-2147483648.9,2147483647\n", "mem", i32).values) ==
        std::vector<double>{-2147483648.0, 2147483647.0});
  CHECK(values(
            data::parse_csv("255.5,-0.5\n", "mem", {.header = false, .dtype = DType::u8}).values) ==
        std::vector<double>{255, 0});
  CHECK_THROWS_WITH_AS(data::parse_csv(std::string("1\0x\n", 4), "mem", {.header = false}),
                       doctest::Contains("line 1, column 1: '1"), Error);
}
