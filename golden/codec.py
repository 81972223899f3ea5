"""Bit-exact golden codec: float32 tensors to block-scaled codes and back.

`quantize` follows the fouroversix PyTorch reference quantizer's float32
operation order step by step (docs/contract.md §2), so that the same input gives the
same codes and scale bytes. Each step is one function below; a comment marks
every place where ifmac deliberately differs from the reference:

* Elements the reference would round above the format's maximum (E2M1:
  |y| >= 7 rounds to 8) saturate to the maximum instead.
* The per-block error of the INT/FP choice is summed as a pairwise float32
  tree ((0+1), (2+3), ... then the next level). The reference sums with
  PyTorch's vectorized reduction, whose order depends on the CPU's vector
  width; the two can differ in the last bit, which changes the choice only
  when both candidates' errors agree to within float32 rounding.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import ml_dtypes
import numpy as np

from .errors import InputError
from .formats import (SCALE_INT_FLAG, SCALE_MAX, Format, check_block_size, get_format)

__all__ = ["RULES", "rules_for", "QuantizedTensor", "quantize", "dequantize", "pack", "unpack",
           "check_codes", "check_scales", "decode_scale_payload", "pairwise_sum"]

#: Block error measures for the INT/FP choice of the adaptive formats (the
#: reference quantizer's step 6); the first is the default.
ADAPTIVE_RULES = ("mse", "mae", "abs_max")
#: The FP-only formats' rule: each block's maximum scaled to the element
#: format's maximum (the reference quantizer's `static_6` for nvfp4). The
#: reference's other nvfp rules (static_4 and the four-over-six choices
#: mse, mae, abs_max) are not implemented: they are refused, not ignored.
FP_RULES = ("static_6",)
RULES = ADAPTIVE_RULES + FP_RULES

DEFAULT_BLOCK_SIZE = 16

# Rows per work item: big enough that NumPy's per-call overhead vanishes,
# small enough that a work item's temporaries stay in cache.
_CHUNK_ROWS = 8192


@dataclass(frozen=True)
class QuantizedTensor:
    """Codes (one element per byte), scale bytes and the tensor amax."""
    codes: np.ndarray
    scales: np.ndarray
    amax: np.float32
    fmt: Format
    block_size: int = DEFAULT_BLOCK_SIZE
    rule: str | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.codes.shape


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------

def _first(mask: np.ndarray) -> tuple[int, ...]:
    """Index of the first True element of `mask`."""
    return tuple(int(i) for i in np.argwhere(mask)[0])


def rules_for(fmt) -> tuple[str, ...]:
    """The rules that apply to `fmt`, its default first."""
    return ADAPTIVE_RULES if get_format(fmt).adaptive else FP_RULES


def _check_rule(rule: str | None, fmt: Format) -> str:
    """`rule`, or the format's default for None; a rule of another family
    is an error (an nvfp4 'mse' means something else in the reference)."""
    allowed = rules_for(fmt)
    if rule is None:
        return allowed[0]
    if rule not in RULES:
        raise InputError(f"unknown rule {rule!r}; expected one of {', '.join(RULES)}")
    if rule not in allowed:
        raise InputError(f"rule {rule!r} does not apply to format {fmt.name}; expected "
                         f"{' or '.join(allowed)}")
    return rule


def _check_tensor(x, block_size: int) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "fiu" or x.dtype == np.bool_:
        raise InputError(f"input must be a real numeric array, not dtype {x.dtype}")
    if x.ndim == 0:
        raise InputError("input must have at least one dimension, not a scalar")
    if x.shape[-1] == 0 or x.shape[-1] % block_size:
        raise InputError(f"last dimension of shape {x.shape} is {x.shape[-1]}, "
                         f"not a positive multiple of the block size {block_size}")
    with np.errstate(over="ignore"):
        x32 = np.ascontiguousarray(x, dtype=np.float32)
    bad = ~np.isfinite(x32)
    if bad.any():
        where = _first(bad)
        if np.isfinite(x[where]):
            raise InputError(f"input value {float(x[where])!r} at index {where} overflows float32")
        what = "NaN" if np.isnan(x[where]) else "Inf"
        raise InputError(f"input has {what} at index {where}; expected finite values")
    return x32


def check_codes(codes, fmt: Format, name: str = "codes") -> np.ndarray:
    """Codes must be unsigned integers no wider than the format's element."""
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise InputError(f"{name} must be an integer array, not dtype {codes.dtype}")
    wide = (codes < 0) | (codes >= (1 << fmt.bits))
    if wide.any():
        where = _first(wide)
        raise InputError(f"{name}{list(where)} = {int(codes[where]):#x} is outside format "
                         f"{fmt.name} ({fmt.bits}-bit codes, 0..{(1 << fmt.bits) - 1:#x})")
    return codes.astype(np.uint8)


