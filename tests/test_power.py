"""synth/power.py: power from toggle counts and the library's tables, on a
netlist small enough to compute by hand."""

import json

import numpy as np
import pytest

from ifmac.synth import power as pw
from ifmac.tech import OSU018


def _flat(value):
    return pw.Table(None, np.array([0.0, 1.0]), np.array([[value, value]]))


def test_table_interpolates():
    t = pw.Table(np.array([0.0, 1.0]), np.array([0.0, 2.0]), np.array([[0.0, 2.0], [1.0, 3.0]]))
    assert t.at(0.5, 1.0) == pytest.approx(1.5)         # bilinear: (1 + 2) / 2
    assert t.at(2.0, 0.0) == pytest.approx(2.0)         # linear beyond the edge


def test_power_of_one_inverter(tmp_path):
    """An inverter from input a to output y: switching 1/2 C V^2 per toggle
    with C its input pin (net a) and the output load (net y, 4 INVX1
    inputs), internal (rise + fall) / 2 per output toggle, its leakage."""
    inv = pw.Cell("INVX1", 1e-5, inputs={"A": 0.01}, outputs={"Y": [(_flat(0.002),
                                                                     _flat(0.004))]})
    lib = pw.Library("toy", 1.8, {"INVX1": inv}, OSU018)
    netlist = {"modules": {"top": {
        "ports": {"a": {"direction": "input", "bits": [2]},
                  "y": {"direction": "output", "bits": [3]}},
        "cells": {"u": {"type": "INVX1", "connections": {"A": [2], "Y": [3]}}},
        "netnames": {"a": {"bits": [2], "hide_name": 0}, "y": {"bits": [3], "hide_name": 0}}}}}
    path = tmp_path / "n.json"
    path.write_text(json.dumps(netlist))
    p = pw.power(lib, path, "top", pw.Activity(100, {"a": 10, "y": 10}), clock_ns=10.0)
    window = 100 * 10.0                                   # ns
    assert p.switching_mw == pytest.approx((0.5 * 0.01 + 0.5 * 0.04) * 1.8 ** 2 * 10 / window)
    assert p.internal_mw == pytest.approx(0.003 * 10 / window)
    assert p.leakage_mw == pytest.approx(1e-5)
    assert p.energy_pj() == pytest.approx(p.total_mw * window)
    with pytest.raises(ValueError, match="no toggle count for 1 nets"):
        pw.power(lib, path, "top", pw.Activity(100, {"a": 10}), clock_ns=10.0)
