#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses: small valid files of every format, one folder
per harness (idx, npy, npz, safetensors, csv) under the folder given (default build-fuzz/fuzz-seeds,
which git ignores). numpy and safetensors write some seeds when installed; the rest are built by
hand here, so every folder is filled either way."""
import gzip
import io
import json
import struct
import sys
import zipfile
from pathlib import Path

try:
    import numpy as np
except ImportError:
    np = None
try:
    import safetensors.numpy as st_numpy
except ImportError:
    st_numpy = None


def write(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def idx_bytes(type_code: int, shape, data: bytes) -> bytes:
    return bytes([0, 0, type_code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape) + data


def idx_seeds(out: Path) -> None:
    seeds = {
        "u8_2x3": idx_bytes(0x08, [2, 3], bytes([1, 2, 3, 4, 5, 255])),
        "i8_4": idx_bytes(0x09, [4], bytes([0, 1, 0x7F, 0x80])),
        "i16_2": idx_bytes(0x0B, [2], struct.pack(">hh", -2, 300)),
        "i32_2x1": idx_bytes(0x0C, [2, 1], struct.pack(">ii", -7, 1 << 20)),
        "f32_3": idx_bytes(0x0D, [3], struct.pack(">fff", 0.5, -1.0, 3.25)),
        "f64_1x1x2": idx_bytes(0x0E, [1, 1, 2], struct.pack(">dd", 1e-3, 2.0)),
        "u8_empty": idx_bytes(0x08, [0, 28, 28], b""),
    }
    for name, data in seeds.items():
        write(out, name + ".idx", data)
        write(out, name + ".idx.gz", gzip.compress(data, mtime=0))
    # Two concatenated gzip members, as `cat a.gz b.gz` makes.
    whole = seeds["u8_2x3"]
    write(out, "u8_2x3_two_members.idx.gz",
          gzip.compress(whole[:7], mtime=0) + gzip.compress(whole[7:], mtime=0))


def npy_bytes(descr: str, shape, data: bytes, version: int = 1) -> bytes:
    """NPY as numpy's format.write_array lays it out (header padded to 64 bytes)."""
    shape_text = f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}"
    prefix = 10 if version == 1 else 12
    header += " " * ((-(prefix + len(header) + 1)) % 64) + "\n"
    length = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode("latin1") + data


def hand_npy_seeds():
    return {
        "f4_2x3": npy_bytes("<f4", [2, 3], struct.pack("<6f", 1, 2, 3, 4, 5, 6)),
        "f8_scalar": npy_bytes("<f8", [], struct.pack("<d", 2.5)),
        "i4_3": npy_bytes("<i4", [3], struct.pack("<3i", -1, 0, 7)),
        "i8_2x1": npy_bytes("<i8", [2, 1], struct.pack("<2q", -5, 1 << 40), version=2),
        "u1_4": npy_bytes("|u1", [4], bytes([0, 1, 128, 255]), version=3),
        "b1_2x2": npy_bytes("|b1", [2, 2], bytes([1, 0, 0, 1])),
        "f4_empty": npy_bytes("<f4", [0, 5], b""),
    }


def npy_seeds(out: Path) -> None:
    for name, data in hand_npy_seeds().items():
        write(out, name + ".npy", data)
    if np is not None:
        arrays = {
            "np_f4": np.arange(6, dtype=np.float32).reshape(2, 3),
            "np_i8": np.array([-3, 9], dtype=np.int64),
            "np_bool": np.array([[True], [False]]),
            "np_u1_3d": np.arange(8, dtype=np.uint8).reshape(2, 2, 2),
        }
        for name, a in arrays.items():
            buf = io.BytesIO()
            np.save(buf, a)
            write(out, name + ".npy", buf.getvalue())