def check_scales(scales, fmt: Format, name: str = "scales") -> np.ndarray:
    """Scale bytes: 0..255; bit 7 (INT flag) only for adaptive formats."""
    scales = np.asarray(scales)
    if scales.dtype.kind not in "iu":
        raise InputError(f"{name} must be an integer array, not dtype {scales.dtype}")
    wide = (scales < 0) | (scales > 0xFF)
    if wide.any():
        where = _first(wide)
        raise InputError(f"{name}{list(where)} = {int(scales[where])} is not a byte")
    scales = scales.astype(np.uint8)
    if not fmt.adaptive:
        flagged = (scales & SCALE_INT_FLAG) != 0
        if flagged.any():
            where = _first(flagged)
            raise InputError(f"{name}{list(where)} = {int(scales[where]):#04x} has bit 7 (INT "
                             f"flag) set, but format {fmt.name} has FP elements only")
    return scales


# --------------------------------------------------------------------------
# Scale bytes
# --------------------------------------------------------------------------

def decode_scale_payload(scale_bytes) -> np.ndarray:
    """float32 value of bits 6:0 (unsigned E4M3); payload 0x7F saturates to 448."""
    payload = np.asarray(scale_bytes, dtype=np.uint8) & 0x7F
    return np.minimum(payload.view(ml_dtypes.float8_e4m3fn).astype(np.float32),
                      np.float32(SCALE_MAX), where=payload != 0x7F,
                      out=np.full(payload.shape, SCALE_MAX, np.float32))


def _encode_scales(block_amax: np.ndarray, qmax32: np.float32, enc: np.float32) -> np.ndarray:
    """Step 3: s_hp = (block_amax / Qmax) * enc, then E4M3 round-to-nearest-even."""
    s_hp = (block_amax / qmax32) * enc
    # s_hp <= 448 up to float32 rounding of the two operations above, and any
    # value in (448, 464) rounds to 448 anyway; the clamp only keeps a
    # theoretical overshoot from becoming E4M3's NaN.
    np.minimum(s_hp, np.float32(SCALE_MAX), out=s_hp)
    return s_hp.astype(ml_dtypes.float8_e4m3fn).view(np.uint8)


# --------------------------------------------------------------------------
# Element candidates
# --------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _midpoints(fmt: Format) -> np.ndarray:
    """Midpoints between adjacent FP magnitudes; the index of the magnitude
    equals its code because the magnitude codes are in increasing order."""
    mags = np.array(sorted({abs(v) for v in fmt.fp_values}), dtype=np.float32)
    return (mags[:-1] + mags[1:]) / 2


def _fp_codes(fmt: Format, y: np.ndarray) -> np.ndarray:
    """Step 5, FP side: nearest FP element; the code keeps y's sign, so a
    negative value that rounds to zero becomes -0."""
    fp = fmt.fp
    a = np.abs(y)
    # Saturate at Qmax (the reference would let E2M1 reach 8 for |y| >= 7).
    np.minimum(a, np.float32(fmt.qmax), out=a)
    if fp.ml_dtype is not None:
        mag = a.astype(fp.ml_dtype).view(np.uint8)
    else:
        # No ml_dtypes type (E2M0): compare against the midpoints between
        # adjacent magnitudes; with ties "down" a midpoint goes to the smaller.
        side = "left" if fp.ties == "down" else "right"
        mag = np.searchsorted(_midpoints(fmt), a, side=side).astype(np.uint8)
    sign = (y < 0).view(np.uint8) << np.uint8(fmt.bits - 1)
    return mag | sign


