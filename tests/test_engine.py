"""ifmac/engine.py and ifmac/tools.py: the shared pool, tables and tool verdicts."""

from ifmac.engine import progress_prefix, run_units, table, write_json
from ifmac.tools import Verdict, abc_verdict


def test_table():
    assert table(["a", "b"], [["1", "2"], ["3", "4"]]) == [
        "| a | b |", "|---|---|", "| 1 | 2 |", "| 3 | 4 |"]


def test_run_units_prints_a_line_per_unit(capsys):
    records = run_units(lambda x: x * x, [1, 2, 3], 2,
                        lambda k, n, r: f"{progress_prefix(k, n)} {r}", threads=True)
    assert sorted(records) == [1, 4, 9]
    lines = capsys.readouterr().out.splitlines()
    assert [ln[:6] for ln in lines] == ["[ 1/3]", "[ 2/3]", "[ 3/3]"]


def test_write_json(tmp_path):
    path = write_json(tmp_path / "x" / "s.json", {"a": [1]})
    assert path.read_text() == '{\n "a": [\n  1\n ]\n}\n'


def test_abc_verdicts():
    """The last verdict ABC printed; ERROR when it printed none."""
    assert abc_verdict("x\nUNSATISFIABLE after 2 s\n") == Verdict.PASS
    assert abc_verdict("Networks are equivalent.\n") == Verdict.PASS
    assert abc_verdict("SATISFIABLE\nNetworks are not equivalent.\n") == Verdict.FAIL
    assert abc_verdict("UNDECIDED\n") == Verdict.UNDECIDED
    assert abc_verdict("Error: cannot read\n") == Verdict.ERROR
