"""golden/accuracy.py: SQNR and MAC error of a format on realistic data."""

import numpy as np
import pytest

from ifmac.golden.accuracy import DISTRIBUTIONS, measure, tensors
from ifmac.golden.config import Config
from ifmac.golden.errors import InputError


def test_measure_one_record_per_configuration():
    """Each MAC configuration gets its record; the quantization SQNR is the
    format's, the same for both archs; the errors are small but not zero."""
    configs = [Config.make("if4", "lane"), Config.make("if4", "fused")]
    lane, fused = measure(configs, "mse", rows=4, K=256, seed=1)
    assert (lane.config, fused.config) == tuple(configs)
    assert lane.sqnr_db == fused.sqnr_db and 10 < lane.sqnr_db < 30
    assert set(lane.sqnr_db_by_dist) == set(DISTRIBUTIONS)
    assert 0 < fused.rel_err_median < 0.5 and fused.rel_err_p99 >= fused.rel_err_median
    assert lane.to_json()["arch"] == "lane" and lane.to_json()["block_size"] == 16


def test_measure_needs_one_stream():
    with pytest.raises(InputError, match="one format and block size"):
        measure([Config.make("if4", "lane", 16), Config.make("if4", "fused", 8)])


def test_tensors_are_reproducible():
    a1, w1 = tensors("outliers", 2, 64, np.random.default_rng(3))
    a2, w2 = tensors("outliers", 2, 64, np.random.default_rng(3))
    assert np.array_equal(a1, a2) and np.array_equal(w1, w2) and a1.dtype == np.float32
    with pytest.raises(ValueError, match="unknown distribution 'cauchy'"):
        tensors("cauchy", 2, 64, np.random.default_rng(3))


def test_deferred_expansion_result_unit_applied():
    """A deferred expansion's MAC result is in units of 1/d^2: with that
    applied its error is the scale mode's (both dominated by quantization),
    not 49 times off."""
    scale_cfg, deferred = (Config.make("if4", "fused", expansion=e)
                           for e in ("scale", "deferred"))
    a, b = measure([scale_cfg, deferred], rows=4, K=512)
    assert b.config is deferred and a.sqnr_db == b.sqnr_db
    assert b.rel_err_median < 0.2
    assert abs(b.rel_err_median - a.rel_err_median) < 0.1 * a.rel_err_median
