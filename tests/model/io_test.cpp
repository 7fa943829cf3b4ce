// Checkpoints and event files: safetensors round trips and byte layout, every truncation and
// corruption caught, States with their exact structure, structure mismatches named, atomic
// saves, resuming fit exactly, TensorBoard records (CRC32C, protobuf fields) — cross-checked
// with the Python `safetensors` and `tensorboard` readers when they are installed.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <elegy/elegy.hpp>
#include <elegy/model/io/checkpoint.hpp>
#include <elegy/model/io/json.hpp>
#include <elegy/model/io/safetensors.hpp>
#include <elegy/model/io/tensorboard.hpp>

#include "../grad_check.hpp"

using namespace elegy;
using namespace elegy::testing;
namespace fs = std::filesystem;

namespace {

bool python_has(const char* modules) {
  const std::string cmd = std::string("python3 -c \"import ") + modules + "\" > /dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

std::string run_capture(const std::string& cmd) {
  std::string out;
  if (std::FILE* p = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  return out;
}

fs::path scratch(const char* name) {
  const fs::path p =
      fs::temp_directory_path() / ("elegy_io_test_" + std::to_string(::getpid())) / name;
  fs::create_directories(p.parent_path());
  return p;
}

States sample_states() {
  return States{
      {"net_params", Tree{{"linear", Tree{{"w", host_uniform({3, 2}, 1).astype(DType::f32)},
                                          {"b", zeros({2})}}}}},
      {"net_states", Tree{{"bn", Tree{{"counter", scalar(3.0)}}}}},
      {"metrics_states", Tree::from_list({Tree(scalar(1.5, DType::f64)), Tree()})},
      {"optimizer_states", Tree{{"count", scalar(7, DType::i32)}, {"empty", Tree::from_map({})}}}}
      .update_rng(RngSeq(Key::from_words(0xDEADBEEF, 12345)));
}

}  // namespace

TEST_CASE("io::Json parses and writes, and rejects malformed text") {
  const io::Json j =
      io::parse_json(R"({"a": [1, -2.5, "x\n\u00e9"], "b": {"c": null, "d": true}})", "t");
  CHECK(j.find("a")->as_array("t")[0].as_int("t") == 1);
  CHECK(j.find("a")->as_array("t")[1].as_double("t") == -2.5);
  CHECK(j.find("a")->as_array("t")[2].as_string("t") == "x\n\xc3\xa9");
  CHECK(io::parse_json(j.dump(), "t").dump() == j.dump());
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,\"a\":2}", "nul", "\"abc", "1 2",
                          "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]"
                          "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"})
    CHECK_THROWS_AS(io::parse_json(bad, "t"), Error);
}

TEST_CASE("safetensors: round trip of every dtype, byte layout, Python reader") {
  const Tensor f = host_uniform({2, 3}, 3).astype(DType::f32);
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"f32", f},
      {"f64_transposed", transpose(host_uniform({3, 2}, 4))},
      {"i32", Tensor::from_vector<std::int32_t>({-1, 2, 3}, {3})},
      {"i64", Tensor::from_vector<std::int64_t>({1LL << 40}, {1})},
      {"u8", Tensor::from_vector<std::uint8_t>({0, 255}, {2})},
      {"bool", Tensor::from_vector<std::uint8_t>({1, 0, 1}, {3}).astype(DType::bool_)},
      {"scalar", scalar(4.5)},
      {"empty", zeros({0, 4})}};
  const std::string bytes = io::encode_safetensors(tensors, {{"k", "v"}});
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= std::uint64_t(static_cast<unsigned char>(bytes[std::size_t(i)])) << (8 * i);
  CHECK((8 + n) % 8 == 0);  // data starts aligned
  CHECK(bytes.substr(8, 20) == R"({"__metadata__":{"k")");
  const io::SafetensorsFile back = io::decode_safetensors(bytes, "memory");
  REQUIRE(back.tensors.size() == tensors.size());
  CHECK(back.metadata.at("k") == "v");
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    CHECK(back.tensors[i].first == tensors[i].first);  // file order = declaration order
    CHECK(back.tensors[i].second.dtype() == tensors[i].second.dtype());
    CHECK(back.tensors[i].second.shape() == tensors[i].second.shape());
    CHECK(values(back.tensors[i].second.astype(DType::f64)) ==
          values(tensors[i].second.astype(DType::f64)));
  }
  const fs::path path = scratch("round_trip.safetensors");
  io::save_safetensors(path, tensors);
  CHECK(io::load_safetensors(path).tensors.size() == tensors.size());
  if (python_has("safetensors, numpy")) {
    std::ostringstream cmd;
    cmd << "python3 " << ELEGY_REFERENCE_DIR << "/check_safetensors.py " << path
        << " i32=-1,2,3 scalar=4.5 u8=0,255 f32=";
    const std::vector<double> fv = values(f);
    for (std::size_t i = 0; i < fv.size(); ++i)
      cmd << (i ? "," : "") << std::setprecision(9) << float(fv[i]);
    CHECK(std::system(cmd.str().c_str()) == 0);
  } else {
    MESSAGE("python safetensors/numpy not installed: cross-check skipped");
  }
}

