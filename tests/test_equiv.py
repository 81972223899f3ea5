"""formal/equiv.py: the and-inverter graph and the sides of a netlist proof."""

import json

import pytest

from ifmac.formal import equiv


def test_aig_gates_truth_tables():
    aig = equiv.Aig(2)
    a, b = aig.input(0), aig.input(1)
    outs = [aig.and_(a, b), aig.or_(a, b), aig.xor(a, b), aig.gate("$_NAND_", (a, b)),
            aig.gate("$_ANDNOT_", (a, b))]
    table = [aig.evaluate([x, y], outs) for x in (0, 1) for y in (0, 1)]
    assert table == [[0, 0, 0, 1, 0], [0, 1, 1, 1, 0], [0, 1, 1, 1, 1], [1, 1, 0, 0, 0]]
    assert aig.and_(a, b) == outs[0]                     # structurally hashed


def test_read_side_with_a_box(tmp_path):
    """An instance of another module is a box: its inputs compared, its outputs free."""
    path = tmp_path / "n.json"
    path.write_text(json.dumps({"modules": {
        "top": {"ports": {"a": {"direction": "input", "bits": [2]},
                          "y": {"direction": "output", "bits": [3]}},
                "netnames": {"a": {"bits": [2]}, "y": {"bits": [3]}},
                "cells": {"s": {"type": "sub", "connections": {"i": [2], "o": [3]}}}},
        "sub": {"ports": {"i": {"direction": "input", "bits": [2]},
                          "o": {"direction": "output", "bits": [3]}},
                "netnames": {}, "cells": {}}}}))
    side = equiv.read_side(path, "top")
    assert side.box_inputs == {"s.i": [2]} and side.box_outputs == {"s.o": [3]}
    assert side.inputs == {"a": [2]} and side.outputs == {"y": [3]}


def test_miter_of_different_shapes_is_an_error():
    gold = equiv.Side({}, {}, {"a": [2]}, {"y": [2]}, {"a": [2], "y": [2]})
    gate = equiv.Side({}, {}, {"a": [2], "b": [3]}, {"y": [2]}, {"a": [2], "y": [2]})
    with pytest.raises(ValueError):
        equiv.build_miter(gold, gate)


def _flop_netlist(tmp_path, reset_source):
    """A module with one reset flop ($_DFF_PP0_), its reset driven by NOT of
    `reset_source`: the constant "1" (tied inactive) or the input `r`."""
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"modules": {"top": {
        "ports": {"clk": {"direction": "input", "bits": [2]},
                  "d": {"direction": "input", "bits": [3]},
                  "r": {"direction": "input", "bits": [4]},
                  "q": {"direction": "output", "bits": [5]}},
        "netnames": {"clk": {"bits": [2]}, "d": {"bits": [3]}, "r": {"bits": [4]},
                     "q": {"bits": [5]}},
        "cells": {"n": {"type": "$_NOT_", "connections": {"A": [reset_source], "Y": [6]}},
                  "f": {"type": "$_DFF_PP0_",
                        "connections": {"C": [2], "D": [3], "R": [6], "Q": [5]}}}}}}))
    return path


def test_flop_with_its_reset_tied_inactive_is_a_plain_flop(tmp_path):
    """IHP SG13G2 has no flop without reset: the MAC's flops map to dfrbpq
    with RESET_B tied high, which reads as a $_DFF_PP0_ whose reset is NOT 1.
    That is a plain flop; one whose reset can be active is an error."""
    side = equiv.read_side(_flop_netlist(tmp_path, "1"), "top")
    assert side.flops == {5: 3}
    with pytest.raises(ValueError, match=r"f of top is a \$_DFF_PP0_ whose reset is not tied"):
        equiv.read_side(_flop_netlist(tmp_path, 4), "top")
