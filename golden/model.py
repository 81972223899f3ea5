"""Golden MAC model, bit-exact with the RTL (docs/contract.md §3, §4).

One beat is one block pair (B codes and a scale byte for each of A and W).
A segment is a run of beats ending with `last`; its dot product is one FP32
result. The stages are the RTL's (ifmac.golden.config.STAGES), one function
of the same name each:

    decode -> product -> scale -> group -> multiply -> accumulate -> reduce

Every float32 operation here is a NumPy float32 operation, which is IEEE
binary32 round-to-nearest-even with subnormals (NumPy does not flush them),
i.e. exactly fl32 of the spec. The scaled products are formed in float64,
where they are exact, and rounded to float32 once. A NaN result is the RTL's
canonical quiet NaN 0x7FC00000.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import kulisch
from .codec import check_codes, pairwise_sum
from .config import ARCHS, STAGES, Config
from .errors import InputError
from .formats import SCALE_INT_FLAG, Format, get_format

if TYPE_CHECKING:
    from .codec import QuantizedTensor
    from .vectors import Beats

__all__ = ["ARCHS", "STAGES", "Status", "STATUS_WIDTH", "decode", "product", "scale", "group",
           "multiply", "accumulate", "reduce", "decode_scales", "segment_status", "mac",
           "exact", "matmul", "cycle_model", "CycleResult", "check_beats"]


class Status(enum.IntFlag):
    """Status bits, sticky over a segment, reported with its result."""
    #: A scale byte had bit 7 (INT flag) set in a non-adaptive E4M3 format;
    #: such a block is decoded as if the bit were clear.
    INT_FLAG_ON_FP_FORMAT = 1 << 0
    #: A scale byte was its format's NaN code: E4M3 payload 0x7F, decoded as
    #: 448; E8M0 0xFF, which makes the block's products NaN.
    SCALE_NAN_PAYLOAD = 1 << 1
    #: The exact arch: a prefix sum of the segment left the accumulator's
    #: range; the result is the canonical NaN.
    ACC_OVERFLOW = 1 << 2

    @property
    def bit(self) -> int:
        """The bit's position in the status port."""
        return self.value.bit_length() - 1


STATUS_WIDTH = len(Status)

#: The canonical quiet NaN every FP32 unit of the RTL returns.
CANONICAL_NAN = 0x7FC00000


# --------------------------------------------------------------------------
# Stage: decode
# --------------------------------------------------------------------------

def int_flags(fmt: Format, scale_bytes: np.ndarray) -> np.ndarray:
    """True where a block decodes as INT: bit 7 set, and the format has INT."""
    if not fmt.adaptive:
        return np.zeros(np.shape(scale_bytes), dtype=bool)
    return (np.asarray(scale_bytes) & SCALE_INT_FLAG) != 0


def decode(fmt: Format, codes: np.ndarray, scale_bytes: np.ndarray) -> np.ndarray:
    """(N, B) codes of blocks with these scale bytes -> int64 values in units
    of 2^-frac_bits (exact); bit 7 of an adaptive format's byte picks INT."""
    is_int = int_flags(fmt, scale_bytes)
    return fmt.fixed_table[np.asarray(is_int, dtype=np.intp)[:, None], codes]


def decode_scales(fmt, scale_bytes) -> np.ndarray:
    """Scale bytes -> float32 block scales (E4M3: bit 7 ignored, 0x7F -> 448;
    E8M0: 2^(e - 127), 0xFF -> NaN)."""
    return get_format(fmt).scale.decode(scale_bytes)


# --------------------------------------------------------------------------
# Stage: product
# --------------------------------------------------------------------------

def product(a_fixed: np.ndarray, w_fixed: np.ndarray) -> np.ndarray:
    """Exact element products in units of 2^-(2 frac_bits). Fixed point has
    no -0: a zero product is +0."""
    return a_fixed * w_fixed


# --------------------------------------------------------------------------
# Stage: scale
# --------------------------------------------------------------------------

def expansion_table(config: Config) -> np.ndarray:
    """float32 C^k (or, deferred, the class weight) indexed by the number k
    of INT sides (0, 1, 2)."""
    return np.array([config.expansion_f32(n) for n in range(3)],
                    dtype=np.uint32).view(np.float32)


