"""Bit-exact golden codec: float32 tensors to block-scaled codes and back.

`quantize` follows the fouroversix PyTorch reference quantizer's float32
operation order step by step (docs/contract.md §2), so that the same input gives the
same codes and scale bytes. Each step is one function below; a comment marks
every place where ifmac deliberately differs from the reference:

* Elements the reference would round above the format's maximum (E2M1:
  |y| >= 7 rounds to 8) saturate to the maximum instead.

The per-block error of a candidate choice is summed in the order PyTorch's
CPU reduction uses for a contiguous last axis of 8, 16 or 32 floats
(`block_sum`): it equals torch.sum (2.13) on 600,000 random rows of each
length with its AVX-512 kernel and on 200,000 with each of its AVX2 and
default kernels. A pairwise
tree differed in the last bit often enough to flip a near-tie (one nvfp4
block of the block-size-8 `mae` reference data).
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import ml_dtypes
import numpy as np

from .errors import InputError
from .formats import E2M1, SCALE_INT_FLAG, SCALE_MAX, Format, check_block_size, get_format

__all__ = ["RULES", "rules_for", "QuantizedTensor", "quantize", "dequantize", "pack", "unpack",
           "check_codes", "check_scales", "pairwise_sum", "block_sum", "tensor_scale",
           "pad_to_blocks"]

#: Block error measures for the INT/FP choice of the adaptive formats (the
#: reference quantizer's step 6); the first is the default.
ADAPTIVE_RULES = ("mse", "mae", "abs_max")
#: The non-adaptive formats' static rules: each block's maximum scaled to
#: the element maximum (`static_6`, the default) or to 4 (`static_4`, E2M1
#: only), named as the reference quantizer names them for nvfp4.
STATIC_RULES = ("static_6", "static_4")
#: The four-over-six rules of an E2M1 format (the reference's nvfp4 mse,
#: mae, abs_max): per block, the scale that maps its maximum to 6 or the one
#: that maps it to 4 (1.5 times the first), whichever dequantizes with the
#: smaller block error under the measure of the same name.
FOUR_OVER_SIX_RULES = ADAPTIVE_RULES
RULES = ADAPTIVE_RULES + STATIC_RULES

#: The largest block scale a four-over-six rule aims at (the reference's
#: E4M3_MAX_FOUROVERSIX): 1.5 times it still fits E4M3's 448.
FOUR_OVER_SIX_SCALE_MAX = 256
#: The 4-candidate's scale is the 6-candidate's times 6/4.
FOUR_OVER_SIX_EXPANSION = 1.5

# Rows per work item: big enough that NumPy's per-call overhead vanishes,
# small enough that a work item's temporaries stay in cache.
_CHUNK_ROWS = 8192


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which a
    container's cpuset or `taskset` narrows; os.cpu_count() counts the
    machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):           # no affinity on this platform
        return os.cpu_count() or 1


@dataclass(frozen=True)
class QuantizedTensor:
    """Codes (one element per byte), scale bytes and the tensor amax (1 for
    E8M0 formats, which have no global scale: what the reference returns),
    with everything needed to decode them: the format, the block size and
    the rule (which sets the global scale Q * Smax: static_4 and the
    four-over-six rules decode differently from static_6). None of them has
    a default: a tensor decoded under another rule than it was quantized
    with would be silently wrong."""
    codes: np.ndarray
    scales: np.ndarray
    amax: np.float32
    fmt: Format
    block_size: int
    rule: str

    def __post_init__(self):
        object.__setattr__(self, "fmt", get_format(self.fmt))
        object.__setattr__(self, "block_size", check_block_size(self.block_size))
        if self.rule is None:
            raise InputError(f"a {self.fmt.name} tensor needs the rule it was quantized "
                             f"with; expected one of {', '.join(rules_for(self.fmt))}")
        object.__setattr__(self, "rule", _check_rule(self.rule, self.fmt))

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
    """The rules that apply to `fmt`, its default first, as the reference
    defines them: the INT/FP choice for an adaptive format; for an E2M1
    format both static rules, and with E4M3 scales (nvfp4) four-over-six
    too; `static_6` alone for the others."""
    f = get_format(fmt)
    if f.adaptive:
        return ADAPTIVE_RULES
    if f.fp == E2M1:
        return STATIC_RULES + (() if f.scale.power_of_two else FOUR_OVER_SIX_RULES)
    return STATIC_RULES[:1]


def _check_rule(rule: str | None, fmt: Format) -> str:
    """`rule`, or the format's default for None; a rule that does not apply
    to the format is an error, never ignored."""
    allowed = rules_for(fmt)
    if rule is None:
        return allowed[0]
    if rule not in RULES:
        raise InputError(f"unknown rule {rule!r}; expected one of {', '.join(RULES)}")
    if rule not in allowed:
        raise InputError(f"rule {rule!r} does not apply to format {fmt.name}; expected "
                         f"{' or '.join(allowed)}")
    return rule


def _global_scale(fmt: Format, rule: str | None) -> tuple[float, float]:
    """(Q, Smax): the element value a block's maximum is scaled to and the
    largest block scale; the global scale is fl32(Q * Smax) / amax (E4M3
    formats; E8M0 formats use Q alone)."""
    rule = _check_rule(rule, fmt)
    q = 4.0 if rule == "static_4" else fmt.qmax
    if not fmt.adaptive and rule in FOUR_OVER_SIX_RULES:
        return q, FOUR_OVER_SIX_SCALE_MAX
    return q, SCALE_MAX


def pad_to_blocks(x: np.ndarray, block_size: int) -> np.ndarray:
    """A (rows, K) tensor with its last axis zero-padded to a multiple of
    the block size: zeros quantize exactly and add nothing to a dot
    product."""
    return np.pad(x, ((0, 0), (0, -x.shape[1] % block_size)))


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
    """Scale bytes: 0..255; with E4M3 scales, bit 7 (INT flag) only for
    adaptive formats."""
    scales = np.asarray(scales)
    if scales.dtype.kind not in "iu":
        raise InputError(f"{name} must be an integer array, not dtype {scales.dtype}")
    wide = (scales < 0) | (scales > 0xFF)
    if wide.any():
        where = _first(wide)
        raise InputError(f"{name}{list(where)} = {int(scales[where])} is not a byte")
    scales = scales.astype(np.uint8)
    if fmt.flag_reserved:
        flagged = (scales & SCALE_INT_FLAG) != 0
        if flagged.any():
            where = _first(flagged)
            raise InputError(f"{name}{list(where)} = {int(scales[where]):#04x} has bit 7 (INT "
                             f"flag) set, but format {fmt.name} has {fmt.elements.upper()} "
                             "elements only")
    return scales


# --------------------------------------------------------------------------
# Scale bytes
# --------------------------------------------------------------------------

def _encode_scales(block_amax: np.ndarray, qmax32: np.float32, enc: np.float32,
                   expansion: float | None = None) -> np.ndarray:
    """Step 3: s_hp = (block_amax / Qmax) * enc (times `expansion`, the
    four-over-six 4-candidate), then E4M3 round-to-nearest-even."""
    s_hp = (block_amax / qmax32) * enc
    if expansion is not None:
        s_hp *= np.float32(expansion)
    # s_hp <= 448 up to float32 rounding of the two operations above, and any
    # value in (448, 464) rounds to 448 anyway; the clamp only keeps a
    # theoretical overshoot from becoming E4M3's NaN.
    np.minimum(s_hp, np.float32(SCALE_MAX), out=s_hp)
    return s_hp.astype(ml_dtypes.float8_e4m3fn).view(np.uint8)


def _encode_e8m0(block_amax: np.ndarray, q32: np.float32) -> np.ndarray:
    """Step 3 of an E8M0 format (the reference's mxfp4): block_amax / Q
    rounded up to a power of two, i.e. its binary32 exponent field, plus one
    where the fraction field is not zero. A zero block (or one whose amax / Q
    underflows to 0) gets byte 0."""
    bits = (block_amax / q32).view(np.uint32)
    exponent = ((bits >> 23) & 0xFF).astype(np.uint8)
    return exponent + ((bits & 0x7FFFFF) != 0).view(np.uint8)


def _scaled_e8m0(xb: np.ndarray, scale_bytes: np.ndarray) -> np.ndarray:
    """Step 4 of an E8M0 format: y = x / 2^(e - 127), 0 where the byte is 0."""
    s = (scale_bytes.astype(np.uint32) << 23).view(np.float32)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        y = xb / s
    y[scale_bytes == 0] = 0
    return y


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


def _element_codes(fmt: Format, y: np.ndarray) -> np.ndarray:
    """Step 5 of a non-adaptive format: y to its one element's codes."""
    if fmt.fp is not None:
        return _fp_codes(fmt, y)
    return _int_codes(fmt, _int_candidate(fmt, y))


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
    tree: (0+1), (2+3), ..., then the next level: the lane MAC's final
    reduction."""
    while e.shape[-1] > 1:
        e = e[..., 0::2] + e[..., 1::2]
    return e[..., 0]


#: PyTorch's CPU sum of a short contiguous row: eight float32 partial sums,
#: element j into partial j mod 8, then the partials added left to right.
_TORCH_PARTIALS = 8


def block_sum(e: np.ndarray) -> np.ndarray:
    """float32 sum over the last axis (a multiple of 8 long) in the reference
    quantizer's order (PyTorch's CPU reduction; see the module docstring)."""
    parts = e.reshape(e.shape[:-1] + (-1, _TORCH_PARTIALS))
    acc = parts[..., 0, :].copy()
    for k in range(1, parts.shape[-2]):
        acc += parts[..., k, :]
    total = acc[..., 0].copy()
    for j in range(1, _TORCH_PARTIALS):
        total += acc[..., j]
    return total


def _block_error(deq: np.ndarray, xb: np.ndarray, rule: str) -> np.ndarray:
    """Step 6: per-block error of a dequantized candidate against x."""
    d = deq - xb
    if rule == "mse":
        return block_sum(d * d)
    np.abs(d, out=d)
    if rule == "mae":
        return block_sum(d)
    return d.max(axis=-1)


# --------------------------------------------------------------------------
# quantize / dequantize
# --------------------------------------------------------------------------

def _scaled(xb: np.ndarray, scale_bytes: np.ndarray, amax: np.float32,
            full: np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Step 4: the scale values s (a column) and y = x * (1 / (dec * s)),
    dec = 1 / (full / amax); y = 0 where s == 0."""
    s = scale_bytes.view(ml_dtypes.float8_e4m3fn).astype(np.float32)[:, None]
    dec = np.float32(1) / (full / amax)
    with np.errstate(divide="ignore"):
        r = np.float32(1) / (dec * s)
    r[s == 0] = 0
    return s, xb * r