def _int_candidate(fmt: Format, y: np.ndarray) -> np.ndarray:
    """Step 5, INT side: round-half-even(clamp(y * R, -Imax, Imax)), float32."""
    it = fmt.int
    q = y * np.float32(it.ref_recip)
    np.clip(q, -it.imax, it.imax, out=q)
    return np.rint(q, out=q)


def _int_codes(fmt: Format, q: np.ndarray) -> np.ndarray:
    """INT element codes; a zero is always +0."""
    mask = np.uint8((1 << fmt.bits) - 1)
    qi = q.astype(np.int8)
    if fmt.int.encoding == "twos":
        return qi.view(np.uint8) & mask
    sign = (qi < 0).view(np.uint8) << np.uint8(fmt.bits - 1)
    return np.abs(qi).view(np.uint8) | sign


def pairwise_sum(e: np.ndarray) -> np.ndarray:
    """Sum over the last axis (a power of two long) as a pairwise float32
    tree: (0+1), (2+3), ..., then the next level. The codec's block error and
    the lane MAC's final reduction both use this order."""
    while e.shape[-1] > 1:
        e = e[..., 0::2] + e[..., 1::2]
    return e[..., 0]


def _block_error(deq: np.ndarray, xb: np.ndarray, rule: str) -> np.ndarray:
    """Step 6: per-block error of a dequantized candidate against x."""
    d = deq - xb
    if rule == "mse":
        return pairwise_sum(d * d)
    np.abs(d, out=d)
    if rule == "mae":
        return pairwise_sum(d)
    return d.max(axis=-1)


# --------------------------------------------------------------------------
# quantize / dequantize
# --------------------------------------------------------------------------

def _quantize_rows(fmt: Format, rule: str, xb: np.ndarray, amax: np.float32,
                   codes_out: np.ndarray, scales_out: np.ndarray) -> None:
    """Quantize (rows, B) blocks into the given output views."""
    qmax32 = np.float32(fmt.qmax)
    full = np.float32(fmt.qmax * SCALE_MAX)     # exact: Qmax * 448 fits float32
    enc = full / amax
    scale_bytes = _encode_scales(np.abs(xb).max(axis=-1), qmax32, enc)
    s = scale_bytes.view(ml_dtypes.float8_e4m3fn).astype(np.float32)[:, None]

    # Step 4: y = x * (1 / (dec * s)), 0 where s == 0.
    dec = np.float32(1) / (full / amax)
    with np.errstate(divide="ignore"):
        r = np.float32(1) / (dec * s)
    r[s == 0] = 0
    y = xb * r

    fp_code = _fp_codes(fmt, y)
    if not fmt.adaptive:
        codes_out[...] = fp_code
        scales_out[...] = scale_bytes
        return

    # Step 6: dequantize both candidates, in the reference's order.
    fp_val = fmt.value_table[0][fp_code]
    deq_fp = ((fp_val * s) * amax) / full
    q_int = _int_candidate(fmt, y)
    deq_int = (((q_int * s) * amax) * np.float32(fmt.int.ref_expansion)) / full

    # Step 7: INT only when strictly better.
    use_int = _block_error(deq_int, xb, rule) < _block_error(deq_fp, xb, rule)
    codes_out[...] = np.where(use_int[:, None], _int_codes(fmt, q_int), fp_code)
    scales_out[...] = scale_bytes | (use_int.view(np.uint8) << np.uint8(7))


