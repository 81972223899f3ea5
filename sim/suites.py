"""Stimulus suites for the MAC regressions (docs/contract.md §6).

Each suite is a `Beats` stream that ends on a segment boundary, so suites
concatenate into one simulation per configuration.
"""

from __future__ import annotations

import numpy as np

from ifmac.golden import kulisch
from ifmac.golden.accuracy import DISTRIBUTIONS, tensors
from ifmac.golden.config import Config
from ifmac.golden.vectors import Beats, quantized_beats, random_beats


def _one_beat_segments(config: Config, a, a_scale, w, w_scale) -> Beats:
    return Beats(config, np.asarray(a, np.uint8), np.asarray(a_scale, np.uint8),
                 np.asarray(w, np.uint8), np.asarray(w_scale, np.uint8),
                 np.ones(len(a_scale), bool))


def code_pairs(config: Config) -> Beats:
    """Every element-code pair under every INT/FP flag pair: one pair per beat
    in lane (k mod B), zero codes elsewhere, scales 1.0, one-beat segments."""
    f, block_size = config.format, config.block_size
    one = f.scale.one
    n = 1 << f.bits
    ca, cw = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    ca, cw = ca.ravel(), cw.ravel()
    flags = [(0, 0), (0, 1), (1, 0), (1, 1)] if f.adaptive else [(0, 0)]
    beats = []
    for fa, fw in flags:
        k = len(ca)
        a = np.zeros((k, block_size), np.uint8)
        w = np.zeros((k, block_size), np.uint8)
        lane = np.arange(k) % block_size
        a[np.arange(k), lane] = ca
        w[np.arange(k), lane] = cw
        beats.append(_one_beat_segments(config, a, np.full(k, one | fa << 7), w,
                                        np.full(k, one | fw << 7)))
    return concat(*beats)


def scale_pairs(config: Config) -> Beats:
    """All 65,536 scale-byte pairs (flags included), one-beat segments, with
    fixed non-zero codes of both signs in every lane."""
    f, block_size = config.format, config.block_size
    sa, sw = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    sa, sw = sa.ravel(), sw.ravel()
    if f.flag_reserved:         # the INT flag is only legal on IF formats
        sa, sw = sa & 0x7F, sw & 0x7F
        keep = np.unique(sa * 256 + sw, return_index=True)[1]
        sa, sw = sa[keep], sw[keep]
    k = len(sa)
    rng = np.random.default_rng(65536)
    a = rng.integers(1, 1 << f.bits, (k, block_size)).astype(np.uint8)
    w = rng.integers(1, 1 << f.bits, (k, block_size)).astype(np.uint8)
    return _one_beat_segments(config, a, sa, w, sw)


def quantized(config: Config, rows: int = 64, k_blocks: int = 8, seed: int = 0) -> Beats:
    """Dot products of real-looking tensors through the codec: normal,
    Laplace, Student-t and outlier-heavy rows."""
    rng = np.random.default_rng(seed)
    K = config.block_size * k_blocks
    out = None
    for dist in DISTRIBUTIONS:
        b = quantized_beats(config, *tensors(dist, rows, K, rng))
        out = b if out is None else out.concat(b)
    return out


def corners(config: Config, seed: int = 0) -> Beats:
    """Directed corners: E4M3 zero, subnormal, 0x7E and 0x7F scales (E8M0:
    pairs whose S = 2^(ea + eb - 254) is subnormal, underflows, overflows,
    or NaN); -0 and extreme codes in every lane; one-beat and 1000-beat
    segments, back to back."""
    f, B = config.format, config.block_size
    sign = 1 << (f.bits - 1)
    codes = [0, sign, sign - 1, (1 << f.bits) - 1, sign | 1]   # +0, -0 (or -8), max, -max, ...
    if f.scale.power_of_two:
        scales = [0x00, 0x01, 24, 64, 104, 0x7F, 0x80, 150, 200, 0xFE, 0xFF]
    else:
        flag = 0x80 if f.adaptive else 0
        scales = [0x00, 0x01, 0x07, 0x08, 0x7E, 0x7F, f.scale.one, 0x00 | flag, 0x01 | flag,
                  0x7E | flag, 0x7F | flag]
    rows = [(ca, sa, cw, sw) for ca in codes for cw in codes for sa in scales for sw in scales[::2]]
    a = np.array([[r[0]] * B for r in rows], np.uint8)
    w = np.array([[r[2]] * B for r in rows], np.uint8)
    out = _one_beat_segments(config, a, [r[1] for r in rows], w, [r[3] for r in rows])
    # Two 1000-beat segments (random beats), then 100 one-beat segments.
    long = random_beats(config, 2000, seed=seed + 1)
    long.last[:] = False
    long.last[[999, 1999]] = True
    out = out.concat(long)
    short = random_beats(config, 100, seed=seed + 2)
    short.last[:] = True
    return out.concat(short)


