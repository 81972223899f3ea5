"""Golden MAC model: per-stage checks and bit-exactness against exact arithmetic."""

import zlib
from fractions import Fraction

import numpy as np
import pytest

import exact_ref
from ifmac.golden import FORMATS, FORMAT_NAMES, Config, cycle_model, scale
from ifmac.golden import model as mac_mod
from ifmac.golden.errors import InputError
from ifmac.golden.vectors import Beats, _random_codes, _random_scales, random_beats

ARCHS = ("lane", "fused")


def mac(fmt, arch, a, a_scale, w, w_scale, last, block_size=16, interleave=1,
        return_status=False):
    """The golden mac of the Config these name, on these arrays."""
    c = Config.make(fmt, arch, block_size, interleave=interleave)
    beats = Beats(c, np.asarray(a), np.asarray(a_scale), np.asarray(w), np.asarray(w_scale),
                  np.asarray(last))
    return mac_mod.mac(c, beats, return_status)


def _exact_segments(fmt, arch, a, sa, w, sw, last, interleave=1, expansion="scale"):
    ends = np.flatnonzero(last)
    starts = np.r_[0, ends[:-1] + 1]
    return np.array([exact_ref.segment(fmt, arch, [(a[i], sa[i], w[i], sw[i])
                                                   for i in range(s, e + 1)], interleave,
                                       expansion)
                     for s, e in zip(starts, ends)], dtype=np.uint32)


def _short_segment_stream(fmt, B, segments, seed):
    """Beats in short segments (1-8 beats), with corner codes and scales."""
    rng = np.random.default_rng(seed)
    lengths = rng.choice([1, 1, 1, 2, 2, 3, 4, 8], segments)
    n = int(lengths.sum())
    last = np.zeros(n, bool)
    last[np.cumsum(lengths) - 1] = True
    f, c = FORMATS[fmt], Config.make(fmt, "fused", B)
    return (_random_codes(c, rng, n, 0.1), _random_scales(f, rng, n, 0.1),
            _random_codes(c, rng, n, 0.1), _random_scales(f, rng, n, 0.1), last)


# 10,000 segments per (format, arch): 7,000 at B=8, 2,000 at B=16, 1,000 at B=32.
SEGMENTS = {8: 7000, 16: 2000, 32: 1000}


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_mac_matches_exact_reference(fmt, arch):
    """mac() is bit-exact with exact rational arithmetic rounded where docs/contract.md §3 rounds."""
    total = 0
    for B, n_seg in SEGMENTS.items():
        seed = zlib.crc32(f"{fmt}/{arch}/{B}".encode())
        beats = _short_segment_stream(fmt, B, n_seg, seed)
        got = mac(fmt, arch, *beats, block_size=B)
        ref = _exact_segments(fmt, arch, *beats)
        bad = np.flatnonzero(got != ref)
        assert len(bad) == 0, (f"seed {seed} B={B}: {len(bad)} of {len(ref)} segments differ; "
                               f"first #{bad[0]}: got {got[bad[0]]:#010x}, exact {ref[bad[0]]:#010x}")
        total += len(ref)
    assert total == sum(SEGMENTS.values())


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("fmt", [n for n, f in FORMATS.items() if f.adaptive])
def test_deferred_mac_matches_exact_reference(fmt, arch):
    """With a deferred expansion (S times the integer class weight) mac() is
    bit-exact with the exact reference on 10,000 segments."""
    total = 0
    for B, n_seg in SEGMENTS.items():
        seed = zlib.crc32(f"{fmt}/{arch}/{B}/deferred".encode())
        beats = _short_segment_stream(fmt, B, n_seg, seed)
        c = Config.make(fmt, arch, B, expansion="deferred")
        got = mac_mod.mac(c, Beats(c, *beats))
        ref = _exact_segments(fmt, arch, *beats, expansion="deferred")
        bad = np.flatnonzero(got != ref)
        assert len(bad) == 0, (f"seed {seed} B={B}: {len(bad)} of {len(ref)} segments differ; "
                               f"first #{bad[0]}: got {got[bad[0]]:#010x}, exact {ref[bad[0]]:#010x}")
        total += len(ref)
    assert total == sum(SEGMENTS.values())


E4M3_FORMATS = [n for n, f in FORMATS.items() if not f.scale.power_of_two]


@pytest.mark.parametrize("fmt,expansion", [(f, "scale") for f in E4M3_FORMATS]
                         + [(f, "deferred") for f in E4M3_FORMATS if FORMATS[f].adaptive])
