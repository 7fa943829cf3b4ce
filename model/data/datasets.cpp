#include "elegy/model/data/datasets.hpp"

#include <filesystem>

#include "elegy/core/error.hpp"
#include "elegy/model/data/readers.hpp"

namespace elegy::data::datasets {

Split fashion_mnist(const std::string& dir) {
  const char* files[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
  for (const char* f : files)
    ELEGY_CHECK(std::filesystem::exists(dir + "/" + f), "datasets::fashion_mnist", "'", dir, "/", f,
                "' is missing: install Debian's package (sudo apt-get install "
                "dataset-fashion-mnist) or pass the folder holding the four IDX files");
  return {read_idx(dir + "/" + files[0]), read_idx(dir + "/" + files[1]).astype(DType::i32),
          read_idx(dir + "/" + files[2]), read_idx(dir + "/" + files[3]).astype(DType::i32)};
}

}  // namespace elegy::data::datasets