def scale(config: Config, a_scale, w_scale) -> np.ndarray:
    """S, exactly, as float64. E4M3: S = fl32(fl32(sa * sb) * C^k), 0 when
    either scale is 0; with a deferred expansion C^k is the integer class
    weight and S is exact. E8M0: S = 2^(ea + eb - 254), the exponent sum,
    which binary32 need not hold (2^-254 .. 2^254); NaN when either byte is
    0xFF."""
    fmt = config.format
    a_scale = np.asarray(a_scale, dtype=np.uint8)
    w_scale = np.asarray(w_scale, dtype=np.uint8)
    if fmt.scale.power_of_two:
        # Two powers of two: their float64 product is exact (NaN stays NaN).
        return (decode_scales(fmt, a_scale).astype(np.float64)
                * decode_scales(fmt, w_scale).astype(np.float64))
    n_int = int_flags(fmt, a_scale).astype(np.intp) + int_flags(fmt, w_scale)
    S = (decode_scales(fmt, a_scale) * decode_scales(fmt, w_scale)) * expansion_table(config)[n_int]
    return S.astype(np.float64)


# --------------------------------------------------------------------------
# Stage: group
# --------------------------------------------------------------------------

def group(p: np.ndarray, size: int) -> np.ndarray:
    """(N, B) products -> (N, B / size) exact sums of each group of `size`
    neighbouring lanes (lanes 0..size-1 are group 0)."""
    return p.reshape(p.shape[0], -1, size).sum(axis=-1)


# --------------------------------------------------------------------------
# Stage: multiply
# --------------------------------------------------------------------------

def multiply(fmt: Format, d: np.ndarray, S: np.ndarray) -> np.ndarray:
    """m = fl32(d * 2^-(2 frac_bits) * S) per group, (N, B/G) float32. The
    fixed-point d is below 2^24 in magnitude for every format (E3M2: 448 *
    448 * 32 units), so its float64 value is exact, and so is the float64
    product with S (24-bit by 24-bit significands, or a power of two): one
    rounding to float32 is binary32's correctly rounded product, subnormals
    and overflow to infinity included. (S * 2^-(2 frac_bits) is exact in
    float64 too: a power of two moves only its exponent.)"""
    if d.size and not (-(1 << 24) < d.min() and d.max() < (1 << 24)):
        raise ArithmeticError("a fixed-point value would round on the way to float32")
    with np.errstate(over="ignore", invalid="ignore"):
        return (np.asarray(d, dtype=np.float64)
                * (S * 2.0 ** (-2 * fmt.frac_bits))[:, None]).astype(np.float32)


# --------------------------------------------------------------------------
# Stage: accumulate and reduce
# --------------------------------------------------------------------------