def test_exact_mac_matches_exact_reference(fmt, expansion):
    """The exact arch's integer golden model is the correctly rounded exact
    value (the reference's Fractions rounded once) on 10,000 segments, plus
    long ones (100 to 2,000 beats), which cancel and grow."""
    f = FORMATS[fmt]
    total = 0
    for B, n_seg in SEGMENTS.items():
        seed = zlib.crc32(f"{fmt}/exact/{B}/{expansion}".encode())
        beats = _short_segment_stream(fmt, B, n_seg, seed)
        long_last = np.zeros(3100, bool)
        long_last[[99, 1099, 3099]] = True
        extra = _short_segment_stream(fmt, B, 1, seed + 1)
        rng = np.random.default_rng(seed)
        c = Config.make(fmt, "exact", B, expansion=expansion)
        long = (_random_codes(c, rng, 3100, 0.1), _random_scales(f, rng, 3100, 0.1),
                _random_codes(c, rng, 3100, 0.1), _random_scales(f, rng, 3100, 0.1), long_last)
        beats = tuple(np.concatenate([x, y, z]) for x, y, z in zip(beats, long, extra))
        got, status = mac_mod.mac(c, Beats(c, *beats), return_status=True)
        ends = np.flatnonzero(beats[4])
        starts = np.r_[0, ends[:-1] + 1]
        ref = np.array([exact_ref.exact_segment(fmt, [(beats[0][i], beats[1][i], beats[2][i],
                                                       beats[3][i]) for i in range(s, e + 1)],
                                                expansion)
                        for s, e in zip(starts, ends)], dtype=np.uint32)
        bad = np.flatnonzero(got != ref)
        assert len(bad) == 0, (f"seed {seed} B={B}: {len(bad)} of {len(ref)} segments differ; "
                               f"first #{bad[0]}: got {got[bad[0]]:#010x}, exact {ref[bad[0]]:#010x}")
        assert not (status & mac_mod.Status.ACC_OVERFLOW).any()
        total += len(ref)
    assert total == sum(SEGMENTS.values()) + 3 * 4


@pytest.mark.parametrize("fmt,B,expansion", [("if4", 16, "scale"), ("nvfp4", 8, "scale"),
                                              ("if6_e2m3", 16, "deferred")])
def test_exact_longest_segment_then_overflow(fmt, B, expansion):
    """The longest segment of largest terms the accumulator states it holds
    is the exact value rounded once; one beat more overflows: canonical NaN
    and status ACC_OVERFLOW. The largest term is the geometry's."""
    from ifmac.golden import kulisch
    from ifmac.sim.suites import largest_term
    c = Config.make(fmt, "exact", B, expansion=expansion)
    g = kulisch.geometry(c)
    a, sa, w, sw = largest_term(c)
    assert g.longest_exact_segment >= 1 << kulisch.HEADROOM
    n = g.longest_exact_segment
    last = np.zeros(2 * n + 1, bool)
    last[[n - 1, 2 * n]] = True
    beats = Beats(c, np.tile(a, (2 * n + 1, 1)), np.full(2 * n + 1, sa, np.uint8),
                  np.tile(w, (2 * n + 1, 1)), np.full(2 * n + 1, sw, np.uint8), last)
    bits, status = mac_mod.mac(c, beats, return_status=True)
    one = exact_ref.exact_value(fmt, [(a, sa, w, sw)], expansion)
    hi, lo = kulisch.terms(c, mac_mod.group(mac_mod.product(
        mac_mod.decode(c.format, a[None], np.array([sa])),
        mac_mod.decode(c.format, w[None], np.array([sw]))), B)[:, 0],
        np.array([sa]), np.array([sw]), np.array([(sa >> 7) + (sw >> 7)]) * c.format.adaptive)
    assert abs((int(hi[0]) << 32) + int(lo[0])) == g.term_peak
    assert bits[0] == exact_ref.F32(exact_ref.r32(n * one), neg=one < 0).bits()
    assert bits[1] == mac_mod.CANONICAL_NAN
    assert list(status) == [0, mac_mod.Status.ACC_OVERFLOW]