TEST_CASE("safetensors: every truncation and corrupted header is an Error, never a crash") {
  const std::string bytes =
      io::encode_safetensors({{"a", host_uniform({4, 3}, 5)}, {"b", ones({2}, DType::i32)}});
  for (std::size_t len = 0; len < bytes.size(); ++len)
    CHECK_THROWS_AS(io::decode_safetensors(bytes.substr(0, len), "truncated"), Error);
  // Flip each header byte: either still a valid file or an Error.
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= std::uint64_t(static_cast<unsigned char>(bytes[std::size_t(i)])) << (8 * i);
  int errors = 0;
  for (std::size_t i = 0; i < 8 + n; ++i) {
    std::string bad = bytes;
    bad[i] = char(bad[i] ^ 0x5A);
    try {
      io::decode_safetensors(bad, "flipped");
    } catch (const Error&) {
      ++errors;
    }
  }
  CHECK(errors > int(n) / 2);
  auto header = [](const std::string& json, std::size_t data) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[std::size_t(i)] = char((json.size() >> (8 * i)) & 0xFF);
    return out + json + std::string(data, '\0');
  };
  CHECK_THROWS_WITH_AS(
      io::decode_safetensors(
          header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}})", 12), "x"),
      doctest::Contains("holds 12 bytes but float32[2] needs 8"), Error);
  CHECK_THROWS_WITH_AS(
      io::decode_safetensors(header(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", 4),
                             "x"),
      doctest::Contains("unsupported dtype 'F16'"), Error);
  CHECK_THROWS_WITH_AS(
      io::decode_safetensors(
          header(
              R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})",
              3),
          "x"),
      doctest::Contains("overlap or hole"), Error);
  CHECK_THROWS_WITH_AS(
      io::decode_safetensors(header(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", 1),
                             "x"),
      doctest::Contains("fall outside"), Error);
  CHECK_THROWS_WITH_AS(io::load_safetensors("/nonexistent/dir/file.safetensors"),
                       doctest::Contains("cannot open"), Error);
}

