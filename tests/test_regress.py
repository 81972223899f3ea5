"""sim/regress.py: the stimulus plan, the parts of a shard and the merge of summaries."""

import json

import pytest

from ifmac.golden.config import Config
from ifmac.golden.errors import InputError
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
    paths = _shards(tmp_path, name, [(1, 2, [0]), (2, 2, [1])])
    assert regress.merge(paths) == 0
    out = capsys.readouterr().out
    assert name in out and " 200 " in out
    assert regress.merge(paths[:1]) == 1
    out = capsys.readouterr().out
    assert "incomplete: shard 2 of 2 missing" in out and "incomplete: " + name in out


def _shards(tmp_path, name, plan, seed=1, **change):
    """Summary files of shards (k, n, [parts]), one unit each part."""
    paths = []
    for k, n, parts in plan:
        units = [_unit(name, p, 2).__dict__ | change for p in parts]
        meta = {"shard": f"{k}/{n}", "beats_per_config": 100, "seed": seed,
                "backend": "verilator"}
        path = tmp_path / f"s{k}-{n}-{seed}.json"
        path.write_text(json.dumps({"meta": meta, "units": units}))
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("plans,message", [
    ([((1, 3, [0]),), ((2, 2, [1]),)], "shards of different runs: shards 2 against 3"),
    ([((1, 2, [0]),), ((2, 2, [1]),)], "shards of different runs: seed"),
    ([((1, 2, [0]),), ((1, 2, [1]),)], "are both shard 1/2"),
    ([((5, 2, [0]),)], "shard 5/2; expected K/N with 1 <= K <= N"),
])
def test_merge_refuses_inconsistent_shards(tmp_path, plans, message):
    """Shards of different plans or seeds, a shard twice, part 5 of 2: an error."""
    paths = []
    for seed, plan in enumerate(plans):
        paths += _shards(tmp_path, "ifmac_if4_fused_b16", plan, seed=1 + (seed if "seed"
                                                                             in message else 0))
    with pytest.raises(InputError, match=message):
        regress.merge(paths)


@pytest.mark.parametrize("change,message", [
    ({"beats": 0}, "has beats = 0; expected a positive count"),
    ({"mismatches": -5}, "has mismatches = -5; expected a non-negative number"),
    ({"mismatches": "2"}, "has mismatches = '2'; expected a value of type int"),
    ({"part": 3}, "is part 4 of 2"),
])
def test_merge_refuses_bad_units(tmp_path, change, message):
    """A unit that ran no beats, a negative or non-integer count: an error."""
    paths = _shards(tmp_path, "ifmac_if4_fused_b16", [(1, 1, [0])], **change)
    with pytest.raises(InputError, match=message):
        regress.merge(paths)