def _segments(last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of every completed segment; beats after the
    final `last` belong to no completed segment and are dropped."""
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.intp)
    return starts[:len(ends)], (ends - starts[:len(ends)] + 1)


def accumulate(m: np.ndarray, last: np.ndarray, interleave: int = 1) -> np.ndarray:
    """(N, n) beat terms -> (segments, n, k) partial sums: beat j of a
    segment goes to partial j mod k, which starts at -0 and adds its beats in
    order, acc = fl32(acc + m). -0 is the identity of fl32 addition (-0 + +0
    = +0), so a partial with one beat is that beat and one with none is -0;
    k = 1 is the sequential sum. Vectorized over segments."""
    k = interleave
    starts, lengths = _segments(np.asarray(last, dtype=bool))
    acc = np.full((len(starts), m.shape[1], k), -0.0, dtype=np.float32)
    L = int(lengths.max(initial=0))
    # Segments of one length (a matmul's) are rows of a (segments, L, n) view.
    uniform = len(starts) and (lengths == L).all()
    rows = m[:len(starts) * L].reshape(len(starts), L, m.shape[1]) if uniform else None
    with np.errstate(over="ignore", invalid="ignore"):
        for j in range(L):
            if rows is not None:
                acc[:, :, j % k] += rows[:, j]
            else:
                live = lengths > j
                acc[live, :, j % k] += m[starts[live] + j]
    return acc


def reduce(partials: np.ndarray) -> np.ndarray:
    """(segments, n, k) partials -> the pairwise FP32 tree over the n * k of
    them, group-major: (0+1), (2+3), ..., then the next level, so the k
    partials of a group meet first and the groups meet in lane order."""
    with np.errstate(over="ignore", invalid="ignore"):
        n, groups, k = partials.shape
        return pairwise_sum(partials.reshape(n, groups * k))


def segment_status(fmt: Format, a_scale, w_scale, last) -> np.ndarray:
    """Sticky status bits (Status) OR-ed over each completed segment."""
    beat = np.zeros(len(last), dtype=np.uint8)
    for s in (np.asarray(a_scale, np.uint8), np.asarray(w_scale, np.uint8)):
        if fmt.flag_reserved:
            beat |= ((s & SCALE_INT_FLAG) != 0).view(np.uint8) << Status.INT_FLAG_ON_FP_FORMAT.bit
        beat |= fmt.scale.is_nan(s).view(np.uint8) << Status.SCALE_NAN_PAYLOAD.bit
    starts, lengths = _segments(np.asarray(last, dtype=bool))
    if len(starts) == 0:
        return np.zeros(0, np.uint8)
    return np.bitwise_or.reduceat(beat[:starts[-1] + lengths[-1]], starts)


# --------------------------------------------------------------------------
# Whole MAC
# --------------------------------------------------------------------------

def check_beats(config: Config, a, a_scale, w, w_scale, last):
    """Validate a beat stream of `config`'s format and block size; returns it
    as (uint8, uint8, uint8, uint8, bool) arrays."""
    fmt, B = config.format, config.block_size
    a = check_codes(a, fmt, "a")
    w = check_codes(w, fmt, "w")
    n = a.shape[0] if a.ndim == 2 else -1
    if a.ndim != 2 or a.shape[1] != B:
        raise InputError(f"a has shape {a.shape}; expected (beats, {B}) for block size {B}")
    if w.shape != a.shape:
        raise InputError(f"w has shape {w.shape}; expected {a.shape} like a")
    out = []
    for name, v in (("a_scale", a_scale), ("w_scale", w_scale)):
        v = np.asarray(v)
        if v.shape != (n,) or v.dtype.kind not in "iu" or ((v < 0) | (v > 0xFF)).any():
            raise InputError(f"{name} must be ({n},) bytes, got shape {v.shape} dtype {v.dtype}")
        out.append(v.astype(np.uint8))
    last = np.asarray(last)
    if last.shape != (n,):
        raise InputError(f"last has shape {last.shape}; expected ({n},)")
    return a, out[0], w, out[1], last.astype(bool)


def mac(config: Config, beats: "Beats", return_status: bool = False):
    """FP32 bit patterns (uint32) of every completed segment of `beats` in
    the MAC `config`; with `return_status`, also the (M,) uint8 status of
    each. Register cuts do not change values."""
    c = config
    if not c.same_stream(beats.config):
        raise InputError(f"beats of {beats.config.format.name} b{beats.config.block_size} "
                         f"cannot run on {c.name} ({c.format.name} b{c.block_size})")
    f = c.format
    a, a_scale, w, w_scale, last = check_beats(c, *beats.arrays())
    d = group(product(decode(f, a, a_scale), decode(f, w, w_scale)), c.group)
    bits, overflow = _segment_results(c, d, a_scale, w_scale, last)
    status = segment_status(f, a_scale, w_scale, last)
    status |= overflow.astype(np.uint8) << Status.ACC_OVERFLOW.bit
    return (bits, status) if return_status else bits


def _segment_results(c: Config, d: np.ndarray, a_scale, w_scale, last) -> tuple[np.ndarray,
                                                                                 np.ndarray]:
    """The stages after `group`: (N, B/G) exact group sums -> FP32 bits of
    every completed segment, and where the exact arch's accumulator
    overflowed."""
    if c.exact:
        return exact(c, d[:, 0].astype(np.int64), a_scale, w_scale, last)
    m = multiply(c.format, d, scale(c, a_scale, w_scale))
    result = reduce(accumulate(m, last, c.interleave))
    bits = np.ascontiguousarray(result, dtype=np.float32).view(np.uint32).copy()
    bits[np.isnan(result)] = CANONICAL_NAN
    return bits, np.zeros(len(bits), dtype=bool)


#: `matmul`: the group sums of about this many beats are formed at a time.
MATMUL_CHUNK_BEATS = 1 << 19


def matmul(config: Config, qa: "QuantizedTensor", qw: "QuantizedTensor") -> np.ndarray:
    """(M, N) FP32 bits: element (i, j) is the MAC's result for the dot
    product of row i of `qa` (M, K) with row j of `qw` (N, K), one segment
    of K / B beats, i.e. mac(config, dot_product_beats(config, qa[i], qw[j])).

    The stages are mac's; only the group sums are formed differently: per
    group, as a float64 matrix product of the decoded integers, which is
    exact: every partial sum is an integer of at most B products below 2^24
    each (multiply's bound), far below 2^53."""
    c = config
    f, B, G = c.format, c.block_size, c.group
    for name, q in (("qa", qa), ("qw", qw)):
        if (q.fmt, q.block_size) != (f, B) or q.codes.ndim != 2:
            raise InputError(f"{name} is a {q.fmt.name} b{q.block_size} tensor of shape "
                             f"{q.codes.shape}; expected a 2-D {f.name} b{B} one for {c.name}")
    (M, K), N = qa.codes.shape, qw.codes.shape[0]
    if qw.codes.shape[1] != K:
        raise InputError(f"qa is (M, {K}) and qw {qw.codes.shape}: their rows differ in length")
    nb, groups = K // B, K // G

    def decoded(q):
        # (groups, rows, G) float64 integers in units of 2^-frac_bits.
        fixed = decode(f, q.codes.reshape(-1, B), q.scales.reshape(-1)).reshape(-1, groups, G)
        return fixed.transpose(1, 0, 2).astype(np.float64)
    da, dw = decoded(qa), decoded(qw).transpose(0, 2, 1)
    out = np.empty((M, N), dtype=np.uint32)
    rows = max(1, MATMUL_CHUNK_BEATS // max(1, N * nb))
    for lo in range(0, M, rows):
        hi = min(M, lo + rows)
        # Segment (i, j) is beats i*N*nb + j*nb ... + nb - 1, as in mac.
        if G == 1:      # the products themselves, already in that order
            d = (da[:, lo:hi, 0].T[:, None, :] * dw[:, 0].T[None]).reshape(-1, B)
        else:
            d = (da[:, lo:hi] @ dw).transpose(1, 2, 0).reshape(-1, B // G)
        a_scale = np.broadcast_to(qa.scales[lo:hi, None, :], (hi - lo, N, nb)).reshape(-1)
        w_scale = np.broadcast_to(qw.scales[None], (hi - lo, N, nb)).reshape(-1)
        last = np.zeros((hi - lo) * N * nb, dtype=bool)
        last[nb - 1::nb] = True
        out[lo:hi] = _segment_results(c, d, a_scale, w_scale, last)[0].reshape(hi - lo, N)
    return out


def exact(config: Config, d: np.ndarray, a_scale, w_scale, last) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """The exact arch after `group`: each beat's term into the fixed-point
    accumulator, and each completed segment's sum rounded once
    (ifmac.golden.kulisch). Returns the result bits and where the
    accumulator overflowed."""
    g = kulisch.geometry(config)
    f = config.format
    int_sides = int_flags(f, a_scale).astype(np.intp) + int_flags(f, w_scale)
    hi, lo = kulisch.terms(config, d, a_scale, w_scale, int_sides)
    starts, lengths = _segments(np.asarray(last, dtype=bool))
    sums = kulisch.segment_values(config, hi, lo, starts, lengths)
    bits = np.array([CANONICAL_NAN if s is None else kulisch.round_scaled(s, g.divisor, g.lsb_exp)
                     for s in sums], dtype=np.uint32)
    return bits, np.array([s is None for s in sums], dtype=bool)


# --------------------------------------------------------------------------
# Cycle model
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class CycleResult:
    """Results a beat stream produces: the beat index of each completed
    segment's `last`, and the cycle its result is valid at the outputs."""
    last_beat: np.ndarray
    cycle: np.ndarray
    #: For every beat, whether it belongs to a segment whose result appears.
    kept: np.ndarray


def cycle_model(valid, last, latency: int, reset=None) -> CycleResult:
    """Per-cycle inputs `valid`, `last` (and optionally `reset`, synchronous,
    active high) -> when results appear.

    One beat per valid cycle; a segment's result is valid `latency` cycles
    after the cycle of its `last` beat. A reset drops the open segment, the
    beat presented in its own cycle, and any result still in the pipeline
    (due after the reset cycle). Vectorized: cycles are grouped by the
    number of segment boundaries (a valid `last` or a reset) before them."""
    valid = np.asarray(valid, dtype=bool)
    T = len(valid)
    reset = np.zeros(T, bool) if reset is None else np.asarray(reset, dtype=bool)
    if np.shape(last) != (T,) or reset.shape != (T,):
        raise InputError(f"valid, last and reset must have one entry per cycle ({T}), got "
                         f"{np.shape(last)} and {reset.shape}")
    if not isinstance(latency, (int, np.integer)) or latency < 1:
        raise InputError(f"latency must be a positive integer, not {latency!r}")
    ends = np.asarray(last, dtype=bool) & valid & ~reset
    boundary = ends | reset
    group = np.cumsum(boundary) - boundary          # boundaries strictly before t
    end_cycles = np.flatnonzero(ends)
    # A reset in a cycle after t but before t + latency clears the register
    # holding the segment; one in cycle t + latency comes after the result
    # was visible.
    resets_before = np.concatenate(([0], np.cumsum(reset)))
    done = end_cycles + latency
    lost = resets_before[np.minimum(done, T)] - resets_before[end_cycles + 1] > 0
    complete = np.zeros(int(boundary.sum()) + 1, dtype=bool)
    complete[group[end_cycles[~lost]]] = True
    beat_cycles = np.flatnonzero(valid)
    kept = complete[group[beat_cycles]] & ~reset[beat_cycles]
    beat_index = np.cumsum(valid) - 1
    return CycleResult(beat_index[end_cycles[~lost]].astype(np.int64),
                       done[~lost].astype(np.int64), kept)
