"""The `ifmac` command line: outputs, and one-line errors with exit code 2."""

import subprocess
import sys

import numpy as np
import pytest

from ifmac.cli import main
from ifmac.golden import Config, mac, quantize
from ifmac.golden.vectors import Beats


def run(argv, capsys):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_quantize_roundtrip(tmp_path, capsys):
    x = np.random.default_rng(0).standard_normal((8, 64)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    rc, out, _ = run(["quantize", str(tmp_path / "x.npy"), "--format", "if4", "--rule", "mae",
                      "-o", str(tmp_path / "q.npz")], capsys)
    assert rc == 0 and "if4 (mae, B=16): 512 elements, 32 blocks" in out
    d = np.load(tmp_path / "q.npz")
    q = quantize(x, "if4", "mae")
    assert np.array_equal(d["codes"], q.codes) and np.array_equal(d["scales"], q.scales)
    assert d["amax"] == q.amax and str(d["format"]) == "if4" and int(d["block_size"]) == 16


def test_quantize_mx_defaults_to_its_block_size(tmp_path, capsys):
    """An MX format quantizes in blocks of 32 unless told otherwise; a rule
    it does not have exits 2 naming both."""
    x = np.random.default_rng(1).standard_normal((4, 64)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    rc, out, _ = run(["quantize", str(tmp_path / "x.npy"), "-f", "mxfp4", "-r", "static_4",
                      "-o", str(tmp_path / "q.npz")], capsys)
    assert rc == 0 and "mxfp4 (static_4, B=32): 256 elements, 8 blocks, amax 1" in out
    q = quantize(x, "mxfp4", "static_4", 32)
    d = np.load(tmp_path / "q.npz")
    assert np.array_equal(d["codes"], q.codes) and np.array_equal(d["scales"], q.scales)
    rc, _, err = run(["quantize", str(tmp_path / "x.npy"), "-f", "mxfp4", "-r", "mse",
                      "-o", str(tmp_path / "q.npz")], capsys)
    assert rc == 2 and "rule 'mse' does not apply to format mxfp4; expected static_6 or " \
        "static_4" in err


def test_accuracy_without_synthesis(tmp_path, capsys):
    """`accuracy` measures every rule and arch; with no area.json the cost
    columns are "-" with the reason, never a made-up figure."""
    rc, out, _ = run(["accuracy", "-f", "if4", "-f", "mxfp4", "--rows", "2", "--k", "256",
                      "--synth", str(tmp_path / "none"), "-o", str(tmp_path)], capsys)
    assert rc == 0 and "area.json not found" in out
    md = (tmp_path / "decision.md").read_text()
    assert "| if4 | fused | scale | 16 | mse |" in md and "| if4 | exact | deferred | 16 | mse |" \
        in md and "| mxfp4 | lane | scale | 32 | static_6 |" in md
    assert "no synthesis record (run `make synth`)" in md and "| mxfp4 | static_4 |" in md
    import json
    rows = json.loads((tmp_path / "decision.json").read_text())["rows"]
    # if4: 3 rules x (lane, fused, exact, fused and exact deferred); mxfp4: 2 x 2.
    assert len(rows) == 3 * 5 + 2 * 2 and all(r["area_per_pair"] is None for r in rows)
    assert not (tmp_path / "decision.png").exists()
    rc, _, err = run(["accuracy", "--k", "100", "-o", str(tmp_path)], capsys)
    assert rc == 2 and "--k 100; expected a multiple of 32" in err


def test_vectors_npz_and_hex(tmp_path, capsys):
    rc, out, _ = run(["vectors", "-f", "if6_e3m2", "-a", "fused", "-b", "8", "-n", "300",
                      "-s", "4", "-o", str(tmp_path / "v.npz"), "--hex", str(tmp_path / "hex")],
                     capsys)
    assert rc == 0
    d = np.load(tmp_path / "v.npz")
    assert d["a"].shape == (300, 8) and d["a"].dtype == np.uint8
    assert d["a_scale"].shape == (300,) and d["last"].dtype == bool and d["last"][-1]
    assert d["result"].dtype == np.uint32 and len(d["result"]) == d["last"].sum()
    # The expected results are the golden model's for the stored beats.
    c = Config.make("if6_e3m2", "fused", 8)
    ref = mac(c, Beats(c, d["a"], d["a_scale"], d["w"], d["w_scale"], d["last"]))
    assert np.array_equal(d["result"], ref)
    # Hex: element i at bits [6i +: 6] of each a line; results one per line.
    a_lines = (tmp_path / "hex" / "a.hex").read_text().split()
    assert len(a_lines) == 300 and len(a_lines[0]) == 12
    v = int(a_lines[7], 16)
    assert [(v >> (6 * i)) & 63 for i in range(8)] == d["a"][7].tolist()
    res = [int(s, 16) for s in (tmp_path / "hex" / "result.hex").read_text().split()]
    assert res == d["result"].tolist()
    assert "layout of the MAC's `a` and `w` input ports" in (tmp_path / "hex" / "README.txt").read_text()


def test_vectors_mix_flags_and_corners(tmp_path, capsys):
    """Random vectors cover every INT/FP flag pair and the corner scales."""
    run(["vectors", "-f", "if4", "-a", "lane", "-n", "4000", "-o", str(tmp_path / "v.npz")], capsys)
    d = np.load(tmp_path / "v.npz")
    pairs = set(zip(d["a_scale"] >> 7, d["w_scale"] >> 7))
    assert pairs == {(0, 0), (0, 1), (1, 0), (1, 1)}
    payloads = set((d["a_scale"] & 0x7F).tolist())
    assert {0x00, 0x01, 0x7E, 0x7F} <= payloads
    lengths = np.diff(np.r_[-1, np.flatnonzero(d["last"])])
    assert lengths.min() == 1 and lengths.max() > 64


@pytest.mark.parametrize("argv,message", [
    (["vectors", "-f", "if5", "-a", "lane", "-o", "x.npz"], "invalid choice: 'if5'"),
    (["vectors", "-f", "if4", "-a", "tree", "-o", "x.npz"], "invalid choice: 'tree'"),
    (["vectors", "-f", "if4", "-a", "lane", "-b", "12", "-o", "x.npz"],
     "block_size must be one of 8, 16, 32, not 12"),
    (["vectors", "-f", "if4", "-a", "lane", "-n", "0", "-o", "x.npz"],
     "expected a positive integer, not 0"),
    (["quantize", "x.npy", "-f", "if4", "--rule", "l2", "-o", "q.npz"], "invalid choice: 'l2'"),
])
def test_bad_arguments_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("content,message", [
    (np.ones((3, 10), np.float32), "last dimension of shape (3, 10) is 10, not a positive multiple"),
    (np.array([[np.nan] + [1.0] * 15], np.float32), "input has NaN at index (0, 0)"),
    (np.array([[1.0] * 15 + [np.inf]], np.float32), "input has Inf at index (0, 15)"),
])
def test_bad_tensor_exit_2(tmp_path, capsys, content, message):
    np.save(tmp_path / "x.npy", content)
    rc, out, err = run(["quantize", str(tmp_path / "x.npy"), "-f", "if4", "-o",
                        str(tmp_path / "q.npz")], capsys)
    assert rc == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_rule_that_does_not_apply_exit_2(tmp_path, capsys):
    """`--rule mse` on nvfp3 (four-over-six is nvfp4's) is refused, not ignored."""
    np.save(tmp_path / "x.npy", np.ones((2, 16), np.float32))
    rc, _, err = run(["quantize", str(tmp_path / "x.npy"), "-f", "nvfp3", "--rule", "mse",
                      "-o", str(tmp_path / "q.npz")], capsys)
    assert rc == 2 and "rule 'mse' does not apply to format nvfp3; expected static_6" in err
    assert not (tmp_path / "q.npz").exists()


def test_missing_file_exit_2(tmp_path, capsys):
    rc, _, err = run(["quantize", str(tmp_path / "nope.npy"), "-f", "if4", "-o",
                      str(tmp_path / "q.npz")], capsys)
    assert rc == 2 and "cannot read" in err and "nope.npy" in err


def test_console_script_no_traceback(tmp_path):
    """The installed `ifmac` entry point: one line on stderr, exit 2."""
    np.save(tmp_path / "x.npy", np.ones((2, 7), np.float32))
    p = subprocess.run([sys.executable, "-m", "ifmac", "quantize", str(tmp_path / "x.npy"),
                        "-f", "nvfp4", "-o", str(tmp_path / "q.npz")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.startswith("ifmac quantize: error: last dimension")


def test_run_native_and_amaranth(tmp_path, capsys):
    """`ifmac run` on a user's .npz: observed arrays written, verdict printed;
    the native and Amaranth backends observe the same."""
    run(["vectors", "-f", "if3", "-a", "fused", "-b", "8", "-n", "300", "-s", "2",
         "-o", str(tmp_path / "v.npz")], capsys)
    outs = {}
    for sim in ("verilator", "amaranth"):
        rc, out, _ = run(["run", "-f", "if3", "-a", "fused", "-b", "8", "--vectors",
                          str(tmp_path / "v.npz"), "-o", str(tmp_path / f"{sim}.npz"),
                          "--simulator", sim], capsys)
        assert rc == 0 and f"on {sim}: 300 beats" in out and "match the golden model" in out
        outs[sim] = np.load(tmp_path / f"{sim}.npz")
    d = np.load(tmp_path / "v.npz")
    assert np.array_equal(outs["verilator"]["result"], d["result"])
    for k in ("result", "cycle", "status"):
        assert np.array_equal(outs["verilator"][k], outs["amaranth"][k])


def test_testbench_command(tmp_path, capsys):
    rc, out, _ = run(["testbench", "-f", "nvfp4", "-a", "lane", "-b", "8", "--beats", "200",
                      "--gap", "0.2", "--reset", "50", "-o", str(tmp_path / "tb")], capsys)
    assert rc == 0 and "ifmac_nvfp4_lane_b8: 200 beats" in out
    tb = (tmp_path / "tb" / "tb.sv").read_text()
    assert "module tb;" in tb and "$fatal" in tb and "import \"DPI" not in tb
    cycles = (tmp_path / "tb" / "cycles.hex").read_text().split()
    flags = [int(c, 16) >> (2 * 32 + 16) for c in cycles]
    assert sum(f & 1 for f in flags) == 200 and flags[50] & 4


@pytest.mark.parametrize("argv,message", [
    (["sim", "--shard", "3/2"], "expected K/N with 1 <= K <= N, not '3/2'"),
    (["sim", "--shard", "x"], "expected K/N with integers, not 'x'"),
    (["run", "-f", "if4", "-a", "lane", "-o", "o.npz"],
     "one of the arguments --vectors --beats/-n is required"),
    (["run", "-f", "if4", "-a", "lane", "-n", "5", "--simulator", "xsim", "-o", "o.npz"],
     "invalid choice: 'xsim'"),
    (["testbench", "-f", "if4", "-a", "lane", "-n", "5", "--gap", "1.5", "-o", "d"],
     "expected a number from 0 to below 1, not 1.5"),
    (["run", "-f", "mxfp4", "-a", "exact", "-n", "5", "-o", "o.npz"],
     "arch exact: mxfp4 has E8M0 scales"),
    (["run", "-f", "if4", "-a", "exact", "-k", "2", "-n", "5", "-o", "o.npz"],
     "arch exact: interleave must be 1, not 2"),
])
def test_bad_simulation_arguments_exit_2(argv, message, capsys):
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    assert code == 2 and message in capsys.readouterr().err


def test_merge_bad_summary_exit_2(tmp_path, capsys):
    (tmp_path / "s.json").write_text("{}")
    rc, _, err = run(["merge", str(tmp_path / "s.json")], capsys)
    assert rc == 2 and "is not an `ifmac sim` summary" in err


def test_internal_error_keeps_its_traceback(monkeypatch, tmp_path):
    """Only InputError is a usage error; any other ValueError is a bug and
    propagates with its traceback."""
    from ifmac.golden import codec

    def broken(*args, **kwargs):
        raise ValueError("internal invariant broken")
    monkeypatch.setattr(codec, "quantize", broken)
    np.save(tmp_path / "x.npy", np.ones((2, 16), np.float32))
    with pytest.raises(ValueError, match="internal invariant broken"):
        main(["quantize", str(tmp_path / "x.npy"), "-f", "if4", "-o", str(tmp_path / "q.npz")])


def test_every_option_says_its_default():
    """Every option of every command says what it takes and its default (or
    is required, alone or as one of a required group)."""
    import argparse
    from ifmac.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        required_groups = {id(a) for g in p._mutually_exclusive_groups if g.required
                           for a in g._group_actions}
        for a in p._actions:
            if (not a.option_strings or a.required or id(a) in required_groups
                    or isinstance(a, (argparse._HelpAction, argparse._StoreTrueAction))):
                continue
            assert a.help and "default" in a.help, (name, a.option_strings)
            if a.choices is not None and a.metavar is not None:
                assert all(str(c) in a.help for c in a.choices), (name, a.option_strings)


# --------------------------------------------------------------------------
# Trust at the edges (issue 31)
# --------------------------------------------------------------------------

def _all_rules():
    from ifmac.golden.codec import rules_for
    from ifmac.golden.formats import FORMAT_NAMES
    return [(f, r) for f in FORMAT_NAMES for r in rules_for(f)]


@pytest.mark.parametrize("fmt,rule", _all_rules())
def test_dequantize_round_trips_every_format_and_rule(tmp_path, capsys, fmt, rule):
    """`ifmac dequantize` of what `ifmac quantize` wrote gives the golden
    dequantize of the same codes: the file's own format, block size and rule
    decode it (nvfp4 static_4 read as static_6 would be 2/3 of its values)."""
    from ifmac.golden import dequantize
    x = np.random.default_rng(5).standard_t(4, (8, 64)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert main(["quantize", str(tmp_path / "x.npy"), "-f", fmt, "-r", rule,
                 "-o", str(tmp_path / "q")]) == 0
    rc, out, _ = run(["dequantize", str(tmp_path / "q.npz"), "-o", str(tmp_path / "y")], capsys)
    assert rc == 0 and out.rstrip().endswith(f"-> {tmp_path / 'y.npy'}")
    got = np.load(tmp_path / "y.npy")
    assert got.dtype == np.float32
    assert np.array_equal(got, dequantize(quantize(x, fmt, rule)), equal_nan=True)


def test_dequantize_bad_files_exit_2(tmp_path, capsys):
    x = np.ones((2, 16), np.float32)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "old.npz", codes=np.zeros((2, 16), np.uint8),
             scales=np.zeros((2, 1), np.uint8), amax=np.float32(1))
    for path, message in ((tmp_path / "x.npy", "holds one array"),
                          (tmp_path / "old.npz", "lacks format, block_size, rule"),
                          (tmp_path / "none.npz", "cannot read")):
        rc, _, err = run(["dequantize", str(path), "-o", str(tmp_path / "y.npy")], capsys)
        assert rc == 2 and message in err and err.count("\n") == 1, err


def test_outputs_are_named_as_written(tmp_path, capsys):
    """-o without the suffix: NumPy adds it, and the printed path says so."""
    rc, out, _ = run(["vectors", "-f", "if4", "-a", "fused", "-n", "50",
                      "-o", str(tmp_path / "adir")], capsys)
    assert rc == 0 and out.rstrip().endswith(f"-> {tmp_path / 'adir.npz'}")
    assert (tmp_path / "adir.npz").exists()


def _vectors(tmp_path, capsys, *options):
    rc, _, _ = run(["vectors", *options, "-n", "300", "-o", str(tmp_path / "v.npz")], capsys)
    assert rc == 0
    return str(tmp_path / "v.npz")


@pytest.mark.parametrize("command", ["run", "testbench"])
def test_vectors_of_another_configuration_exit_2(tmp_path, capsys, command):
    """nvfp4 lane vectors under -f if4 -a fused are an error naming what the
    file holds (the scale bytes would mean other values), unless --ignore-meta."""
    v = _vectors(tmp_path, capsys, "-f", "nvfp4", "-a", "lane")
    out = ["-o", str(tmp_path / ("o.npz" if command == "run" else "tb"))]
    rc, _, err = run([command, "-f", "if4", "-a", "fused", "--vectors", v, *out], capsys)
    assert rc == 2 and "holds vectors for format nvfp4 (the MAC: if4), arch lane (the MAC: " \
        "fused)" in err and "--ignore-meta" in err
    rc, _, err = run([command, "-f", "nvfp4", "-a", "fused", "--vectors", v, *out], capsys)
    assert rc == 2 and "arch lane (the MAC: fused)" in err
    rc, _, err = run([command, "-f", "if4", "-a", "fused", "--vectors", v, "--ignore-meta",
                      *out], capsys)
    assert rc == 0, err


def test_vectors_that_cannot_run_exit_2(tmp_path, capsys):
    """A truncated .npz, a .npy, no `last` at all, no beats: one line, exit 2."""
    v = _vectors(tmp_path, capsys, "-f", "if4", "-a", "fused")
    from pathlib import Path
    data = Path(v).read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    np.save(tmp_path / "a.npy", np.zeros((4, 16), np.uint8))
    d = dict(np.load(v))
    np.savez(tmp_path / "nolast.npz", **(d | {"last": np.zeros_like(d["last"])}))
    np.savez(tmp_path / "empty.npz", **{k: d[k][:0] for k in ("a", "a_scale", "w", "w_scale",
                                                               "last")})
    for name, message in (("cut.npz", "cannot read"), ("a.npy", "holds one array"),
                          ("nolast.npz", "`last` is never set"), ("empty.npz", "holds no beats")):
        for command, out in (("run", "o.npz"), ("testbench", "tb")):
            rc, _, err = run([command, "-f", "if4", "-a", "fused", "--vectors",
                              str(tmp_path / name), "-o", str(tmp_path / out)], capsys)
            assert rc == 2 and message in err and err.count("\n") == 1, (command, name, err)


def test_trailing_beats_and_late_resets_are_said(tmp_path, capsys):
    """Beats after the final `last` are named; a reset past the end is an error."""
    v = _vectors(tmp_path, capsys, "-f", "if4", "-a", "fused")
    d = dict(np.load(v))
    last = d["last"].copy()
    last[-3:] = False
    last[-4] = True
    np.savez(tmp_path / "tail.npz", **(d | {"last": last}))
    rc, out, _ = run(["run", "-f", "if4", "-a", "fused", "--vectors", str(tmp_path / "tail.npz"),
                      "-o", str(tmp_path / "o.npz")], capsys)
    assert rc == 0 and "the last 3 beats come after the final `last`" in out
    rc, _, err = run(["run", "-f", "if4", "-a", "fused", "--beats", "100", "--reset", "5000",
                      "-o", str(tmp_path / "o.npz")], capsys)
    assert rc == 2 and "--reset 5000 is past the stimulus's last cycle" in err


def test_sim_filters_select(capsys):
    """--arch, -k, -b, -g select among `make sim`'s configurations (they do
    not rewrite every one of them); a selection of none says so."""
    import argparse
    from ifmac.cli import _selected
    from ifmac.sim.regress import SIM_CONFIGS

    def select(**given):
        args = argparse.Namespace(**({"format": None, "arch": None, "group": None,
                                      "block_size": None, "interleave": None,
                                      "pipeline": None, "expansion": None} | given))
        return _selected(SIM_CONFIGS, args)
    fused = select(arch="fused")
    assert fused and all(c.arch == "fused" for c in fused) and len(fused) < len(SIM_CONFIGS)
    assert Config.make("if4", "fused", 16, 2, 4) in fused
    assert [c.interleave for c in select(interleave=4)] == [4, 4]
    assert {c.block_size for c in select(block_size=8)} == {8}
    assert {c.group for c in select(group=16)} == {16}
    assert select(pipeline="max", format="if4") == [Config.make("if4", "lane", 16, "max"),
                                                    Config.make("if4", "g4", 16, "max", 2)]
    deferred = select(expansion="deferred", format="if4")
    assert deferred and {(c.expansion, c.format.name) for c in deferred} == {("deferred", "if4")}
    assert {c.block_size for c in deferred} == {8, 16, 32}
    exact = select(arch="exact")
    assert len(exact) == 19 and all(c.exact for c in exact)
    assert select(arch="exact", expansion="deferred", format="if4") == [
        Config.make("if4", "exact", 16, expansion="deferred")]
    with pytest.raises(ValueError, match="--format if3 --block-size 8 selects none of the 83"):
        select(format="if3", block_size=8)
    rc, _, err = run(["sim", "-f", "if3", "-b", "8"], capsys)
    assert rc == 2 and "selects none" in err


def test_sim_says_how_many_beats_it_runs(tmp_path, capsys):
    """--beats is a floor: the directed suites run in full, and the header says so."""
    rc, out, _ = run(["sim", "-f", "nvfp3", "-a", "fused", "-b", "16", "-n", "1000", "-j", "1",
                      "--summary", str(tmp_path / "s.json")], capsys)
    import json
    beats = json.loads((tmp_path / "s.json").read_text())["units"][0]["beats"]
    assert rc == 0 and "1,000 beats each or more" in out and beats > 1000


def test_merge_inconsistent_shards_exit_2(tmp_path, capsys):
    """A mismatch count that is a string, or shards of two runs: exit 2."""
    import json
    unit = {"config": "ifmac_if4_fused_b16", "part": 0, "parts": 1, "beats": 10,
            "segments": 3, "mismatches": "2", "beats_per_second": 1.0, "latency": 2,
            "build_seconds": 0.0, "build_cached": True, "seconds": 1.0,
            "backend": "verilator", "first_error": None, "waveform": None}
    meta = {"shard": "1/1", "beats_per_config": 10, "seed": 1, "backend": "verilator"}
    (tmp_path / "s.json").write_text(json.dumps({"meta": meta, "units": [unit]}))
    rc, _, err = run(["merge", str(tmp_path / "s.json")], capsys)
    assert rc == 2 and "mismatches = '2'" in err and "Traceback" not in err


def test_synth_expansion_sets_the_if_formats_mode():
    """synth's --expansion sets the mode of the IF configurations it
    selects; a format without INT expansion keeps its own."""
    import argparse
    from ifmac.cli import _selected
    from ifmac.synth.plan import DEFAULT_SYNTH_CONFIGS
    args = argparse.Namespace(format=None, arch="fused", group=None, block_size=None,
                              interleave=None, pipeline=None, expansion="deferred")
    chosen = _selected(DEFAULT_SYNTH_CONFIGS, args,
                       modifiers=("--block-size", "--pipeline", "--interleave", "--expansion"))
    assert {c.name for c in chosen if c.format.adaptive} == {
        f"ifmac_{f}_fused_b16_deferred" for f in ("if4", "if3", "if6_e2m3", "if6_e3m2")}
    assert Config.make("nvfp4", "fused") in chosen
