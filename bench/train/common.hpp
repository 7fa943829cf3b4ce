// What the training-step benchmarks (elegy, libtorch) share: the workloads, the inputs written
// by gen_data.py (.npy files), the command line and the step timer. Standard library only, so
// the libtorch program includes it without any elegy header.
//
// Output contract (bench/peers/timing.hpp's): one `impl,case,threads,median_us` line per case on
// stdout; the first losses go to the --losses file as `impl,workload,step,loss` lines.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace elegy::bench::train {

// ---- workloads (issue 8) ----------------------------------------------------------------------

enum class Net { mlp, cnn };

struct Workload {
  Net net;
  std::int64_t batch;
  std::string name() const { return (net == Net::mlp ? "mlp_b" : "cnn_b") + std::to_string(batch); }
};

// "cpu": issue 8's workloads, the CPU tables of bench/train/run.py. "gpu": those plus the MLP at
// batch 1024, the GPU issue's second MLP size (bench/gpu/train.py), kept out of the CPU run.
inline std::vector<Workload> workloads(std::string_view set) {
  std::vector<Workload> all = {{Net::mlp, 32}, {Net::mlp, 128}, {Net::mlp, 512}, {Net::cnn, 64}};
  if (set == "gpu") all.insert(all.begin() + 3, {Net::mlp, 1024});
  return all;
}

// Parameter paths in elegy's naming (files are "<path with . for />.{w,b}.npy").
inline std::vector<std::string> layer_names(Net net) {
  if (net == Net::mlp) return {"linear", "linear_1", "linear_2"};
  return {"conv2_d", "conv2_d_1", "linear", "linear_1"};
}

constexpr int kNumBatches = 10;  // batches cycled through; also the number of losses checked
constexpr std::int64_t kImage = 28 * 28;

// ---- .npy reading -----------------------------------------------------------------------------

// A C-order little-endian array as numpy writes it (format 1.0 / 2.0); only the dtypes the
// benchmark files use.
struct Npy {
  std::string descr;  // "<f4", "<i8", "|u1"
  std::vector<std::int64_t> shape;
  std::vector<char> bytes;

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;
    return n;
  }
  template <class T>
  std::vector<T> as() const {
    std::vector<T> out(bytes.size() / sizeof(T));
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
    return out;
  }
};

inline Npy read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path + " (run bench/train/gen_data.py)");
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error(path + ": not .npy");
  std::uint32_t header_len = 0;
  if (magic[6] == 1) {
    std::uint16_t len16 = 0;
    in.read(reinterpret_cast<char*>(&len16), 2);
    header_len = len16;
  } else {
    in.read(reinterpret_cast<char*>(&header_len), 4);
  }
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  auto field = [&](const char* key) {
    const auto at = header.find(key);
    if (at == std::string::npos) throw std::runtime_error(path + ": no " + key + " in header");
    return at + std::strlen(key);
  };
  Npy npy;
  const auto d = header.find('\'', field("'descr':"));
  npy.descr = header.substr(d + 1, header.find('\'', d + 1) - d - 1);
  if (header.find("True", field("'fortran_order':")) < header.find(',', field("'fortran_order':")))
    throw std::runtime_error(path + ": Fortran order not supported");
  const auto open = header.find('(', field("'shape':"));
  const auto close = header.find(')', open);
  std::string dims = header.substr(open + 1, close - open - 1);
  for (std::size_t pos = 0; pos < dims.size();) {
    const auto comma = dims.find(',', pos);
    const std::string tok =
        dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (tok.find_first_of("0123456789") != std::string::npos) npy.shape.push_back(std::stoll(tok));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  const std::size_t item = npy.descr == "<f4"   ? 4
                           : npy.descr == "<i8" ? 8
                           : npy.descr == "|u1" ? 1
                                                : 0;
  if (item == 0) throw std::runtime_error(path + ": unsupported dtype " + npy.descr);
  npy.bytes.resize(std::size_t(npy.numel()) * item);
  in.read(npy.bytes.data(), std::streamsize(npy.bytes.size()));
  if (!in) throw std::runtime_error(path + ": truncated");
  return npy;
}

