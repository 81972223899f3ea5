"""The format registry: every code of every format, against ml_dtypes and the spec."""

from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from ifmac.golden.formats import (BLOCK_SIZES, FORMATS, FORMAT_NAMES, check_block_size,
                                  get_format)

ML = {"e2m1": ml_dtypes.float4_e2m1fn, "e2m3": ml_dtypes.float6_e2m3fn,
      "e3m2": ml_dtypes.float6_e3m2fn}


@pytest.mark.parametrize("name", [n for n, f in FORMATS.items() if f.fp and f.fp.ml_dtype])
def test_fp_codes_match_ml_dtypes(name):
    """Every FP code decodes to ml_dtypes' value, -0 included (E2M0, which
    ml_dtypes lacks, is checked against the spec's table below)."""
    f = FORMATS[name]
    codes = np.arange(1 << f.bits, dtype=np.uint8)
    ref = codes.view(ML[f.fp.name]).astype(np.float64)
    ours = np.array([float(v) for v in f.fp_values])
    assert np.array_equal(ref, ours)
    # The sign bit is the top bit; the negative half mirrors the positive one.
    assert np.array_equal(np.signbit(ref), codes >= (1 << (f.bits - 1)))
    assert np.array_equal(f.value_table[0], ref.astype(np.float32))


@pytest.mark.parametrize("name", ["if3", "nvfp3", "mxfp3"])
def test_e2m0_table(name):
    """E2M0: bit 2 sign, code&3 -> 0, 1, 2, 4 (docs/contract.md §1)."""
    f = FORMATS[name]
    assert [float(v) for v in f.fp_values] == [0, 1, 2, 4, 0, -1, -2, -4]


def test_e2m1_magnitudes():
    """E2M1 magnitudes by code&7: 0, 0.5, 1, 1.5, 2, 3, 4, 6."""
    assert [float(v) for v in FORMATS["if4"].fp_values[:8]] == [0, .5, 1, 1.5, 2, 3, 4, 6]


def test_fp6_extremes():
    """E2M3: max 7.5, subnormal step 1/8; E3M2: max 28, subnormal step 1/16."""
    e2m3, e3m2 = FORMATS["if6_e2m3"], FORMATS["if6_e3m2"]
    assert e2m3.qmax == 7.5 and e2m3.fp_values[1] == Fraction(1, 8)
    assert e3m2.qmax == 28 and e3m2.fp_values[1] == Fraction(1, 16)


def test_int_tables():
    """INT4 two's complement (-8..7); INT3 and INT6 sign-magnitude."""
    assert FORMATS["if4"].int_values == tuple(list(range(8)) + list(range(-8, 0)))
    assert FORMATS["if3"].int_values == (0, 1, 2, 3, 0, -1, -2, -3)
    i6 = FORMATS["if6_e2m3"].int_values
    assert i6[:32] == tuple(range(32)) and i6[32:] == tuple(-m for m in range(32))


def test_nvint_formats():
    """NVINT: INT elements only, no expansion, E4M3 scales, Qmax = Imax; the
    decode ignores the INT flag (both rows of the table are the INT row)."""
    for name, imax, like in (("nvint4", 7, "if4"), ("nvint3", 3, "if3"), ("nvint6", 31, "if6_e2m3")):
        f = FORMATS[name]
        assert (f.elements, f.scale.name, f.fp, f.qmax, f.frac_bits) == ("int", "e4m3", None, imax, 0)
        assert f.int_values == FORMATS[like].int_values and f.int.expansion == 1
        assert f.values(False) == f.values(True) == f.int_values
        assert {f.expansion_f32(n) for n in range(3)} == {0x3F800000}


def test_mx_formats():
    """MX (OCP MX v1.0): FP elements, E8M0 scales, block size 32 by default."""
    for name, like in (("mxfp4", "nvfp4"), ("mxfp3", "nvfp3"), ("mxfp6_e2m3", "nvfp6_e2m3"),
                       ("mxfp6_e3m2", "nvfp6_e3m2")):
        f, g = FORMATS[name], FORMATS[like]
        assert (f.elements, f.scale.name, f.block_size, f.fp) == ("fp", "e8m0", 32, g.fp)
        assert (g.scale.name, g.block_size) == ("e4m3", 16)


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_fixed_table_is_exact(name):
    """The RTL's fixed-point decode holds every value exactly."""
    f = FORMATS[name]
    for row, is_int in enumerate((False, True)):
        vals = f.values(is_int)
        assert [Fraction(int(x), 1 << f.frac_bits) for x in f.fixed_table[row]] == \
            [Fraction(v) for v in vals]


@pytest.mark.parametrize("name,qmax", [("nvfp4", 6), ("if4", 6), ("if3", 4), ("if6_e2m3", 7.5),
                                       ("if6_e3m2", 28), ("nvfp3", 4), ("nvfp6_e2m3", 7.5),
                                       ("nvfp6_e3m2", 28), ("nvint4", 7), ("nvint3", 3),
                                       ("nvint6", 31), ("mxfp4", 6), ("mxfp3", 4),
                                       ("mxfp6_e2m3", 7.5), ("mxfp6_e3m2", 28)])
def test_qmax(name, qmax):
    """Qmax of the reference quantizer, step 2."""
    assert FORMATS[name].qmax == qmax


def test_expansion_constants():
    """C = float32(6/7) = 0x3F5B6DB7 and float32(36/49) = 0x3F3C14E6 (docs/contract.md §3)."""
    f = FORMATS["if4"]
    assert [f.expansion_f32(n) for n in range(3)] == [0x3F800000, 0x3F5B6DB7, 0x3F3C14E6]
    for name, f in FORMATS.items():
        if f.adaptive:
            for n in (1, 2):
                e = float(f.int.expansion ** n)
                c = np.uint32(f.expansion_f32(n)).view(np.float32)
                assert abs(float(c) - e) <= e * 2 ** -24, name
        else:
            assert {f.expansion_f32(n) for n in range(3)} == {0x3F800000}


def test_reference_constants_close_to_exact():
    """The reference's decimal E and R are the exact expansion and its inverse."""
    for f in FORMATS.values():
        if f.adaptive:
            assert abs(f.int.ref_expansion - float(f.int.expansion)) < 1e-6
            assert abs(f.int.ref_recip * float(f.int.expansion) - 1) < 1e-6


@pytest.mark.parametrize("bad", [0, 4, 12, 64, -16, 16.0, "16", None, True])
def test_block_size_rejected(bad):
    """Block sizes other than 8, 16, 32 are a ValueError naming the value."""
    with pytest.raises(ValueError, match=r"block_size must be one of 8, 16, 32, not "):
        check_block_size(bad)


def test_block_sizes_accepted():
    assert [check_block_size(b) for b in BLOCK_SIZES] == [8, 16, 32]


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_cost_baseline_is_the_same_mac_without_int(name):
    """An IF format's cost baseline is a registry format with its FP element
    and no INT side; an FP-only format has none."""
    f = FORMATS[name]
    if not f.adaptive:
        assert f.cost_baseline is None
        return
    base = FORMATS[f.cost_baseline]
    assert not base.adaptive and base.fp == f.fp


def test_unknown_format():
    """An unknown format name is a ValueError listing the known ones."""
    with pytest.raises(ValueError, match=r"unknown format 'if5'; expected one of nvfp4, if4"):
        get_format("if5")


def test_flag_ignored_without_two_decodes():
    """Only an adaptive format decodes a flagged block differently."""
    f = FORMATS["nvfp4"]
    assert f.values(True) == f.values(False) == f.fp_values and f.int_values is None