def _negated_codes(config: Config, is_int: bool) -> tuple[np.ndarray, np.ndarray]:
    """For each code of a decode row: itself, or the zero code where its
    value has no negation in the row (INT4's -8); and the code of the
    opposite value."""
    row = config.format.fixed_table[int(is_int)]
    where = {int(v): c for c, v in enumerate(row)}
    zero = where[0]
    kept = np.array([c if -int(v) in where else zero for c, v in enumerate(row)], np.uint8)
    return kept, np.array([where.get(-int(v), zero) for v in row], np.uint8)


def largest_term(config: Config) -> tuple[np.ndarray, int, np.ndarray, int]:
    """One beat with the largest |term| the exact arch can see: codes of the
    largest |product| in every lane, both scales 448 (0x7E), the INT flags
    that make D * w largest."""
    f, B = config.format, config.block_size
    g = kulisch.geometry(config)
    best = None
    for fa in (0, 1) if f.adaptive else (0,):
        for fw in (0, 1) if f.adaptive else (0,):
            ra, rw = f.fixed_table[fa], f.fixed_table[fw]
            ca, cw = int(np.abs(ra).argmax()), int(np.abs(rw).argmax())
            size = abs(int(ra[ca]) * int(rw[cw])) * g.weights[fa + fw]
            if best is None or size > best[0]:
                best = (size, ca, fa, cw, fw)
    _, ca, fa, cw, fw = best
    return np.full(B, ca, np.uint8), 0x7E | fa << 7, np.full(B, cw, np.uint8), 0x7E | fw << 7


def exact_limits(config: Config, seed: int = 0) -> Beats:
    """The exact arch's directed cases: a K = 65,536-element segment; mixed
    INT/FP segments followed by their negation (cancelling to +0); the
    longest segment of largest terms the accumulator holds, and one beat
    more, which overflows (canonical NaN, status ACC_OVERFLOW)."""
    f, B = config.format, config.block_size
    k65 = random_beats(config, 65536 // B, seed=seed + 3)
    k65.last[:] = False
    k65.last[-1] = True
    half = random_beats(config, 600, seed=seed + 4)
    half.last[:] = False
    half.last[[9, 99, 599]] = True
    flags = (np.asarray(half.w_scale) >> 7).astype(bool)[:, None] & f.adaptive
    (fp_kept, fp_neg), (int_kept, int_neg) = (_negated_codes(config, False),
                                              _negated_codes(config, f.adaptive))
    pos_w = np.where(flags, int_kept[half.w], fp_kept[half.w])
    neg_w = np.where(flags, int_neg[half.w], fp_neg[half.w])
    # Segment j of `half` and then its negation, as one segment.
    cancel = []
    for lo, hi in ((0, 10), (10, 100), (100, 600)):
        pos = Beats(config, half.a[lo:hi], half.a_scale[lo:hi], pos_w[lo:hi],
                    half.w_scale[lo:hi], np.zeros(hi - lo, bool))
        neg = Beats(config, half.a[lo:hi], half.a_scale[lo:hi], neg_w[lo:hi],
                    half.w_scale[lo:hi], np.arange(hi - lo) == hi - lo - 1)
        cancel += [pos, neg]
    a, sa, w, sw = largest_term(config)
    longest = kulisch.geometry(config).longest_exact_segment
    runs = []
    for n in (longest, longest + 1):
        last = np.zeros(n, bool)
        last[-1] = True
        runs.append(Beats(config, np.tile(a, (n, 1)), np.full(n, sa, np.uint8),
                          np.tile(w, (n, 1)), np.full(n, sw, np.uint8), last))
    return concat(k65, *cancel, *runs)


def concat(*streams: Beats) -> Beats:
    out = streams[0]
    for s in streams[1:]:
        out = out.concat(s)
    return out