// One float32 parameter: its elegy path ("linear_1/w"), shape in elegy's layout, values.
struct Param {
  std::string path;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

inline std::vector<Param> read_params(const std::string& data_dir, Net net) {
  std::vector<Param> out;
  const std::string dir = data_dir + (net == Net::mlp ? "/mlp/" : "/cnn/");
  for (const std::string& layer : layer_names(net)) {
    for (const char* leaf : {"w", "b"}) {
      const Npy npy = read_npy(dir + layer + "." + leaf + ".npy");
      if (npy.descr != "<f4") throw std::runtime_error(layer + ": parameters must be float32");
      out.push_back({layer + "/" + leaf, npy.shape, npy.as<float>()});
    }
  }
  return out;
}

// Batch i of size b: images [i*b, (i+1)*b) as floats in [0, 1] (pixels / 255), labels as int64.
struct HostBatch {
  std::vector<float> x;  // [b, 784]: also [b, 28, 28, 1] (NHWC) and [b, 1, 28, 28] (NCHW)
  std::vector<std::int64_t> y;
};

inline std::vector<HostBatch> read_batches(const std::string& data_dir, std::int64_t b) {
  const Npy images = read_npy(data_dir + "/images.npy");
  const Npy labels = read_npy(data_dir + "/labels.npy");
  if (images.descr != "|u1" || labels.descr != "<i8" || images.numel() != labels.numel() * kImage)
    throw std::runtime_error("images.npy/labels.npy: unexpected dtypes or sizes");
  if (labels.numel() < b * kNumBatches)
    throw std::runtime_error(data_dir + "/images.npy holds " + std::to_string(labels.numel()) +
                             " images, batch " + std::to_string(b) + " needs " +
                             std::to_string(b * kNumBatches) +
                             ": rerun bench/train/gen_data.py with --images");
  const auto* pixels = reinterpret_cast<const std::uint8_t*>(images.bytes.data());
  const std::vector<std::int64_t> all_labels = labels.as<std::int64_t>();
  std::vector<HostBatch> out(kNumBatches);
  for (int i = 0; i < kNumBatches; ++i) {
    out[i].x.resize(std::size_t(b * kImage));
    for (std::int64_t j = 0; j < b * kImage; ++j)
      out[i].x[std::size_t(j)] = float(pixels[i * b * kImage + j]) / 255.0f;
    out[i].y.assign(all_labels.begin() + i * b, all_labels.begin() + (i + 1) * b);
  }
  return out;
}

// ---- command line -----------------------------------------------------------------------------

struct Args {
  int threads = 1;
  int blas_threads = 0;  // libtorch only: OpenBLAS's own thread count (0 = threads)
  std::string data = "bench-train-data";
  std::string losses;  // file the first kNumBatches losses are appended to ("" = none)
  std::string filter;  // run only workloads/cases whose name contains it
  std::string path;    // elegy only: "model" or "lowlevel" runs that path alone (for profiling)
  std::string device = "cpu";  // elegy only: "cpu" or "cuda" (inputs and parameters live there)
  std::string workload_set;    // "cpu" or "gpu" (see workloads()); "" = "gpu" on cuda, else "cpu"
  double min_seconds = 1.0;
  int min_steps = 20;
  int warmup = 5;

  bool wants(std::string_view name) const {
    return filter.empty() || name.find(filter) != std::string_view::npos;
  }
};

inline Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--threads" && has_value) {
      a.threads = std::atoi(argv[++i]);
    } else if (arg == "--blas-threads" && has_value) {
      a.blas_threads = std::atoi(argv[++i]);
    } else if (arg == "--data" && has_value) {
      a.data = argv[++i];
    } else if (arg == "--losses" && has_value) {
      a.losses = argv[++i];
    } else if (arg == "--filter" && has_value) {
      a.filter = argv[++i];
    } else if (arg == "--path" && has_value) {
      a.path = argv[++i];
    } else if (arg == "--device" && has_value) {
      a.device = argv[++i];
    } else if (arg == "--workloads" && has_value) {
      a.workload_set = argv[++i];
    } else if (arg == "--min-seconds" && has_value) {
      a.min_seconds = std::atof(argv[++i]);
    } else if (arg == "--min-steps" && has_value) {
      a.min_steps = std::atoi(argv[++i]);
    } else if (arg == "--warmup" && has_value) {
      a.warmup = std::atoi(argv[++i]);
    } else {
      std::fprintf(
          stderr,
          "usage: %s [--threads N] [--blas-threads N] [--data DIR] [--losses FILE]\n"
          "          [--filter SUBSTR] [--path model|lowlevel] [--device cpu|cuda]\n"
          "          [--workloads cpu|gpu] [--min-seconds S] [--min-steps N] [--warmup N]\n",
          argv[0]);
      std::exit(2);
    }
  }
  if (a.blas_threads == 0) a.blas_threads = a.threads;
  if (a.threads < 1 || a.blas_threads < 1 || a.min_steps < 1 || a.warmup < 0) {
    std::fprintf(stderr, "--threads and --min-steps must be >= 1, --warmup >= 0\n");
    std::exit(2);
  }
  if (a.device != "cpu" && a.device != "cuda") {
    std::fprintf(stderr, "--device must be cpu or cuda, not '%s'\n", a.device.c_str());
    std::exit(2);
  }
  if (a.workload_set.empty()) a.workload_set = a.device == "cuda" ? "gpu" : "cpu";
  if (a.workload_set != "cpu" && a.workload_set != "gpu") {
    std::fprintf(stderr, "--workloads must be cpu or gpu, not '%s'\n", a.workload_set.c_str());
    std::exit(2);
  }
  return a;
}