def test_round_scaled_is_binary32_rounding():
    """round_scaled (integers) equals the reference's Fraction rounding on
    random numerators, divisors and exponents, subnormal and overflow
    results and ties included; an exact zero is +0."""
    from ifmac.golden.kulisch import round_scaled
    rng = np.random.default_rng(5)
    for _ in range(20000):
        n = int(rng.integers(-2 ** 62, 2 ** 62)) >> int(rng.integers(0, 62))
        n <<= int(rng.integers(0, 30))
        den = int(rng.choice([1, 3, 9, 49, 961, 3844]))
        e = int(rng.integers(-200, 120))
        q = Fraction(n) * Fraction(2) ** e / den
        ref = exact_ref.F32(exact_ref.r32(q), neg=n < 0).bits() if n else 0
        assert round_scaled(n, den, e) == ref, (n, den, e)


@pytest.mark.parametrize("interleave", [1, 2, 4])
@pytest.mark.parametrize("arch", ["lane", "g2", "g4", "g8", "fused"])
@pytest.mark.parametrize("fmt", ["if4", "nvfp4", "nvint4", "mxfp4"])
def test_groups_and_interleave_match_exact_reference(fmt, arch, interleave):
    """mac() with group G and k partials is bit-exact with the exact reference
    (groups rounded once each, partial n mod k, -0 for an empty partial)."""
    seed = zlib.crc32(f"{fmt}/{arch}/{interleave}".encode())
    beats = _short_segment_stream(fmt, 16, 600, seed)
    got = mac(fmt, arch, *beats, block_size=16, interleave=interleave)
    ref = _exact_segments(fmt, arch, *beats, interleave=interleave)
    bad = np.flatnonzero(got != ref)
    assert len(ref) == 600 and len(bad) == 0, (
        f"seed {seed}: {len(bad)} segments differ; first #{bad[0]}: got {got[bad[0]]:#010x}, "
        f"exact {ref[bad[0]]:#010x}")


def test_group_ends_are_lane_and_fused():
    """g1 is lane and g<B> is fused, bit for bit; interleave 1 is the sequential sum."""
    b = random_beats(Config.make("if4", "fused", 16), 2000, seed=5)
    for arch, alias in (("lane", "g1"), ("fused", "g16")):
        assert np.array_equal(mac("if4", arch, *b.arrays()), mac("if4", alias, *b.arrays()))


# --------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_decode_every_code(fmt):
    """decode: every code under both flags gives the exact element value."""
    f = FORMATS[fmt]
    codes = np.arange(1 << f.bits, dtype=np.uint8)[None, :].repeat(2, 0)
    is_int = np.array([False, True]) & f.adaptive
    got = mac_mod.decode(f, codes, np.where(is_int, 0x80, 0x38))
    for row in range(2):
        ref = [exact_ref.element(fmt, int(c), bool(is_int[row])) for c in codes[row]]
        assert [Fraction(int(v), 1 << f.frac_bits) for v in got[row]] == ref


@pytest.mark.parametrize("fmt", [n for n, f in FORMATS.items() if f.adaptive])
def test_scale_all_scale_pairs(fmt):
    """scale: all 65,536 scale-byte pairs, S = fl32(fl32(sa*sb)*C), against exact."""
    sa, sw = np.meshgrid(np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.uint8))
    sa, sw = sa.ravel(), sw.ravel()
    got = scale(Config.make(fmt), sa, sw).astype(np.float32).view(np.uint32)
    zero = np.zeros(16, np.uint8)
    ref = np.array([exact_ref.beat_terms(fmt, zero, int(x), zero, int(y))[1].bits()
                    for x, y in zip(sa, sw)], dtype=np.uint32)
    assert np.array_equal(got, ref)
    assert (got[(sa & 0x7F) == 0] == 0).all() and (got[(sw & 0x7F) == 0] == 0).all()


@pytest.mark.parametrize("fmt", [n for n, f in FORMATS.items() if f.adaptive])
def test_deferred_scale_is_exact(fmt):
    """scale with a deferred expansion: all 65,536 scale-byte pairs give
    S = sa * sb * w_k exactly, w_k = d^2 C^k the integer class weight of
    the pair's k INT blocks (IF4: 49, 42, 36); the result unit is 1/d^2."""
    config = Config.make(fmt, expansion="deferred")
    c = FORMATS[fmt].int.expansion
    n, d = c.numerator, c.denominator
    assert config.class_weights == (d * d, n * d, n * n)
    assert config.result_unit == Fraction(1, d * d)
    assert all(Fraction(w) == d * d * c ** k for k, w in enumerate(config.class_weights))
    sa, sw = np.meshgrid(np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.uint8))
    sa, sw = sa.ravel(), sw.ravel()
    got = scale(config, sa, sw)
    table = FORMATS[fmt].scale.decode(np.arange(256, dtype=np.uint8)).astype(np.float64)
    k = (sa >> 7) + (sw >> 7)
    for x, y, kk, S in zip(sa, sw, k, got):
        assert Fraction(float(S)) == (Fraction(float(table[x])) * Fraction(float(table[y]))
                                      * config.class_weights[kk])