def _quantize_rows(fmt: Format, rule: str, q: float, smax: float, xb: np.ndarray,
                   amax: np.float32, codes_out: np.ndarray, scales_out: np.ndarray) -> None:
    """Quantize (rows, B) blocks into the given output views; (q, smax) is
    the rule's _global_scale."""
    q32 = np.float32(q)
    block_amax = np.abs(xb).max(axis=-1)
    if fmt.scale.power_of_two:
        scales_out[...] = scale_bytes = _encode_e8m0(block_amax, q32)
        codes_out[...] = _element_codes(fmt, _scaled_e8m0(xb, scale_bytes))
        return
    full = np.float32(q * smax)          # exact: Q * Smax fits float32
    enc = full / amax
    scale_bytes = _encode_scales(block_amax, q32, enc)
    s, y = _scaled(xb, scale_bytes, amax, full)
    if not fmt.adaptive and rule not in FOUR_OVER_SIX_RULES:
        codes_out[...] = _element_codes(fmt, y)
        scales_out[...] = scale_bytes
        return
    fp_code = _fp_codes(fmt, y)
    fp_val = fmt.value_table[0][fp_code]
    deq_fp = ((fp_val * s) * amax) / full

    if fmt.adaptive:
        # Steps 5-6: the INT candidate under the same scale, dequantized in
        # the reference's order.
        q_int = _int_candidate(fmt, y)
        other_deq = (((q_int * s) * amax) * np.float32(fmt.int.ref_expansion)) / full
        other_codes, other_scales = _int_codes(fmt, q_int), scale_bytes | SCALE_INT_FLAG
    else:
        # Four-over-six: the 4-candidate, the block scale times 1.5, the
        # same E2M1 grid.
        other_scales = _encode_scales(block_amax, q32, enc, FOUR_OVER_SIX_EXPANSION)
        s4, y4 = _scaled(xb, other_scales, amax, full)
        other_codes = _fp_codes(fmt, y4)
        other_deq = ((fmt.value_table[0][other_codes] * s4) * amax) / full

    # Step 7: the other candidate only when strictly better.
    use_other = _block_error(other_deq, xb, rule) < _block_error(deq_fp, xb, rule)
    codes_out[...] = np.where(use_other[:, None], other_codes, fp_code)
    scales_out[...] = np.where(use_other, other_scales, scale_bytes)