def quantize(x, fmt, rule: str | None = None,
             block_size: int | None = None) -> QuantizedTensor:
    """Quantize a float tensor along its last axis in blocks of `block_size`,
    under `rule` (rules_for(fmt); None: the format's default)."""
    f = get_format(fmt)
    B = DEFAULT_BLOCK_SIZE if block_size is None else check_block_size(block_size)
    rule = _check_rule(rule, f)
    x32 = _check_tensor(x, B)
    codes = np.zeros(x32.shape, dtype=np.uint8)
    scales = np.zeros(x32.shape[:-1] + (x32.shape[-1] // B,), dtype=np.uint8)
    amax = np.float32(np.abs(x32).max()) if x32.size else np.float32(0)
    with np.errstate(over="ignore"):
        enc = np.float32(f.qmax * SCALE_MAX) / amax if amax else np.float32(0)
    if not np.isfinite(enc):
        # The reference would go on with an infinite global scale and emit NaN
        # scales; refuse instead of producing silently wrong codes.
        raise InputError(f"input amax {float(amax):.6g} is too small: the global scale "
                         f"Qmax*448/amax = {f.qmax * SCALE_MAX:g}/amax overflows float32; "
                         "expected amax >= {:.3g}".format(f.qmax * SCALE_MAX / 3.4028235e38))
    if amax != 0:
        xb = x32.reshape(-1, B)
        cb = codes.reshape(-1, B)
        sb = scales.reshape(-1)
        starts = range(0, xb.shape[0], _CHUNK_ROWS)
        work = [(f, rule, xb[i:i + _CHUNK_ROWS], amax, cb[i:i + _CHUNK_ROWS],
                 sb[i:i + _CHUNK_ROWS]) for i in starts]
        workers = min(len(work), os.cpu_count() or 1)
        if workers > 1:
            # NumPy releases the GIL inside its loops; blocks are independent.
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(lambda a: _quantize_rows(*a), work))
        else:
            for a in work:
                _quantize_rows(*a)
    return QuantizedTensor(codes, scales, amax, f, B, rule)


def dequantize(q: QuantizedTensor) -> np.ndarray:
    """float32 values, computed as the reference computes its candidates:
    FP: (v * s * amax) / (Qmax * 448); INT: ((v * s * amax) * E) / (Qmax * 448)."""
    f, B = q.fmt, q.block_size
    codes = check_codes(q.codes, f)
    scales = check_scales(q.scales, f)
    if scales.shape != codes.shape[:-1] + (codes.shape[-1] // B,) or codes.shape[-1] % B:
        raise InputError(f"scales shape {scales.shape} does not match codes shape "
                         f"{codes.shape} at block size {B}")
    cb = codes.reshape(-1, B)
    sb = scales.reshape(-1)
    is_int = (sb & SCALE_INT_FLAG) != 0
    v = f.value_table[is_int.astype(np.intp)[:, None], cb]
    s = decode_scale_payload(sb)[:, None]
    full = np.float32(f.qmax * SCALE_MAX)
    amax = np.float32(q.amax)
    out = (v * s) * amax
    if f.adaptive:
        e = np.float32(f.int.ref_expansion)
        out = np.where(is_int[:, None], out * e, out)
    return (out / full).astype(np.float32).reshape(codes.shape)


# --------------------------------------------------------------------------
# Dense bit packing
# --------------------------------------------------------------------------

def pack(codes, fmt) -> np.ndarray:
    """Pack codes along the last axis into a little-endian bit stream: element
    i occupies bits [i*b, (i+1)*b) (4-bit: two per byte, element 2i in the
    low nibble; 3-bit: 8 per 3 bytes; 6-bit: 4 per 3 bytes)."""
    f = get_format(fmt)
    c = check_codes(codes, f)
    if c.ndim == 0 or (c.shape[-1] * f.bits) % 8:
        raise InputError(f"last dimension {c.shape[-1] if c.ndim else None} x {f.bits} bits "
                         "is not a whole number of bytes")
    bits = (c[..., None] >> np.arange(f.bits, dtype=np.uint8)) & 1
    return np.packbits(bits.reshape(c.shape[:-1] + (-1,)), axis=-1, bitorder="little")


def unpack(packed, fmt, n: int | None = None) -> np.ndarray:
    """Inverse of `pack`; `n` elements per row (default: all whole elements)."""
    f = get_format(fmt)
    p = np.asarray(packed)
    if p.dtype != np.uint8:
        raise InputError(f"packed data must be uint8, not dtype {p.dtype}")
    total = p.shape[-1] * 8 // f.bits
    n = total if n is None else n
    if not 0 <= n <= total:
        raise InputError(f"cannot unpack {n} elements of {f.bits} bits from {p.shape[-1]} bytes")
    bits = np.unpackbits(p, axis=-1, bitorder="little")[..., :n * f.bits]
    bits = bits.reshape(p.shape[:-1] + (n, f.bits))
    weights = (1 << np.arange(f.bits)).astype(np.uint8)
    return (bits * weights).sum(axis=-1, dtype=np.uint8)