def test_deferred_needs_an_int_expansion():
    with pytest.raises(InputError, match="nvfp4 has no INT expansion"):
        Config.make("nvfp4", expansion="deferred")
    with pytest.raises(InputError, match="unknown expansion 'late'"):
        Config.make("if4", expansion="late")
    assert Config.make("if4", "lane", 16, expansion="deferred").name == \
        "ifmac_if4_lane_b16_deferred"


@pytest.mark.parametrize("fmt", [n for n, f in FORMATS.items() if f.scale.power_of_two])
def test_scale_e8m0_is_exponent_sum(fmt):
    """scale, E8M0: all 65,536 byte pairs give exactly 2^(ea + eb - 254),
    beyond binary32's range too (2^-254 .. 2^254), NaN if either is 0xFF."""
    sa, sw = np.meshgrid(np.arange(256), np.arange(256))
    got = scale(Config.make(fmt), sa.ravel().astype(np.uint8), sw.ravel().astype(np.uint8))
    for x, y, S in zip(sa.ravel(), sw.ravel(), got):
        if 0xFF in (x, y):
            assert np.isnan(S)
        else:
            assert Fraction(float(S)) == Fraction(2) ** int(x + y - 254)


def test_e8m0_extremes():
    """m = fl32(D * 2^k) rounds once: a product below binary32's normal range
    is a correctly rounded subnormal (not S flushed first), past 2^128 it is
    +-inf, inf - inf in the accumulator is NaN (canonical 0x7FC00000)."""
    B = 32
    one = np.zeros((1, B), np.uint8)
    one[0, 0] = 0x2                           # E2M1 1.0
    three = one.copy()
    three[0, 0] = 0x5                         # 3.0
    # 1 * 3 * 2^(-150): 1.5 * 2^-149 rounds to even, 2^-148 (bits 0x2).
    assert mac("mxfp4", "fused", one, [0], three, [127 - 23], [True], B).tolist() == [2]
    # 1 * 3 * 2^-152 = 0.375 * 2^-149 rounds to +0.
    assert mac("mxfp4", "fused", one, [0], three, [127 - 25], [True], B).tolist() == [0]
    # 3 * 2^127 overflows to +inf; its negative to -inf; their sum is NaN.
    neg = three.copy()
    neg[0, 0] = 0xD                           # -3.0
    a = np.concatenate([one, one])
    w = np.concatenate([three, neg])
    assert mac("mxfp4", "fused", a[:1], [0xFE], w[:1], [0x7F], [True], B).tolist() == [0x7F800000]
    assert mac("mxfp4", "lane", a, [0xFE] * 2, w, [0x7F] * 2, [False, True], B).tolist() == \
        [0x7FC00000]
    # A NaN scale byte makes the segment's result NaN and sets status bit 1.
    r, st = mac("mxfp4", "fused", a, [0x7F, 0xFF], w, [0x7F] * 2, [False, True], B,
                return_status=True)
    assert r.tolist() == [0x7FC00000] and st.tolist() == [2]


def test_scale_saturates_7f():
    """Payload 0x7F multiplies as 448."""
    assert scale(Config.make("nvfp4"), [0x7F], [0x38]).tolist() == [448.0]
    assert scale(Config.make("nvfp4"), [0x7F], [0x7F]).tolist() == [448.0 * 448.0]


def test_reduce_order():
    """reduce: (0+1), (2+3), then (01+23); a left-to-right sum would round differently."""
    big = np.float32(2 ** 24)
    lanes = np.array([[big, 1, 1, 1]], np.float32)
    # Pairwise: (2^24 + 1) ties to 2^24, (1 + 1) = 2, 2^24 + 2 is exact.
    assert mac_mod.reduce(lanes[:, :, None]).tolist() == [2 ** 24 + 2]
    # Left to right every +1 ties back to 2^24.
    assert np.float32(np.float32(np.float32(big + 1) + 1) + 1) == big


