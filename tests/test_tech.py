"""ifmac/tech.py: one description per technology; a library given by path wins."""

import pytest

from ifmac.tech import DEFAULT_TECH, OSU018, TECHNOLOGIES, find_liberty, technology_of


def test_swaps_are_pairs_with_the_same_pins():
    """A mutant swaps a cell for its twin and back: the table is symmetric."""
    for tech in TECHNOLOGIES.values():
        assert all(tech.swaps[tech.swaps[c]] == c for c in tech.swaps)
        assert tech.driver[0] in tech.swaps and tech.load[0] in tech.swaps


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