def zip_bytes(members, compression, force_zip64=False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compression
            with z.open(info, "w", force_zip64=force_zip64) as f:
                f.write(data)
    return buf.getvalue()


def npz_seeds(out: Path) -> None:
    npys = hand_npy_seeds()
    members = {"a.npy": npys["f4_2x3"], "b.npy": npys["i4_3"], "flag.npy": npys["b1_2x2"]}
    write(out, "stored.npz", zip_bytes(members, zipfile.ZIP_STORED))
    write(out, "deflated.npz", zip_bytes(members, zipfile.ZIP_DEFLATED))
    write(out, "zip64.npz", zip_bytes({"x.npy": npys["u1_4"]}, zipfile.ZIP_STORED, force_zip64=True))
    write(out, "empty.npz", zip_bytes({}, zipfile.ZIP_STORED))
    if np is not None:
        buf = io.BytesIO()
        np.savez(buf, m=np.arange(4.0).reshape(2, 2), s=np.float64(1.5))
        write(out, "np_savez.npz", buf.getvalue())
        buf = io.BytesIO()
        np.savez_compressed(buf, u=np.array([[1, 2], [3, 250]], dtype=np.uint8))
        write(out, "np_savez_compressed.npz", buf.getvalue())


def safetensors_bytes(tensors, metadata=None) -> bytes:
    """The layout elegy's encode_safetensors writes: tensors = [(name, dtype, shape, data)]."""
    header, offset, blob = {}, 0, b""
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blob += data
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((-(8 + len(text))) % 8)
    return struct.pack("<Q", len(text)) + text + blob


def safetensors_seeds(out: Path) -> None:
    seeds = {
        "two": safetensors_bytes([("w", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
                                  ("b", "I64", [2], struct.pack("<2q", -1, 5))]),
        "every_dtype": safetensors_bytes([("f", "F64", [], struct.pack("<d", 0.25)),
                                          ("i", "I32", [1, 2], struct.pack("<2i", 3, -4)),
                                          ("u", "U8", [3], bytes([0, 7, 255])),
                                          ("q", "BOOL", [2], bytes([1, 0]))],
                                         {"format": "pt", "epoch": "3"}),
        "empty_tensor": safetensors_bytes([("e", "F32", [0, 4], b"")]),
        "no_tensors": safetensors_bytes([], {"note": "only metadata"}),
    }
    for name, data in seeds.items():
        write(out, name + ".safetensors", data)
    if st_numpy is not None and np is not None:
        write(out, "st_numpy.safetensors",
              st_numpy.save({"emb": np.arange(6, dtype=np.float32).reshape(3, 2),
                             "ids": np.array([1, 2], dtype=np.int64)}))


def csv_seeds(out: Path) -> None:
    # The harness reads byte 0 as the options: bits 0-2 delimiter (, ; \t space | : " \n),
    # bit 3 header, bits 4-7 dtype modulo 6 (f32 f64 i32 i64 u8 bool).
    def options(delimiter_index, header, dtype_index):
        return bytes([delimiter_index | (8 if header else 0) | (dtype_index << 4)])

    seeds = {
        "header_f32": options(0, True, 0) + b'a, "b"\n1,2.5\n\n"3",-4e1\n',
        "semicolon_f64": options(1, False, 1) + b"1;2\r\n3;4\r\n",
        "tab_i32": options(2, True, 2) + b"x\ty\n-7\t8\n",
        "space_i64": options(3, False, 3) + b"9007199254740993 -1\n",
        "pipe_u8": options(4, True, 4) + b"p|q\n0|255\n",
        "colon_bool": options(5, False, 5) + b"0:1:2.5\n",
        "quoted": options(0, True, 1) + b'"a ""x""",b\n"1e3", nan\n',
    }
    for name, data in seeds.items():
        write(out, name + ".csv", data)


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(__file__).resolve().parents[2] / "build-fuzz" / "fuzz-seeds"
    idx_seeds(root / "idx")
    npy_seeds(root / "npy")
    npz_seeds(root / "npz")
    safetensors_seeds(root / "safetensors")
    csv_seeds(root / "csv")
    for folder in sorted(root.iterdir()):
        print(f"{folder.name}: {len(list(folder.iterdir()))} seeds")


if __name__ == "__main__":
    main()
