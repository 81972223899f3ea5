"""ifmac/tech.py: one description per technology; a library given by path wins."""

import pytest

from ifmac.tech import (ASAP7, DEFAULT_TECH, IHP_SG13G2, OSU018, TECHNOLOGIES, find_liberty,
                        merge_liberty, technology_of)


def test_swaps_are_pairs():
    """A mutant swaps a cell for its twin and back: the table is symmetric."""
    for tech in TECHNOLOGIES.values():
        assert all(tech.swaps[tech.swaps[c]] == c for c in tech.swaps)


def test_default_is_ihp():
    assert DEFAULT_TECH is IHP_SG13G2 and ASAP7.predictive
    assert "predictive" in ASAP7.label and "predictive" not in IHP_SG13G2.label


@pytest.mark.parametrize("tech", [t for t in TECHNOLOGIES.values() if t.vendored],
                         ids=lambda t: t.name)
def test_vendored_technology_matches_its_library(tech, tmp_path):
    """Every cell a vendored technology names exists in its library, a
    swapped pair has the same pins, the left-out cells are gone, and the
    power model reads the library's units."""
    import fnmatch
    from ifmac.synth.power import load_library
    path, how = find_liberty(tech=tech, cache=tmp_path)
    assert path is not None, how
    lib = load_library(str(path))
    assert lib.tech is tech
    named = {tech.driver[0], tech.load[0], *tech.swaps}
    assert named <= set(lib.cells), named - set(lib.cells)
    for a, b in tech.swaps.items():
        ca, cb = lib.cells[a], lib.cells[b]
        assert (set(ca.inputs), set(ca.outputs)) == (set(cb.inputs), set(cb.outputs)), (a, b)
    assert not [c for c in lib.cells for p in tech.dont_use if fnmatch.fnmatchcase(c, p)]
    # Every function and state the power check replays parses.
    from ifmac.synth.opensta_power import parse_function
    for cell in lib.cells.values():
        for text in [*filter(None, cell.outputs.values()), *(g.when for g in cell.groups)]:
            if text:
                parse_function(text)
    inv = lib.cells[tech.driver[0]]
    # An inverter's input is a few fF and a toggle costs a fraction of a pJ.
    assert 1e-4 < inv.inputs[tech.load[1]] < 0.01
    assert 0 < inv.output_energy(tech.driver[1], 0.005, 0.05) < 0.05


def test_merge_liberty():
    """Libraries merged: the first's header, the others' missing templates,
    every cell but the left-out ones; other units or a clashing template
    are refused."""
    a = ("library (a) {\n  time_unit : \"1ns\";\n  lu_table_template (t1) { variable_1 : x; }\n"
         "  cell (INV) { area : 1; }\n  cell (BUF) { area : 2; }\n}\n")
    b = ("library (b) {\n  time_unit : \"1ns\";\n  lu_table_template (t1) { variable_1 : x; }\n"
         "  lu_table_template (t2) { variable_1 : y; }\n  cell (DFF) { area : 3; /* } */ }\n}\n")
    text = merge_liberty([a, b], dont_use=("BUF",))
    assert text.startswith("library (a) {") and text.count("lu_table_template (t1)") == 1
    assert "lu_table_template (t2)" in text and "cell (DFF)" in text and "cell (BUF)" not in text
    assert text.index("t2") < text.index("cell (INV)")
    with pytest.raises(ValueError, match="other units"):
        merge_liberty([a, b.replace("1ns", "1ps")])
    with pytest.raises(ValueError, match="lu_table_template t1 differs"):
        merge_liberty([a, b.replace("variable_1 : x", "variable_1 : z")])


def test_technology_of_a_library():
    assert technology_of("/x/osu018_stdcells.lib") is OSU018
    assert technology_of("/x/my_cells.lib") is DEFAULT_TECH


def test_given_library_wins(tmp_path, monkeypatch):
    lib = tmp_path / "mine.lib"
    lib.write_text("library (mine) { }\n")
    monkeypatch.setenv("LIBERTY", str(lib))
    path, how = find_liberty()
    assert path == lib.resolve() and how == f"Liberty library {lib.resolve()}"
    monkeypatch.setenv("LIBERTY", str(tmp_path / "nope.lib"))
    with pytest.raises(ValueError, match="nope.lib' does not exist; expected LIBERTY=path"):
        find_liberty()


def test_cell_models_from_the_liberty(tmp_path):
    """A library with no Verilog models of its own gets models that Yosys
    builds from each cell's function and ff group."""
    from ifmac.tech import liberty_models
    lib = tmp_path / "toy.lib"
    lib.write_text("""library (toy) {
  cell (inv) { pin (A) { direction : input; } pin (Y) { direction : output; function : "!A"; } }
  cell (dff) {
    ff (IQ, IQN) { next_state : "D"; clocked_on : "CK"; }
    pin (D) { direction : input; } pin (CK) { direction : input; clock : true; }
    pin (Q) { direction : output; function : "IQ"; }
  }
}
""")
    path, how = liberty_models(lib, tmp_path / "cache")
    text = path.read_text()
    assert "module inv(A, Y)" in text and "module dff(" in text and "posedge CK" in text
    assert "built from toy.lib by Yosys" in how
    assert liberty_models(lib, tmp_path / "cache")[0] == path         # built once


def test_name_power_pin():
    """sky130's internal_power groups name no supply pin (OpenSTA 2.0.17
    then counts none of their energy): each is made to name one, once."""
    from ifmac.tech import name_power_pin
    text = "cell (x) { pin (Y) { internal_power () { rise_power (s) { values (\"1\"); } } } }"
    named = name_power_pin(text, "VPWR")
    assert named.count('related_pg_pin : "VPWR";') == 1
    with pytest.raises(ValueError, match="name their supply pins already"):
        name_power_pin(named, "VPWR")