def test_accumulate_first_beat_and_order():
    """accumulate: acc = m on the first beat, then fl32(acc + m) in beat order."""
    m = np.array([2 ** 24, 1, 1, 5, 7], np.float32)
    last = np.array([0, 0, 1, 0, 1], bool)
    # Segment 1: (2^24 + 1) + 1 = 2^24 (each add rounds to even).
    assert mac_mod.accumulate(m[:, None], last)[:, 0, 0].tolist() == [2 ** 24, 12]


def test_accumulate_interleaved_partials():
    """accumulate, k = 2: beats alternate between two partials; a partial no
    beat reached is -0."""
    m = np.array([2 ** 24, 1, 1, 1, 3], np.float32)
    last = np.array([0, 0, 0, 1, 1], bool)
    got = mac_mod.accumulate(m[:, None], last, interleave=2)[:, 0, :]
    # Partial 0: 2^24 + 1 ties to 2^24; partial 1: 1 + 1 = 2.
    assert got.tolist() == [[2 ** 24, 2], [3, 0]]
    assert np.signbit(got[1, 1])


def test_negative_times_zero_scale_is_negative_zero():
    """fused: D < 0 times S = +0 is -0 (IEEE sign rule)."""
    a = np.full((1, 16), 0x2, np.uint8)     # 1.0
    w = np.full((1, 16), 0xA, np.uint8)     # -1.0
    assert mac("nvfp4", "fused", a, [0], w, [0x38], [True]).tolist() == [0x80000000]
    # lane: each lane is -0, the tree adds -0 + -0 = -0.
    assert mac("nvfp4", "lane", a, [0], w, [0x38], [True]).tolist() == [0x80000000]


def test_zero_code_product_is_positive_zero():
    """A zero element product is +0: fixed point has no -0."""
    a = np.full((1, 16), 0x8, np.uint8)     # -0
    w = np.full((1, 16), 0x2, np.uint8)     # 1.0
    for arch in ARCHS:
        assert mac("if4", arch, a, [0x38], w, [0x38], [True]).tolist() == [0]


def test_int4_minus_eight_exact():
    """INT4 code 0b1000 decodes to -8 and multiplies exactly."""
    a = np.zeros((1, 16), np.uint8)
    a[0, 0] = 0x8
    w = np.zeros((1, 16), np.uint8)
    w[0, 0] = 0x8
    # (-8) * (-8) * 1 * 1 * float32(36/49)
    expect = np.float32(np.float32(64) * np.float32(36 / 49)).view(np.uint32)
    assert mac("if4", "fused", a, [0xB8], w, [0xB8], [True]).tolist() == [int(expect)]


def test_status_bits():
    """status: bit 0 for the INT flag on an FP-only format, bit 1 for payload 0x7F,
    sticky over the segment, cleared for the next."""
    z = np.zeros((4, 8), np.uint8)
    last = [False, True, False, True]
    _, st = mac("nvfp4", "fused", z, [0xB8, 0x38, 0x38, 0x7F], z, [0x38] * 4, last,
                block_size=8, return_status=True)
    assert st.tolist() == [1, 2]
    _, st = mac("if4", "fused", z, [0xB8, 0x38, 0x38, 0x38], z, [0x38] * 4, last,
                block_size=8, return_status=True)
    assert st.tolist() == [0, 0]


def test_fp_only_flag_decodes_as_fp():
    """A flagged block of an FP-only format decodes as FP, as if the bit were clear."""
    b = random_beats(Config.make("nvfp4", "fused", 16), 200, seed=3)
    flagged = mac("nvfp4", "lane", b.a, b.a_scale | 0x80, b.w, b.w_scale, b.last)
    clear = mac("nvfp4", "lane", b.a, b.a_scale & 0x7F, b.w, b.w_scale & 0x7F, b.last)
    assert np.array_equal(flagged, clear)


def test_trailing_beats_without_last_dropped():
    z = np.zeros((3, 16), np.uint8)
    assert len(mac("if4", "lane", z, [1] * 3, z, [1] * 3, [True, False, False])) == 1
    assert len(mac("if4", "lane", z, [1] * 3, z, [1] * 3, [False] * 3)) == 0