TEST_CASE("safetensors: fuzz regressions, shapes whose element count overflows") {
  const auto file = [](const std::string& json) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[std::size_t(i)] = char((json.size() >> (8 * i)) & 0xFF);
    return out + json;
  };
  // 2^39 x 2^10 x 2^39 wrapped to 0 elements before the size check, matching an empty range.
  CHECK_THROWS_WITH_AS(
      io::decode_safetensors(
          file(
              R"({"x":{"dtype":"U8","shape":[549755813888,1024,549755813888],"data_offsets":[0,0]}})"),
          "fuzz"),
      doctest::Contains("impossibly large"), Error);
  // A zero dimension keeps the data empty while the strides of the others overflow int64.
  CHECK_THROWS_WITH_AS(
      io::decode_safetensors(
          file(
              R"({"x":{"dtype":"U8","shape":[0,1099511627775,1099511627775,1099511627775],"data_offsets":[0,0]}})"),
          "fuzz"),
      doctest::Contains("impossibly large"), Error);
  const io::SafetensorsFile empty = io::decode_safetensors(
      file(R"({"x":{"dtype":"F32","shape":[0,1048576,1048576],"data_offsets":[0,0]}})"), "fuzz");
  CHECK(empty.tensors.at(0).second.shape() == Shape{0, 1048576, 1048576});
}

TEST_CASE("checkpoints: States round trip with structure, rng and epoch; mismatches named") {
  const States s = sample_states();
  const fs::path path = scratch("states.safetensors");
  io::save_states(path, s, 5);
  CHECK(fs::exists(path.string() + ".json"));
  const io::Checkpoint c = io::load_states(path, &s);
  CHECK(c.epoch == 5);
  CHECK(c.states.rng() == s.rng());
  for (const char* field : {"net_params", "net_states", "metrics_states", "optimizer_states"}) {
    CHECK(Tree::structure_difference(c.states[field], s[field]).empty());
    const auto a = c.states[field].leaves(), b = s[field].leaves();
    for (std::size_t i = 0; i < a.size(); ++i) {
      CHECK(a[i].dtype() == b[i].dtype());
      CHECK(values(a[i].astype(DType::f64)) == values(b[i].astype(DType::f64)));
    }
  }
  CHECK(c.states.metrics_states()[1].is_none());
  CHECK(c.states.optimizer_states()["empty"].is_map());
  // A model of another size: the first mismatching path and both shapes.
  const States other =
      s.update("net_params", Tree{{"linear", Tree{{"w", zeros({3, 5})}, {"b", zeros({2})}}}});
  CHECK_THROWS_WITH_AS(
      io::load_states(path, &other),
      doctest::Contains("net_params/linear/w: file has float32[3,2], model has float32[3,5]"),
      Error);
  const States missing = s.update("net_params", Tree{{"linear", Tree{{"w", zeros({3, 2})}}}});
  CHECK_THROWS_WITH_AS(io::load_states(path, &missing),
                       doctest::Contains("net_params/linear/b: not in the model"), Error);
  // Corruption anywhere: an Error.
  std::string bytes = io::read_file(path, "test");
  bytes.resize(bytes.size() - 3);
  io::write_file_atomically(path.string() + ".cut", bytes, "test");
  CHECK_THROWS_AS(io::load_states(path.string() + ".cut"), Error);
  if (python_has("safetensors, numpy")) {
    const std::string cmd = std::string("python3 ") + ELEGY_REFERENCE_DIR +
                            "/check_safetensors.py " + path.string() +
                            " net_states/bn/counter=3 optimizer_states/count=7";
    CHECK(std::system(cmd.c_str()) == 0);
  }
}

