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
