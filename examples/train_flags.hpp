// The command-line flags every Fashion-MNIST Model example takes:
//   --epochs N (10)  --batch-size B (64)  --data DIR (Debian's dataset-fashion-mnist)
//   --device cpu|cuda|cuda:N (where the model's steps run; default: the CPU)
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include <elegy/elegy.hpp>

namespace elegy::examples {

struct TrainFlags {
  int epochs = 10;
  std::int64_t batch_size = 64;
  std::string data = "/usr/share/datasets/fashion-mnist";
  std::optional<Device> device{};  // ModelOptions::device
};

// "cpu", "cuda" or "cuda:N"; anything else is an Error naming `program`.
inline Device parse_device(const char* program, const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda();
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5 &&
      text.find_first_not_of("0123456789", 5) == std::string::npos)
    return Device::cuda(std::stoi(text.substr(5)));
  fail(program, "unknown device '", text, "' (expected cpu, cuda or cuda:N)");
}

// Error naming `program` on an unknown flag.
inline TrainFlags parse_train_flags(const char* program, int argc, char** argv) {
  TrainFlags f;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--epochs")
      f.epochs = std::atoi(argv[i + 1]);
    else if (flag == "--batch-size")
      f.batch_size = std::atoll(argv[i + 1]);
    else if (flag == "--data")
      f.data = argv[i + 1];
    else if (flag == "--device")
      f.device = parse_device(program, argv[i + 1]);
    else
      fail(program, "unknown flag ", flag, " (expected --epochs, --batch-size, --data, --device)");
  }
  return f;
}

}  // namespace elegy::examples