def _normalizer(amax: np.float32) -> tuple[np.float32, int]:
    """(2^-m, m): the power of two that brings amax into [1, 2).

    With E4M3 scales, ifmac quantizes x * 2^-m with amax * 2^-m and keeps
    amax: every step of the reference's arithmetic is then the same
    float32 operation on values scaled by a power of two, which rounds the
    same way while nothing under- or overflows, so a tensor whose amax is in
    [1, 2) gets the reference's codes bit for bit and any other tensor the
    codes of its scaled copy. In the reference, the block errors of the
    INT/FP (or four-over-six) choice underflow to 0 below about 1e-20 and
    overflow to inf above about 1e20, every block then compares equal and
    keeps the FP (6-) candidate: the choice depended on the tensor's
    magnitude. Here quantizing x and x * 2^k gives the same codes and scale
    bytes."""
    m = int(np.frexp(amax)[1]) - 1
    return np.float32(np.ldexp(1.0, -m)), m


def quantize(x, fmt, rule: str | None = None, block_size: int | None = None,
             workers: int | None = None, amax: float | None = None) -> QuantizedTensor:
    """Quantize a float tensor along its last axis in blocks of `block_size`
    (None: the format's own, 32 for MX and 16 for the others), under `rule`
    (rules_for(fmt); None: the format's default), on `workers` threads
    (None: one per CPU this process may run on). `amax`: the whole tensor's
    largest magnitude when `x` is a slice of it (no larger than the slice's
    own is refused), so slices quantize as the tensor would."""
    f = get_format(fmt)
    B = f.block_size if block_size is None else check_block_size(block_size)
    rule = _check_rule(rule, f)
    x32 = _check_tensor(x, B)
    codes = np.zeros(x32.shape, dtype=np.uint8)
    scales = np.zeros(x32.shape[:-1] + (x32.shape[-1] // B,), dtype=np.uint8)
    q, smax = _global_scale(f, rule)
    if f.scale.power_of_two:
        # No global scale; 1 is what the reference returns as amax.
        amax = np.float32(1)
    else:
        own = np.float32(np.abs(x32).max()) if x32.size else np.float32(0)
        if amax is not None and not np.float32(amax) >= own:
            raise InputError(f"amax {amax!r} is below the slice's own largest magnitude "
                             f"{float(own):.6g}; expected the whole tensor's")
        amax = own if amax is None else np.float32(amax)
        with np.errstate(over="ignore"):
            enc = np.float32(q * smax) / amax if amax else np.float32(0)
        if not np.isfinite(enc):
            # The reference would go on with an infinite global scale and emit
            # NaN scales; refuse instead of producing silently wrong codes.
            raise InputError(f"input amax {float(amax):.6g} is too small: the global scale "
                             f"Q*Smax/amax = {q * smax:g}/amax overflows float32; "
                             "expected amax >= {:.3g}".format(q * smax / 3.4028235e38))
    if amax != 0:
        xb = x32.reshape(-1, B)
        amax_q = amax
        if not f.scale.power_of_two:
            norm, _ = _normalizer(amax)
            xb, amax_q = xb * norm, np.float32(amax * norm)
        cb = codes.reshape(-1, B)
        sb = scales.reshape(-1)
        starts = range(0, xb.shape[0], _CHUNK_ROWS)
        work = [(f, rule, q, smax, xb[i:i + _CHUNK_ROWS], amax_q, cb[i:i + _CHUNK_ROWS],
                 sb[i:i + _CHUNK_ROWS]) for i in starts]
        workers = min(len(work), workers or usable_cpus())
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
    FP: (v * s * amax) / (Q * Smax); INT: ((v * s * amax) * E) / (Q * Smax),
    Q and Smax those of the tensor's rule (Qmax and 448 but for static_4 and
    four-over-six). E8M0 formats: v * 2^(e - 127) rounded once (subnormal
    results round to nearest even), NaN for scale byte 0xFF."""
    f, B = q.fmt, q.block_size
    codes = check_codes(q.codes, f)
    scales = check_scales(q.scales, f)
    if scales.shape != codes.shape[:-1] + (codes.shape[-1] // B,) or codes.shape[-1] % B:
        raise InputError(f"scales shape {scales.shape} does not match codes shape "
                         f"{codes.shape} at block size {B}")
    cb = codes.reshape(-1, B)
    sb = scales.reshape(-1)
    if f.scale.power_of_two:
        # The float64 product of two float32 values is exact; one rounding.
        v = f.value_table[0][cb].astype(np.float64)
        with np.errstate(over="ignore"):        # 6 * 2^127 is +inf in float32
            out = (v * f.scale.decode(sb).astype(np.float64)[:, None]).astype(np.float32)
        return out.reshape(codes.shape)
    is_int = (sb & SCALE_INT_FLAG) != 0 if f.adaptive else np.zeros(sb.shape, bool)
    v = f.value_table[is_int.astype(np.intp)[:, None], cb]
    s = f.scale.decode(sb)[:, None]
    qv, smax = _global_scale(f, q.rule)
    full = np.float32(qv * smax)
    amax = np.float32(q.amax)
    if amax == 0:
        return np.zeros(codes.shape, np.float32)
    # In the scaled domain of `quantize` (_normalizer), then back by the same
    # power of two: the reference's values wherever they are normal, and no
    # overflow of the intermediate v * s * amax for amax near float32's max.
    norm, m = _normalizer(amax)
    out = (v * s) * np.float32(amax * norm)
    if f.adaptive:
        e = np.float32(f.int.ref_expansion)
        out = np.where(is_int[:, None], out * e, out)
    with np.errstate(over="ignore"):
        return np.ldexp(out / full, m).astype(np.float32).reshape(codes.shape)


def tensor_scale(q: QuantizedTensor) -> float:
    """The per-tensor factor the block scales leave out, amax / (Q * Smax)
    (1 for E8M0 formats): the MAC's dot product of two quantized tensors,
    times both tensors' factors, estimates the dot product of the originals
    (the epilogue an accelerator applies after the MAC)."""
    if q.fmt.scale.power_of_two:
        return 1.0
    qv, smax = _global_scale(q.fmt, q.rule)
    return float(q.amax) / (qv * smax)


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
