"""sim/regress.py: the stimulus plan, the parts of a shard and the merge of summaries."""

import json

from ifmac.golden.config import Config
from ifmac.sim import regress
from ifmac.sim.regress import UnitResult


def test_stimuli_carry_their_configuration():
    """Every chunk is a stream of the configuration's format and block size,
    and the chunks add up to the beats asked for (at least)."""
    c = Config.make("nvfp4", "lane", 8)
    chunks = list(regress.stimuli(c, beats=60_000, seed=3, sweeps=False))
    assert all(s.config.same_stream(c) for s in chunks)
    assert sum(len(s.beats) for s in chunks) >= 60_000


def test_parts_are_disjoint_and_complete():
    c = Config.make("if4", "fused", 8)
    whole = [len(s.beats) for s in regress.stimuli(c, 600_000, 1, sweeps=False)]
    parts = [[len(s.beats) for s in regress.stimuli(c, 600_000, 1, False, p, 2)]
             for p in range(2)]
    assert sorted(parts[0] + parts[1]) == sorted(whole) and parts[1]


def _unit(config, part, parts, mismatches=0):
    return UnitResult(config, part, parts, 100, 10, mismatches, 50.0, 2, 1.0, False, 2.0,
                      "verilator", None, None)


def test_merge_adds_parts_and_finds_missing_ones(tmp_path, capsys):
    """Shard summaries merge into one row per configuration; a missing part
    or a mismatch is exit status 1."""
    name = Config.make("if4", "fused", 16).name
    for k, units in enumerate([[_unit(name, 0, 2)], [_unit(name, 1, 2)]]):
        (tmp_path / f"s{k}.json").write_text(json.dumps(
            {"meta": {}, "units": [u.__dict__ for u in units]}))
    assert regress.merge([str(tmp_path / "s0.json"), str(tmp_path / "s1.json")]) == 0
    out = capsys.readouterr().out
    assert name in out and " 200 " in out
    assert regress.merge([str(tmp_path / "s0.json")]) == 1
    assert "incomplete: " + name in capsys.readouterr().out
