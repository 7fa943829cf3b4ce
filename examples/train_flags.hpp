// The command-line flags every Fashion-MNIST Model example takes:
//   --epochs N (10)  --batch-size B (64)  --data DIR (Debian's dataset-fashion-mnist)
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

#include <elegy/elegy.hpp>

namespace elegy::examples {

struct TrainFlags {
  int epochs = 10;
  std::int64_t batch_size = 64;
  std::string data = "/usr/share/datasets/fashion-mnist";
};

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
    else
      fail(program, "unknown flag ", flag, " (expected --epochs, --batch-size, --data)");
  }
  return f;
}

}  // namespace elegy::examples