TEST_CASE("checkpoints: saves are atomic; Model::load leaves the model unchanged on failure") {
  const fs::path path = scratch("atomic.safetensors");
  io::save_safetensors(path, {{"a", ones({2})}});
  CHECK_THROWS_AS(io::save_safetensors("/nonexistent/dir/x.safetensors", {{"a", ones({2})}}),
                  Error);
  // A failed write into the target's folder leaves the old file whole (no temp file behind).
  fs::permissions(path.parent_path(), fs::perms::owner_write, fs::perm_options::remove);
  const bool can_still_write = ::access(path.parent_path().c_str(), W_OK) == 0;  // root ignores it
  if (!can_still_write) CHECK_THROWS_AS(io::save_safetensors(path, {{"b", zeros({3})}}), Error);
  fs::permissions(path.parent_path(), fs::perms::owner_write, fs::perm_options::add);
  if (!can_still_write) CHECK(io::load_safetensors(path).tensors.at(0).first == "a");
  for (const auto& entry : fs::directory_iterator(path.parent_path()))
    CHECK(entry.path().string().find(".tmp-") == std::string::npos);

  struct Net : nn::Module {
    std::int64_t width = 2;
    Tensor call(nn::Context& ctx, const Tensor& x) override { return nn::Linear(width)(ctx, x); }
  };
  Model model(
      {.module = Net(), .loss = {losses::MeanSquaredError()}, .optimizer = optim::adam(1e-2)});
  model.fit({.x = ones({8, 3}), .y = zeros({8, 2}), .batch_size = 4, .epochs = 1, .verbose = 0});
  const std::vector<double> before = values(model.states().net_params()["linear/w"].tensor());
  CHECK_THROWS_AS(model.load("/nonexistent.safetensors"), Error);
  Net wide_net;
  wide_net.width = 5;
  Model wider(
      {.module = wide_net, .loss = {losses::MeanSquaredError()}, .optimizer = optim::adam(1e-2)});
  wider.fit({.x = ones({8, 3}), .y = zeros({8, 5}), .batch_size = 4, .epochs = 1, .verbose = 0});
  const fs::path wpath = scratch("wider.safetensors");
  wider.save(wpath);
  CHECK_THROWS_WITH_AS(
      model.load(wpath),
      doctest::Contains("net_params/linear/b: file has float32[5], model has float32[2]"), Error);
  CHECK(values(model.states().net_params()["linear/w"].tensor()) == before);
}

TEST_CASE("checkpoints: resuming fit from a checkpoint reproduces the uninterrupted run exactly") {
  struct Net : nn::Module {
    Tensor call(nn::Context& ctx, const Tensor& x) override {
      return nn::Linear(3)(ctx, nn::Dropout(0.2)(ctx, nn::relu(ctx, nn::Linear(8)(ctx, x))));
    }
  };
  const Tensor x = random::normal(Key(1), {40, 5});
  const Tensor y = random::randint(Key(2), {40}, 0, 3);
  auto make = [] {
    return Model({.module = Net(),
                  .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
                  .metrics = {metrics::SparseCategoricalAccuracy()},
                  .optimizer = optim::adam(1e-2)});
  };
  Model full = make();
  const History h = full.fit({.x = x, .y = y, .batch_size = 16, .epochs = 4, .verbose = 0});

  Model first = make();
  first.fit({.x = x, .y = y, .batch_size = 16, .epochs = 2, .verbose = 0});
  const fs::path path = scratch("resume.safetensors");
  first.save(path);
  Model resumed = make();
  resumed.load(path);
  CHECK(resumed.epochs_done() == 2);
  const History r = resumed.fit({.x = x,
                                 .y = y,
                                 .batch_size = 16,
                                 .epochs = 4,
                                 .verbose = 0,
                                 .initial_epoch = resumed.epochs_done()});
  REQUIRE(r.history.at("loss").size() == 2);
  CHECK(r.history.at("loss")[0] == h.history.at("loss")[2]);
  CHECK(r.history.at("loss")[1] == h.history.at("loss")[3]);
  CHECK(r.history.at("sparse_categorical_accuracy")[1] ==
        h.history.at("sparse_categorical_accuracy")[3]);
  CHECK(values(resumed.states().net_params()["linear/w"].tensor()) ==
        values(full.states().net_params()["linear/w"].tensor()));
}