// ---- timing -----------------------------------------------------------------------------------

using Clock = std::chrono::steady_clock;

inline double us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  const std::size_t n = v.size();
  std::nth_element(v.begin(), v.begin() + n / 2, v.end());
  const double upper = v[n / 2];
  if (n % 2 == 1) return upper;
  return 0.5 * (upper + *std::max_element(v.begin(), v.begin() + n / 2));
}

// Per-step phase times: a step calls lap(k) when phase k ends (phases run back to back from the
// step's start), so each phase gets one sample per timed step at no extra run.
class Laps {
 public:
  explicit Laps(std::vector<std::string> names)
      : names_(std::move(names)), samples_(names_.size()) {}
  void start() { last_ = Clock::now(); }
  void lap(std::size_t phase) {
    const auto now = Clock::now();
    if (recording_) samples_[phase].push_back(us_between(last_, now));
    last_ = now;
  }
  void set_recording(bool on) { recording_ = on; }
  const std::vector<std::string>& names() const { return names_; }
  double median_us(std::size_t phase) const { return median(samples_[phase]); }

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<double>> samples_;
  Clock::time_point last_{};
  bool recording_ = false;
};

// Runs step(i) for warm-up steps, then times single steps until both min_steps and min_seconds
// are reached (at most 2000 steps or 30 s) and returns the median µs of one step. step(i) gets
// the step's index (0, 1, 2, ...) to pick its batch.
template <class Step>
double median_step_us(const Args& args, Step&& step, Laps* laps = nullptr) {
  long index = 0;
  if (laps) laps->set_recording(false);
  for (int i = 0; i < args.warmup; ++i) step(index++);
  if (laps) laps->set_recording(true);
  std::vector<double> samples;
  const auto start = Clock::now();
  for (;;) {
    const auto t0 = Clock::now();
    step(index++);
    const auto t1 = Clock::now();
    samples.push_back(us_between(t0, t1));
    const double elapsed = us_between(start, t1) * 1e-6;
    const bool enough = int(samples.size()) >= args.min_steps && elapsed >= args.min_seconds;
    if (enough || samples.size() >= 2000 || elapsed >= 30.0) break;
  }
  if (laps) laps->set_recording(false);
  return median(samples);
}

inline void print_row(std::string_view impl, const std::string& case_name, int threads, double us) {
  std::printf("%.*s,%s,%d,%.1f\n", int(impl.size()), impl.data(), case_name.c_str(), threads, us);
  std::fflush(stdout);
}

// Appends the check losses: one `impl,workload,step,loss` line each, full float precision.
inline void write_losses(const Args& args, std::string_view impl, const std::string& workload,
                         const std::vector<double>& losses) {
  if (args.losses.empty()) return;
  std::ofstream out(args.losses, std::ios::app);
  char line[160];
  for (std::size_t i = 0; i < losses.size(); ++i) {
    std::snprintf(line, sizeof line, "%.*s,%s,%zu,%.9g\n", int(impl.size()), impl.data(),
                  workload.c_str(), i, losses[i]);
    out << line;
  }
}

}  // namespace elegy::bench::train
