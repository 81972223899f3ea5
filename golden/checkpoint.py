"""A checkpoint's tensors one at a time, without loading it whole.

`.safetensors` files are read by their header (8 bytes of little-endian
header length, a JSON header of name -> dtype, shape, byte offsets) and
memory-mapped, so a checkpoint larger than memory can be walked; `.npz`
and `.npy` files are read by NumPy (an .npy memory-mapped, an .npz member
by member). A folder is every such file in it, in name order.
"""

from __future__ import annotations

import json
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .errors import InputError

__all__ = ["Tensor", "tensors", "SUFFIXES"]

SUFFIXES = (".safetensors", ".npz", ".npy")

#: safetensors dtypes ifmac reads as floats: the array's dtype, and how a
#: slice of it becomes float32 (bfloat16: the top half of a float32).
_FLOAT = {
    "F64": (np.float64, lambda a: a.astype(np.float32)),
    "F32": (np.float32, lambda a: np.asarray(a, dtype=np.float32)),
    "F16": (np.float16, lambda a: a.astype(np.float32)),
    "BF16": (np.uint16, lambda a: (a.astype(np.uint32) << 16).view(np.float32)),
}
_OTHER = {"I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8,
          "BOOL": np.bool_}


@dataclass
class Tensor:
    """One tensor of a checkpoint: its name (file:name for a folder), shape,
    whether it holds floats, and its rows on demand as float32."""
    name: str
    shape: tuple[int, ...]
    is_float: bool
    _array: np.ndarray
    _to_f32: Callable

    @property
    def params(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows lo..hi-1 of the tensor seen as (rows, last axis), float32."""
        flat = self._array.reshape(-1, self.shape[-1]) if self.shape else self._array
        return self._to_f32(flat[lo:hi])


def _safetensors(path: Path, prefix: str) -> Iterator[Tensor]:
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise InputError(f"{path}: not a safetensors file (shorter than its 8-byte header "
                             "length)")
        (n,) = struct.unpack("<Q", head)
        size = path.stat().st_size
        if n > size - 8:
            raise InputError(f"{path}: header length {n} is beyond the file's {size} bytes; "
                             "not a safetensors file")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"{path}: the safetensors header is not JSON ({e})") from None
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n) if size > 8 + n else None
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, (lo, hi) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
        if dtype in _FLOAT:
            np_type, convert = _FLOAT[dtype]
        elif dtype in _OTHER:
            np_type, convert = _OTHER[dtype], None
        else:
            raise InputError(f"{path}: tensor {name} has dtype {dtype}; expected one of "
                             f"{', '.join([*_FLOAT, *_OTHER])}")
        count = int(np.prod(shape, dtype=np.int64))
        if hi - lo != count * np.dtype(np_type).itemsize or data is None or hi > len(data):
            raise InputError(f"{path}: tensor {name}'s bytes {lo}..{hi} do not hold "
                             f"{dtype} {list(shape)}")
        array = data[lo:hi].view(np_type).reshape(shape)
        yield Tensor(prefix + name, shape, convert is not None, array, convert or np.asarray)


def _numpy(name: str, array: np.ndarray) -> Tensor:
    is_float = array.dtype.kind == "f"
    return Tensor(name, tuple(array.shape), is_float, array,
                  (lambda a: np.asarray(a, dtype=np.float32)) if is_float else np.asarray)


def _one_file(path: Path, prefix: str) -> Iterator[Tensor]:
    if path.suffix == ".safetensors":
        yield from _safetensors(path, prefix)
    elif path.suffix == ".npy":
        yield _numpy(prefix + path.stem, np.load(path, mmap_mode="r"))
    elif path.suffix == ".npz":
        try:
            with np.load(path) as z:
                for key in z.files:
                    yield _numpy(prefix + key, z[key])
        except zipfile.BadZipFile:
            raise InputError(f"{path}: not an .npz archive") from None
    else:
        raise InputError(f"{path}: expected a {', '.join(SUFFIXES)} file or a folder of them")


def tensors(path) -> Iterator[Tensor]:
    """Every tensor of the checkpoint at `path` (a file, or a folder of
    .safetensors/.npz/.npy files, whose tensors are named file:name)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES)
        if not files:
            raise InputError(f"{path}: no {', '.join(SUFFIXES)} file in this folder")
        for f in files:
            yield from _one_file(f, f"{f.name}:")
    elif path.is_file():
        yield from _one_file(path, "")
    else:
        raise InputError(f"{path}: no such file or folder; expected a checkpoint "
                         f"({', '.join(SUFFIXES)}) or a folder of them")
