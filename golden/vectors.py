"""Random MAC stimulus with expected results, and its file formats.

`random_beats` draws a beat stream that mixes segment lengths (one beat to
hundreds), every INT/FP flag combination and corner codes and scales;
`expected` runs it through the golden `mac`. `save_npz` / `load_npz` and
`write_hex` are the formats `ifmac vectors` and `ifmac run` use.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

import numpy as np

from .config import Config
from .errors import InputError
from .formats import Format
from .model import check_beats, mac

__all__ = ["Beats", "random_beats", "quantized_beats", "dot_product_beats", "save_npz", "load_npz",
           "read_npz", "write_hex",
           "BEAT_KEYS", "expected", "pack_lanes"]

BEAT_KEYS = ("a", "a_scale", "w", "w_scale", "last")

# Scale payloads worth hitting on purpose: zero, smallest and largest
# subnormal, smallest normal, 1.0, largest finite (0x7E = 448) and 0x7F
# (NaN in OCP E4M3, saturated to 448 by the MAC).
CORNER_PAYLOADS = np.array([0x00, 0x01, 0x07, 0x08, 0x38, 0x7E, 0x7F], dtype=np.uint8)


@dataclass
class Beats:
    """A beat stream of a configuration's format and block size: (N, B)
    codes and (N,) scale bytes for A and W, (N,) last; `seed` when drawn at
    random."""
    config: Config
    a: np.ndarray
    a_scale: np.ndarray
    w: np.ndarray
    w_scale: np.ndarray
    last: np.ndarray
    seed: int | None = None

    def __len__(self) -> int:
        return len(self.last)

    @property
    def segments(self) -> int:
        return int(np.count_nonzero(self.last))

    def arrays(self) -> tuple:
        return self.a, self.a_scale, self.w, self.w_scale, self.last

    def concat(self, other: "Beats") -> "Beats":
        if not self.config.same_stream(other.config):
            raise InputError(f"cannot join beats of {self.config.name} and {other.config.name}")
        return Beats(self.config,
                     *(np.concatenate([x, y]) for x, y in zip(self.arrays(), other.arrays())),
                     seed=self.seed)

    @property
    def meta(self) -> dict:
        """What an .npz of these beats says about them (meta_<key>)."""
        meta = {"format": self.config.format.name, "block_size": self.config.block_size}
        return meta | ({"seed": self.seed} if self.seed is not None else {})


def _segment_lengths(rng: np.random.Generator, n: int) -> np.ndarray:
    """Lengths summing to n: many one-beat and short segments, some long ones."""
    out, total = [], 0
    while total < n:
        kind = rng.random()
        if kind < 0.35:
            length = 1
        elif kind < 0.8:
            length = int(rng.integers(2, 9))
        elif kind < 0.97:
            length = int(rng.integers(9, 65))
        else:
            length = int(rng.integers(65, 400))
        length = min(length, n - total)
        out.append(length)
        total += length
    return np.array(out, dtype=np.int64)


# E8M0 bytes worth hitting: 2^-127, 2^-126, 1, 2^127 and NaN (rarely: a NaN
# scale makes its whole segment NaN).
CORNER_E8M0 = np.array([0x00, 0x01, 0x7F, 0xFE, 0xFF], dtype=np.uint8)
CORNER_E8M0_P = np.array([0.3, 0.2, 0.2, 0.27, 0.03])


def _random_scales(fmt: Format, rng: np.random.Generator, n: int,
                   corner_fraction: float) -> np.ndarray:
    if fmt.scale.power_of_two:
        # Most scale pairs keep S = 2^(ea + eb - 254) in binary32's normal
        # range (bytes 127 +- 40); a quarter span 0..254, whose pairs reach
        # subnormal products, underflow to zero and overflow to infinity.
        s = rng.integers(87, 168, n).astype(np.uint8)
        wide = rng.random(n) < 0.25
        s[wide] = rng.integers(0, 0xFF, int(wide.sum()))
        corner = rng.random(n) < corner_fraction
        s[corner] = rng.choice(CORNER_E8M0, int(corner.sum()), p=CORNER_E8M0_P)
        return s
    payload = rng.integers(0, 0x80, n, dtype=np.uint8)
    corner = rng.random(n) < corner_fraction
    payload[corner] = rng.choice(CORNER_PAYLOADS, int(corner.sum()))
    # IF formats: half the blocks INT. The others: a few blocks carry the
    # (invalid) INT flag, which the MAC reports in its status and ignores.
    p_flag = 0.5 if fmt.adaptive else 0.02
    flag = (rng.random(n) < p_flag).astype(np.uint8) << 7
    return payload | flag


def _random_codes(config: Config, rng: np.random.Generator, n: int,
                  corner_fraction: float) -> np.ndarray:
    fmt = config.format
    codes = rng.integers(0, 1 << fmt.bits, (n, config.block_size), dtype=np.uint8)
    # Corner beats: every element the same extreme code (max magnitude of
    # both signs, -0, and the code 100...0, which is -8 in INT4 and -0 in FP).
    top = (1 << fmt.bits) - 1
    sign = 1 << (fmt.bits - 1)
    corners = np.array([0, sign, sign - 1, top, 1, sign | 1], dtype=np.uint8)
    pick = rng.random(n) < corner_fraction
    codes[pick] = rng.choice(corners, int(pick.sum()))[:, None]
    return codes


def random_beats(config: Config, beats: int = 1000, seed: int = 0,
                 corner_fraction: float = 0.08) -> Beats:
    """A random beat stream of `config`'s format and block size, of exactly
    `beats` beats ending with `last`."""
    f = config.format
    if not isinstance(beats, (int, np.integer)) or beats < 1:
        raise InputError(f"beats must be a positive integer, not {beats!r}")
    rng = np.random.default_rng(seed)
    lengths = _segment_lengths(rng, beats)
    last = np.zeros(beats, dtype=bool)
    last[np.cumsum(lengths) - 1] = True
    return Beats(config, _random_codes(config, rng, beats, corner_fraction),
                 _random_scales(f, rng, beats, corner_fraction),
                 _random_codes(config, rng, beats, corner_fraction),
                 _random_scales(f, rng, beats, corner_fraction), last, seed=seed)


def quantized_beats(config: Config, a_tensor: np.ndarray, w_tensor: np.ndarray,
                    rule: str | None = None) -> Beats:
    """Beats for a dot product of every row of A with the matching row of W
    (both (rows, K) float tensors, quantized by the codec in `config`'s
    format and block size): one segment per row, K/B beats each."""
    from .codec import quantize
    B = config.block_size
    return dot_product_beats(config, quantize(a_tensor, config.format, rule, B),
                             quantize(w_tensor, config.format, rule, B))


def dot_product_beats(config: Config, qa, qw) -> Beats:
    """Beats for the row-by-row dot products of two quantized (rows, K)
    tensors (codec.QuantizedTensor) of `config`'s format and block size."""
    B = config.block_size
    if (qa.fmt, qa.block_size) != (config.format, B) or (qw.fmt, qw.block_size) != (config.format, B):
        raise InputError(f"tensors quantized as {qa.fmt.name} b{qa.block_size} and "
                         f"{qw.fmt.name} b{qw.block_size} are no beats of {config.name}")
    rows, K = qa.codes.shape
    last = np.zeros((rows, K // B), dtype=bool)
    last[:, -1] = True
    return Beats(config, qa.codes.reshape(-1, B), qa.scales.reshape(-1),
                 qw.codes.reshape(-1, B), qw.scales.reshape(-1), last.reshape(-1))


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------

def save_npz(path, beats: Beats, config: Config | None = None, **extra) -> None:
    """Beats (and `extra` arrays, e.g. expected results) into an .npz, with
    meta_<key> entries saying what they are: format, block size, seed and,
    for the MAC `config` they were computed for, its arch and interleave."""
    out = {k: v for k, v in zip(BEAT_KEYS, beats.arrays())}
    out.update({f"meta_{k}": np.asarray(v) for k, v in beats.meta.items()})
    if config is not None:
        out["meta_arch"] = np.asarray(config.arch)
        out["meta_interleave"] = np.asarray(config.interleave)
    out.update(extra)
    np.savez(path, **out)


def read_npz(path, keys, what: str) -> dict[str, np.ndarray]:
    """Every array of the .npz at `path`, which must hold `keys` (`what` it
    should be, for the messages); an unreadable, truncated or one-array file
    is an InputError. The file is opened here so that it is closed whatever
    NumPy's reader does on a broken one."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            data = np.load(fh, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise InputError(f"{name!r} holds one array; expected {what}")
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise InputError(f"{name!r} lacks {', '.join(missing)}; expected {what} "
                                 f"(keys {', '.join(keys)})")
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"cannot read {name!r}: {e}") from None


def _meta_conflicts(data: dict, config: Config) -> list[str]:
    """What the file's own meta_<key> entries say against `config`."""
    ours = {"format": config.format.name, "block_size": config.block_size, "arch": config.arch,
            "interleave": config.interleave}
    out = []
    for key, want in ours.items():
        if f"meta_{key}" in data:
            have = data[f"meta_{key}"].item()
            if str(have) != str(want):
                out.append(f"{key} {have} (the MAC: {want})")
    return out


def load_npz(path, config: Config, check_meta: bool = True) -> Beats:
    """Beats of `config`'s format and block size from an .npz with keys a,
    a_scale, w, w_scale, last (checked). Metadata in the file (meta_format,
    meta_block_size, meta_arch, meta_interleave, as `ifmac vectors` writes
    them) that names another configuration is an error unless not
    `check_meta`: the same bytes mean other values in another format."""
    name = os.fspath(path)
    data = read_npz(path, BEAT_KEYS, "vectors as `ifmac vectors` writes them")
    conflicts = _meta_conflicts(data, config) if check_meta else []
    if conflicts:
        raise InputError(f"{name!r} holds vectors for {', '.join(conflicts)}; pass the "
                         "options that match, or --ignore-meta to run them anyway")
    arrays = check_beats(config, *(data[k] for k in BEAT_KEYS))
    if len(arrays[-1]) == 0:
        raise InputError(f"{name!r} holds no beats")
    if not arrays[-1].any():
        raise InputError(f"{name!r}: `last` is never set, so no segment ends and nothing "
                         "would be checked; expected at least one last beat")
    return Beats(config, *arrays)


def _hex_lines(values: np.ndarray, width_bits: int) -> str:
    digits = (width_bits + 3) // 4
    return "".join(f"{int(v):0{digits}x}\n" for v in values)


def pack_lanes(codes: np.ndarray, bits: int) -> list[int]:
    """Each beat's B codes as one integer, element i at bits [i*bits, (i+1)*bits):
    the layout of the MAC's `a` and `w` ports."""
    weights = [1 << (i * bits) for i in range(codes.shape[1])]
    return [sum(int(c) * wt for c, wt in zip(row, weights)) for row in codes]


def write_hex(directory, config: Config, beats: Beats, result: np.ndarray,
              status: np.ndarray) -> list[str]:
    """$readmemh files for a user's own testbench, plus README.txt."""
    f, B = config.format, config.block_size
    os.makedirs(directory, exist_ok=True)
    files = {
        "a.hex": (pack_lanes(beats.a, f.bits), B * f.bits),
        "w.hex": (pack_lanes(beats.w, f.bits), B * f.bits),
        "a_scale.hex": (beats.a_scale, 8),
        "w_scale.hex": (beats.w_scale, 8),
        "last.hex": (beats.last.astype(np.uint8), 1),
        "result.hex": (result, 32),
        "status.hex": (status, 8),
    }
    for name, (values, width) in files.items():
        with open(os.path.join(directory, name), "w") as fh:
            fh.write(_hex_lines(values, width))
    n, m = len(beats), len(result)
    scale = ("E8M0, 2^(byte - 127), 0xFF = NaN" if f.scale.power_of_two else
             "bit 7 = INT flag, bits 6:0 = unsigned E4M3; payload 0x7F decodes as 448")
    readme = f"""ifmac test vectors: {config.name} (format {f.name}, arch {config.arch}, block size {B})
{n} beats, {m} segments (results).

Files for $readmemh, one value per line, hexadecimal, no address markers:

  a.hex, w.hex     {n} lines, {B * f.bits} bits each: the B={B} element codes of a
                   beat, element i in bits [{f.bits}*i +: {f.bits}] -- exactly the
                   layout of the MAC's `a` and `w` input ports.
  a_scale.hex,     {n} lines, 8 bits: the block scale bytes ({scale}).
  w_scale.hex
  last.hex         {n} lines, 1 bit: 1 on the final beat of each segment.
  result.hex       {m} lines, 32 bits: expected FP32 result of each segment, in order.
  status.hex       {m} lines, 8 bits: expected sticky status of each segment
                   (bit 0: INT flag on a format without INT/FP choice; bit 1: a
                   NaN scale code, E4M3 payload 0x7F or E8M0 0xFF).

Example (SystemVerilog):
  logic [{B * f.bits - 1}:0] a_mem [0:{n - 1}];
  logic [31:0] result_mem [0:{max(m - 1, 0)}];
  initial begin
    $readmemh("a.hex", a_mem);
    $readmemh("result.hex", result_mem);
  end
Drive one beat per clock with valid=1 (gaps are allowed); compare each
output result (valid high) with the next line of result.hex.
"""
    with open(os.path.join(directory, "README.txt"), "w") as fh:
        fh.write(readme)
    return sorted(files) + ["README.txt"]


def expected(config: Config, beats: Beats) -> tuple[np.ndarray, np.ndarray]:
    """Golden results and status of a beat stream in the MAC `config`."""
    return mac(config, beats, return_status=True)

