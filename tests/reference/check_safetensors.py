"""Reads a safetensors file with the `safetensors` package (numpy backend) and checks the
values elegy's test wrote: argv[1] = file, then name=comma-separated-values... pairs.
Exit 0 when every named tensor holds exactly those values (flattened, C order)."""
import sys

import numpy as np
from safetensors.numpy import load_file


def main() -> int:
    tensors = load_file(sys.argv[1])
    for spec in sys.argv[2:]:
        name, values = spec.split("=", 1)
        expected = np.array([float(v) for v in values.split(",")]) if values else np.array([])
        got = tensors[name].ravel()
        # Compare in the stored dtype: the test prints float32 values with 9 digits, which
        # round-trip exactly to float32 but not to float64.
        expected = expected.astype(got.dtype)
        if got.shape != expected.shape or not np.array_equal(got, expected):
            print(f"{name}: expected {expected}, got {got}")
            return 1
    print(f"ok: {len(tensors)} tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