def test_long_segment_vectorized_matches_sequential():
    """1000-beat segments: the vectorized accumulate equals a plain loop."""
    b = random_beats(Config.make("if4", "fused", 16), 3000, seed=11)
    last = np.zeros(3000, bool)
    last[[999, 1999, 2999]] = True
    got = mac("if4", "fused", b.a, b.a_scale, b.w, b.w_scale, last)
    f = FORMATS["if4"]
    m = mac_mod.multiply(f, mac_mod.group(mac_mod.product(
        mac_mod.decode(f, b.a, b.a_scale), mac_mod.decode(f, b.w, b.w_scale)), 16),
        scale(Config.make("if4", "fused", 16), b.a_scale, b.w_scale))[:, 0]
    seq = []
    for s in (0, 1000, 2000):
        acc = m[s]
        for k in range(1, 1000):
            acc = np.float32(acc + m[s + k])
        seq.append(int(np.float32(acc).view(np.uint32)))
    assert got.tolist() == seq


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------

def test_mac_rejects_bad_input():
    z = np.zeros((2, 16), np.uint8)
    with pytest.raises(ValueError, match="unknown arch 'tree'; expected lane, fused, g<G>"):
        mac("if4", "tree", z, [0, 0], z, [0, 0], [0, 1])
    with pytest.raises(ValueError, match=r"a has shape \(2, 16\); expected \(beats, 8\)"):
        mac("if4", "lane", z, [0, 0], z, [0, 0], [0, 1], block_size=8)
    bad = z.copy()
    bad[1, 2] = 0x10
    with pytest.raises(ValueError, match=r"w\[1, 2\] = 0x10 is outside format if4"):
        mac("if4", "lane", z, [0, 0], bad, [0, 0], [0, 1])
    with pytest.raises(ValueError, match=r"a_scale must be \(2,\) bytes"):
        mac("if4", "lane", z, [0, 256], z, [0, 0], [0, 1])
    with pytest.raises(ValueError, match=r"last has shape \(3,\); expected \(2,\)"):
        mac("if4", "lane", z, [0, 0], z, [0, 0], [0, 1, 1])


# --------------------------------------------------------------------------
# Cycle model
# --------------------------------------------------------------------------

def test_cycle_model_gaps():
    """Results appear `latency` cycles after the cycle of each segment's last beat."""
    valid = [1, 0, 1, 1, 0, 0, 1, 1]
    last = [0, 0, 1, 0, 0, 0, 0, 1]
    r = cycle_model(valid, last, latency=3)
    assert r.cycle.tolist() == [5, 10] and r.last_beat.tolist() == [1, 4]
    assert r.kept.all()


def test_cycle_model_reset_mid_segment():
    """A reset drops the open segment and results still in the pipeline."""
    valid = [1, 1, 0, 1, 1, 1, 1, 0, 0]
    last = [0, 0, 0, 0, 1, 0, 1, 0, 0]
    reset = [0, 0, 1, 0, 0, 0, 0, 1, 0]
    r = cycle_model(valid, last, latency=2, reset=reset)
    # Beats 0-1 dropped by the reset at cycle 2; segment (beats 2, 3) ends at
    # cycle 4 -> result at 6; segment (beats 4, 5) ends at 6, due at 8, but
    # the reset at 7 flushes it.
    assert r.cycle.tolist() == [6]
    assert r.kept.tolist() == [False, False, True, True, False, False]


def _cycle_model_loop(valid, last, latency, reset):
    """The cycle model written cycle by cycle, as the RTL's control behaves:
    the reference the vectorized `cycle_model` is checked against."""
    T = len(valid)
    beat_index = np.cumsum(valid) - 1
    kept = np.zeros(int(np.sum(valid)), bool)
    resets = np.flatnonzero(reset)
    seg, cycles = [], []
    for t in range(T):
        if reset[t]:
            seg = []
            continue
        if not valid[t]:
            continue
        seg.append(int(beat_index[t]))
        if last[t]:
            done = t + latency
            if not ((resets > t) & (resets < done)).any():
                kept[seg] = True
                cycles.append(done)
            seg = []
    return cycles, kept


@pytest.mark.parametrize("seed", range(40))
def test_cycle_model_matches_cycle_by_cycle_reference(seed):
    """Vectorized cycle model == the cycle-by-cycle one on random schedules
    with gaps, dense resets and every latency 1..4."""
    rng = np.random.default_rng(seed)
    T = int(rng.integers(1, 300))
    valid = rng.random(T) < 0.7
    last = rng.random(T) < 0.3
    reset = rng.random(T) < rng.choice([0.0, 0.02, 0.2])
    latency = int(rng.integers(1, 5))
    r = cycle_model(valid, last, latency, reset)
    cycles, kept = _cycle_model_loop(valid, last & valid, latency, reset)
    assert r.cycle.tolist() == cycles
    assert np.array_equal(r.kept, kept)