TEST_CASE("TensorBoard: CRC32C, record framing, protobuf fields, and the Python reader") {
  CHECK(io::crc32c("123456789") == 0xE3069283u);
  CHECK(io::crc32c("") == 0u);
  const fs::path dir = scratch("tb");
  fs::remove_all(dir);
  std::string file;
  {
    io::SummaryWriter train((dir / "train").string());
    io::SummaryWriter val((dir / "validation").string());
    train.add_scalar("loss", 0.5, 0, 1000.0);
    train.add_scalar("loss", 0.25, 1, 1001.0);
    val.add_scalar("loss", 0.75, 1, 1001.0);
    file = train.path();
  }
  // Walk the records: length, CRCs, and the Event fields of the second record.
  const std::string bytes = io::read_file(file, "test");
  std::size_t pos = 0;
  std::vector<std::string> records;
  while (pos < bytes.size()) {
    REQUIRE(pos + 12 <= bytes.size());
    std::uint64_t n = 0;
    for (int i = 0; i < 8; ++i)
      n |= std::uint64_t(static_cast<unsigned char>(bytes[pos + std::size_t(i)])) << (8 * i);
    auto u32 = [&](std::size_t at) {
      std::uint32_t v = 0;
      for (int i = 0; i < 4; ++i)
        v |= std::uint32_t(static_cast<unsigned char>(bytes[at + std::size_t(i)])) << (8 * i);
      return v;
    };
    CHECK(u32(pos + 8) == io::masked_crc32c(bytes.substr(pos, 8)));
    const std::string payload = bytes.substr(pos + 12, std::size_t(n));
    CHECK(u32(pos + 12 + std::size_t(n)) == io::masked_crc32c(payload));
    records.push_back(payload);
    pos += 16 + std::size_t(n);
  }
  REQUIRE(records.size() == 3);
  CHECK(records[0].find("brain.Event:2") != std::string::npos);
  CHECK(records[2][0] == 0x09);                             // wall_time, fixed64
  CHECK(records[2].find(std::string("\x10\x01", 2)) == 9);  // step = 1
  CHECK(records[2].find("loss") != std::string::npos);
  if (python_has("tensorboard")) {
    const std::string out = run_capture("python3 " + std::string(ELEGY_REFERENCE_DIR) +
                                        "/read_tensorboard.py " + dir.string());
    CHECK(out == "train loss 0 0.5\ntrain loss 1 0.25\nvalidation loss 1 0.75\n");
  } else {
    MESSAGE("python tensorboard not installed: cross-check skipped");
  }
}

TEST_CASE("callbacks: TensorBoard and ModelCheckpoint through fit") {
  const fs::path dir = scratch("fit_tb");
  fs::remove_all(dir);
  Model model({.module = nn::Linear(1),
               .loss = {losses::MeanSquaredError()},
               .optimizer = optim::sgd(0.1)});
  const Tensor x = random::normal(Key(3), {16, 2}), y = sum(x, -1, true);
  auto ckpt = std::make_shared<callbacks::ModelCheckpoint>(
      (dir / "ckpt-{epoch:02d}.safetensors").string(),
      callbacks::ModelCheckpointOptions{.save_best_only = true});
  model.fit({.x = x,
             .y = y,
             .batch_size = 8,
             .epochs = 3,
             .verbose = 0,
             .callbacks = {callbacks::TensorBoard((dir / "tb").string(), {.update_freq = 1}), ckpt},
             .validation_data = {{x, y}}});
  CHECK(fs::exists(dir / "ckpt-03.safetensors"));  // the loss falls every epoch here
  CHECK(ckpt->last_saved == (dir / "ckpt-03.safetensors").string());
  Model restored({.module = nn::Linear(1),
                  .loss = {losses::MeanSquaredError()},
                  .optimizer = optim::sgd(0.1)});
  restored.load(ckpt->last_saved);
  // A root Linear keeps its parameters at the top: "w", "b".
  CHECK(values(restored.states().net_params()["w"].tensor()) ==
        values(model.states().net_params()["w"].tensor()));
  if (python_has("tensorboard")) {
    const std::string out = run_capture("python3 " + std::string(ELEGY_REFERENCE_DIR) +
                                        "/read_tensorboard.py " + (dir / "tb").string());
    CHECK(out.find("train loss 2 ") != std::string::npos);
    CHECK(out.find("validation loss 2 ") != std::string::npos);
    CHECK(out.find("train batch_loss 6 ") != std::string::npos);
  }
}
