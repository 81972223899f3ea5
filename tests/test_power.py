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
    inv = pw.Cell("INVX1", 1e-5, inputs={"A": 0.01}, outputs={"Y": "!A"},
                  groups=[pw.PowerGroup("Y", "A", None, _flat(0.002), _flat(0.004))])
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


LIBERTY = """library (toy) {
  capacitive_load_unit (1, pf);
  leakage_power_unit : "1nW";
  voltage_unit : "1V";
  nom_voltage : 1.2;
  power_lut_template (pwr_2d) {
    variable_1 : input_transition_time;
    variable_2 : total_output_net_capacitance;
    index_1 ("0.1, 0.5");
    index_2 ("0.01, 0.05");
  }
  cell (inv) {
    cell_leakage_power : 2.0;
    pin (A) { direction : input; capacitance : 0.002; }
    pin (Y) {
      direction : output;
      function : "!A";
      internal_power () {
        related_pin : "A";
        rise_power (pwr_2d) { values ("1.0, 2.0", "3.0, 4.0"); }
        fall_power (pwr_2d) { index_1 ("0.1, 0.9"); values ("1.0, 2.0", "3.0, 4.0"); }
      }
    }
  }
}
"""


def test_tables_inherit_their_templates_indices(tmp_path):
    """A table without its own index_1/index_2 uses its template's (IHP
    SG13G2's tables do; ifmac used to die on them); a table's own wins."""
    import gzip
    path = tmp_path / "toy.lib.gz"
    with gzip.open(path, "wt") as fh:                 # read compressed, as vendored
        fh.write(LIBERTY)
    lib = pw.load_library(str(path))
    (group,) = lib.cells["inv"].groups
    rise, fall = group.rise, group.fall
    assert lib.voltage == 1.2 and lib.cells["inv"].leakage_mw == pytest.approx(2e-6)
    # (slew, load) tables are stored load first: at load 0.03, slew 0.3 the
    # rise table is bilinear between its four values.
    assert list(rise.loads) == [0.01, 0.05] and list(rise.slews) == [0.1, 0.5]
    assert rise.at(0.03, 0.3) == pytest.approx(2.5)
    assert list(fall.slews) == [0.1, 0.9]             # its own index_1


def test_scalar_table_is_a_constant(tmp_path):
    """`rise_power (scalar) { values ("0"); }` (IHP's passive pins): one value."""
    path = tmp_path / "s.lib"
    path.write_text(LIBERTY.replace('fall_power (pwr_2d) { index_1 ("0.1, 0.9"); values '
                                    '("1.0, 2.0", "3.0, 4.0"); }',
                                    'fall_power (scalar) { values ("0.5"); }'))
    fall = pw.load_library(str(path)).cells["inv"].groups[0].fall
    assert fall.at(0.02, 0.0) == fall.at(0.3, 2.0) == 0.5


def test_a_library_of_no_known_technology_drives_with_its_inverter(tmp_path):
    """A user's own library (--liberty) need not have OSU's INVX1: its
    smallest inverter drives the inputs and loads the outputs."""
    path = tmp_path / "toy.lib"
    path.write_text(LIBERTY)
    lib = pw.load_library(str(path))
    assert lib.tech.driver == ("inv", "Y") and lib.tech.load == ("inv", "A", 4)
    assert lib.output_load() == pytest.approx(4 * 0.002)
    path.write_text(LIBERTY.replace('function : "!A";', 'function : "A";'))
    with pytest.raises(ValueError, match="no inverter cell"):
        pw.load_library.__wrapped__(str(path))


def test_wire_load_as_opensta_estimates_it():
    """Length by fanout: interpolated between fanout_length points,
    extrapolated with the slope beyond the last (OpenSTA's Wireload)."""
    w = pw.WireLoad(0.0002, 10.9, ((1.0, 9.93), (5.0, 59.59), (20.0, 215.6)))
    assert w.cap(1) == pytest.approx(0.0002 * 9.93)
    assert w.cap(2) == pytest.approx(0.0002 * (9.93 + (59.59 - 9.93) / 4))
    assert w.cap(25) == pytest.approx(0.0002 * (215.6 + 5 * 10.9))


UNITS = """library (small) {
  time_unit : "1ps";
  capacitive_load_unit (1, ff);
  leakage_power_unit : "1pW";
  voltage_unit : "1V";
  nom_voltage : 0.7;
  default_wire_load : "w";
  wire_load ("w") { capacitance : 0.5; slope : 1; fanout_length (1, 2); fanout_length (3, 4); }
  power_lut_template (p) {
    variable_1 : input_transition_time;
    variable_2 : total_output_net_capacitance;
    index_1 ("10, 100");
    index_2 ("1, 10");
  }
  cell (inv) {
    leakage_power () { when : "A"; value : 40; }
    leakage_power () { when : "!A"; value : 60; }
    pin (A) { direction : input; capacitance : 0.6; }
    pin (Y) {
      direction : output;
      function : "!A";
      internal_power () {
        related_pin : "A";
        rise_power (p) { values ("1, 2", "3, 4"); }
        fall_power (p) { values ("1, 2", "3, 4"); }
      }
    }
  }
  cell (nand) {
    pin (A) { direction : input; capacitance : 0.6; }
    pin (B) { direction : input; capacitance : 0.6; }
    pin (Y) {
      direction : output;
      function : "!(A*B)";
      internal_power () { related_pin : "A"; rise_power (scalar) { values ("2"); }
                          fall_power (scalar) { values ("2"); } }
      internal_power () { related_pin : "B"; when : "A"; rise_power (scalar) { values ("4"); }
                          fall_power (scalar) { values ("4"); } }
      internal_power () { related_pin : "B"; when : "!A"; rise_power (scalar) { values ("8"); }
                          fall_power (scalar) { values ("8"); } }
    }
  }
}
"""


def test_library_units_are_converted(tmp_path):
    """A library in ps and fF (ASAP7's units) is read in ns, pF and pJ: a
    table's indices and energies scaled, the wire load in pF; leakage from
    state-dependent groups is their mean."""
    path = tmp_path / "small.lib"
    path.write_text(UNITS)
    lib = pw.load_library(str(path))
    assert lib.time_unit_ns == 1e-3 and lib.cap_unit_pf == 1e-3
    inv = lib.cells["inv"]
    assert inv.inputs["A"] == pytest.approx(0.6e-3)
    assert inv.leakage_mw == pytest.approx(50e-9)
    (g,) = inv.groups
    assert list(g.rise.slews) == pytest.approx([0.01, 0.1])
    assert list(g.rise.loads) == pytest.approx([1e-3, 10e-3])
    assert inv.output_energy("Y", 1e-3, 0.01) == pytest.approx(1e-3)      # 1 fJ
    assert lib.wire_cap(2) == pytest.approx(0.5e-3 * 3)


def test_state_dependent_groups_count_once_per_input(tmp_path):
    """An output's energy: per causing input its unconditional group, else
    the mean of its state-dependent ones; then the mean over the inputs."""
    path = tmp_path / "small.lib"
    path.write_text(UNITS)
    nand = pw.load_library(str(path)).cells["nand"]
    assert nand.output_energy("Y", 0.0, 0.0) == pytest.approx((2 + (4 + 8) / 2) / 2 * 1e-3)
