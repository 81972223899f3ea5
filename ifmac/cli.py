"""The `ifmac` command line.

Every subcommand validates its arguments up front; a bad value (argparse's
checks, or an `InputError` from ifmac) is one line on stderr naming it and
what was expected, and exit code 2 (argparse's own convention for usage
errors). Any other exception is a bug in ifmac and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from ifmac.golden import formats
from ifmac.golden.errors import InputError

EXIT_USAGE = 2


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {v}")
    return v


def _nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, not {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, not {v}")
    return v


def _probability(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, not {text!r}") from None
    if not 0.0 <= v < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to below 1, not {v}")
    return v


def _block_size(text: str) -> int:
    try:
        return formats.check_block_size(int(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_config(p, required: bool, pipeline: bool = True):
    """--arch or --group, --interleave and (for designs) --pipeline."""
    from ifmac.golden.config import ARCH_NAMES, INTERLEAVES
    which = p.add_mutually_exclusive_group(required=required)
    every = "" if required else " (default: as the command plans them)"
    which.add_argument("--arch", "-a", choices=ARCH_NAMES, metavar="A",
                       help=f"one of: {', '.join(ARCH_NAMES)} (group size 1 or B; exact: "
                            f"fixed-point accumulator, one rounding per segment){every}")
    which.add_argument("--group", "-g", type=_positive_int, metavar="G",
                       help="group size G dividing B: G products share one multiply by S "
                            f"and one accumulator (1 = lane, B = fused){every}")
    p.add_argument("--interleave", "-k", type=int, choices=INTERLEAVES,
                   default=None if not required else 1, metavar="K",
                   help="partial accumulators per group, used round-robin, so the "
                        "accumulation add may take K cycles: 1, 2 or 4 (default "
                        + ("1)" if required else "as the command plans them)"))
    from ifmac.golden.config import Expansion
    p.add_argument("--expansion", "-e", choices=tuple(Expansion), metavar="E",
                   default=None if not required else "scale",
                   help="where an IF format's INT expansion C enters: scale (the paper's: S "
                        "times C rounded to binary32) or deferred (S times an integer class "
                        "weight, exact; the result in units of 1/d^2, C = n/d) "
                        + ("(default scale)" if required else
                           "(default: as the command plans them)"))
    if pipeline:
        p.add_argument("--pipeline", "-p", default=None if not required else "0",
                       metavar="SPEC",
                       help="register cuts: a number of cuts (0: none beyond the "
                            "accumulator's input), max, or names from decode, product, "
                            "scale, group, multiply, accumulate, tree:L, comma-separated "
                            + ("(default 0)" if required else
                               "(default: as the command plans them)"))


def _config(args):
    """The Config that --format, --arch/--group, --block-size, --pipeline and
    --interleave name."""
    from ifmac.golden.config import Config
    return Config.make(args.format, args.group or args.arch, args.block_size,
                       getattr(args, "pipeline", 0), args.interleave, args.expansion)


def _output(path: str, suffix: str) -> str:
    """The file NumPy writes for `path` (np.save and np.savez add their
    suffix when it is missing), so that what is printed is what exists."""
    return path if path.endswith(suffix) else path + suffix


def _filters(args) -> dict:
    """The options given on a many-configuration command: name -> value."""
    given = {"--format": args.format, "--arch": args.arch, "--group": args.group,
             "--block-size": args.block_size, "--interleave": args.interleave,
             "--pipeline": getattr(args, "pipeline", None),
             "--expansion": getattr(args, "expansion", None)}
    return {k: v for k, v in given.items() if v is not None}


def _matches(c, option: str, value) -> bool:
    """Whether configuration `c` is what `option value` names."""
    from ifmac.golden.config import Config
    if option == "--format":
        return c.format.name == value
    if option == "--arch":
        return c.arch == value
    if option == "--group":
        return c.group == value
    if option == "--block-size":
        return c.block_size == value
    if option == "--interleave":
        return c.interleave == value
    if option == "--expansion":
        return c.expansion == value
    try:                                    # --pipeline, as this configuration resolves it
        return Config.make(c.format, c.arch, c.block_size, value, c.interleave,
                           c.expansion) == c
    except InputError:
        return False


def _selected(configs, args, modifiers=()) -> list:
    """The configurations of a many-configuration command that the options
    select; the options in `modifiers` instead set that parameter on every
    selected configuration (duplicates dropped, order kept). A selection
    that matches nothing is an error naming what the plan has."""
    given = _filters(args)
    chosen = [c for c in configs
              if all(_matches(c, o, v) for o, v in given.items() if o not in modifiers)]
    if not chosen:
        said = " ".join(f"{o} {v}" for o, v in given.items() if o not in modifiers)
        raise InputError(f"{said} selects none of the {len(configs)} configurations this "
                         f"command runs; they are: {', '.join(c.name for c in configs)}")
    names = {"--block-size": "block_size", "--interleave": "interleave",
             "--pipeline": "pipeline", "--expansion": "expansion"}
    changes = {names[o]: v for o, v in given.items() if o in modifiers}

    def changed(c):
        # An expansion mode is the IF formats' only: the others keep theirs.
        own = {k: v for k, v in changes.items() if k != "expansion" or c.format.adaptive}
        return c.replace(**own) if own else c
    return list(dict.fromkeys(changed(c) for c in chosen))


def _add_format(p, *, arch: bool = False, block: bool = True, pipeline: bool = True):
    p.add_argument("--format", "-f", required=True, choices=formats.FORMAT_NAMES,
                   metavar="F", help=f"one of: {', '.join(formats.FORMAT_NAMES)}")
    if arch:
        _add_config(p, required=True, pipeline=pipeline)
    if block:
        p.add_argument("--block-size", "-b", type=_block_size, metavar="B",
                       help="elements per block: 8, 16 or 32 (default: the format's own, "
                            "32 for MX formats, 16 for the others)")
        p.set_defaults(_format_block_size=True)


def _add_selection(p, config: bool = True):
    """The optional filters of the commands that run many configurations
    (sim, synth, formal), and their number of parallel jobs."""
    from ifmac.golden.config import ARCH_NAMES
    from ifmac.golden.codec import usable_cpus
    from ifmac.golden.formats import BLOCK_SIZES
    p.add_argument("--format", "-f", choices=formats.FORMAT_NAMES, metavar="F",
                   help=f"only this format, one of: {', '.join(formats.FORMAT_NAMES)} "
                        "(default: every format)")
    if config:
        _add_config(p, required=False)
    else:
        p.add_argument("--arch", "-a", choices=ARCH_NAMES, metavar="A",
                       help=f"only this arch, one of: {', '.join(ARCH_NAMES)} (default: all)")
    p.add_argument("--block-size", "-b", type=_block_size, metavar="B",
                   help=f"block size, one of: {', '.join(map(str, BLOCK_SIZES))} (default: "
                        "each configuration's own)")
    cpus = usable_cpus()
    p.add_argument("--jobs", "-j", type=_positive_int, default=cpus, metavar="N",
                   help=f"parallel jobs (default {cpus}: the CPUs this process may use)")


# --------------------------------------------------------------------------
# quantize
# --------------------------------------------------------------------------

def cmd_quantize(args) -> int:
    from ifmac.golden import codec
    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {args.input!r} as a .npy array: {e}") from None
    if not isinstance(x, np.ndarray):
        raise InputError(f"{args.input!r} holds several arrays; expected one .npy array")
    t0 = time.perf_counter()
    q = codec.quantize(x, args.format, args.rule, args.block_size)
    dt = time.perf_counter() - t0
    out = _output(args.output, ".npz")
    # Everything dequantize needs: a reader uses the file's own format,
    # block size and rule (ifmac dequantize).
    np.savez(out, codes=q.codes, scales=q.scales, amax=q.amax,
             format=np.asarray(q.fmt.name), block_size=np.asarray(q.block_size),
             rule=np.asarray(q.rule))
    deq = codec.dequantize(q)
    err = deq.astype(np.float64) - np.asarray(x, np.float64)
    rms = float(np.sqrt(np.mean(err ** 2))) if err.size else 0.0
    n_int = f" ({np.count_nonzero(q.scales & 0x80)} INT)" if q.fmt.adaptive else ""
    print(f"{q.fmt.name} ({q.rule}, B={q.block_size}): {x.size} elements, {q.scales.size} "
          f"blocks{n_int}, amax {float(q.amax):.6g}, RMS error {rms:.6g}, "
          f"{x.size / max(dt, 1e-9) / 1e6:.1f} M elements/s -> {out}")
    return 0


#: What `ifmac quantize` writes and `ifmac dequantize` reads.
QUANTIZED_KEYS = ("codes", "scales", "amax", "format", "block_size", "rule")


def cmd_dequantize(args) -> int:
    """The values of a quantized tensor, decoded with the file's own format,
    block size and rule."""
    from ifmac.golden import codec
    from ifmac.golden.vectors import read_npz
    got = read_npz(args.input, QUANTIZED_KEYS, "the .npz that `ifmac quantize` writes")
    for key in ("amax", "format", "block_size", "rule"):
        if got[key].shape != ():
            raise InputError(f"{args.input!r}: {key} has shape {got[key].shape}; expected "
                             "one value")
    q = codec.QuantizedTensor(got["codes"], got["scales"], np.float32(got["amax"]),
                              str(got["format"]), int(got["block_size"]), str(got["rule"]))
    values = codec.dequantize(q)
    out = _output(args.output, ".npy")
    np.save(out, values)
    print(f"{q.fmt.name} ({q.rule}, B={q.block_size}): {values.size} elements, amax "
          f"{float(q.amax):.6g} -> {out}")
    return 0


# --------------------------------------------------------------------------
# vectors
# --------------------------------------------------------------------------

def cmd_vectors(args) -> int:
    from ifmac.golden import vectors
    c = _config(args)
    beats = vectors.random_beats(c, args.beats, args.seed)
    result, status = vectors.expected(c, beats)
    out = _output(args.output, ".npz")
    vectors.save_npz(out, beats, c, result=result, status=status)
    print(f"{c.name} seed={args.seed}: {len(beats)} beats, "
          f"{len(result)} segments -> {out}")
    if args.hex:
        names = vectors.write_hex(args.hex, c, beats, result, status)
        print(f"$readmemh files -> {args.hex}/ ({', '.join(names)})")
    return 0


# --------------------------------------------------------------------------
# verilog / run / sim
# --------------------------------------------------------------------------

def cmd_verilog(args) -> int:
    from ifmac.hdl.mac import MAC
    from ifmac.hdl.verilog import write
    dut = MAC(_config(args))
    out, vlt = write(dut, args.output or f"{dut.name}.v")
    print(f"{dut.name}: latency {dut.latency} cycles -> {out} (lint waivers: {vlt})")
    return 0


def _stimulus(args, dut):
    """The beats of --vectors (one per cycle) or of --beats/--seed (random,
    with valid gaps and --reset cycles), as a Stimulus."""
    from ifmac.golden import vectors
    from ifmac.sim.stimulus import Stimulus, schedule
    if args.vectors:
        beats = vectors.load_npz(args.vectors, dut.config, check_meta=not args.ignore_meta)
    else:
        beats = vectors.random_beats(dut.config, args.beats, args.seed)
    tail = len(beats) - 1 - int(np.flatnonzero(beats.last)[-1])
    if tail:
        print(f"note: the last {tail} beats come after the final `last` and end no segment: "
              "they are simulated but no result checks them")
    sched = schedule(len(beats), dut.latency, gap=args.gap, seed=args.seed, resets=args.reset)
    late = [r for r in args.reset if r >= len(sched)]
    if late:
        raise InputError(f"--reset {late[0]} is past the stimulus's last cycle "
                         f"({len(sched) - 1}); expected a cycle from 0 to {len(sched) - 1}")
    return Stimulus(beats, sched)


def cmd_run(args) -> int:
    from ifmac.hdl.mac import MAC
    from ifmac.sim.mac_run import check_stream
    dut = MAC(_config(args))
    t0 = time.perf_counter()
    stim = _stimulus(args, dut)
    r = check_stream(dut, [stim], name="cli-run", backend=args.simulator, keep=True)
    out = _output(args.output, ".npz")
    np.savez(out, result=r.result, cycle=r.cycle, status=r.status)
    verdict = "match the golden model" if r.mismatches == 0 else \
        f"DO NOT match the golden model: {r.mismatches} mismatches; first: {r.first_error}"
    build = "cached build" if r.build_cached else f"build {r.build_seconds:.1f} s"
    print(f"{dut.name} on {r.backend}: {r.beats} beats, {len(r.result)} results in "
          f"{r.seconds:.2f} s ({r.beats_per_second:,.0f} beats/s; {build}; "
          f"{time.perf_counter() - t0:.1f} s in all) {verdict} -> {out}")
    if r.waveform:
        print(f"waveform: {r.waveform}")
    return 0 if r.mismatches == 0 else 1


def cmd_testbench(args) -> int:
    from ifmac.hdl.mac import MAC
    from ifmac.sim import testbench
    from ifmac.sim.stimulus import expected
    dut = MAC(_config(args))
    stim = _stimulus(args, dut)
    exp = expected(dut.config, stim)
    names = testbench.export(dut, stim, exp, args.output)
    print(f"{dut.name}: {len(stim.beats)} beats, {stim.cycles} cycles, {len(exp)} segments "
          f"-> {args.output}/ ({', '.join(names)})")
    return 0


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N with integers, not {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N, not {text!r}")
    return k, n


def cmd_sim(args) -> int:
    from ifmac.sim import regress
    configs = _selected(regress.SIM_CONFIGS, args)
    k, n = args.shard
    summary = args.summary or os.path.join(
        "build", "sim", "summary.json" if n == 1 else f"summary-{k}-of-{n}.json")
    return regress.regress(configs, args.jobs, args.beats, args.seed, args.simulator, summary,
                           shard=args.shard, junit=args.junit)


def cmd_merge(args) -> int:
    from ifmac.sim import regress
    return regress.merge(args.summaries, args.junit)


def cmd_synth(args) -> int:
    from pathlib import Path
    from ifmac.synth import plan
    # --format, --arch and --group select among the plan's configurations;
    # --block-size, --pipeline and --interleave set those parameters on them.
    from ifmac.synth import nodes
    every_tech = args.tech == "all"
    if every_tech and (args.liberty or args.no_liberty or args.family or args.sweep):
        raise InputError("--tech all runs each technology's own library; it takes no "
                         "--liberty, --no-liberty, --family or --sweep")
    base = (plan.FAMILY_CONFIGS if args.family
            else nodes.node_configs(formats.FORMAT_NAMES if args.format else nodes.NODE_FORMATS)
            if every_tech else plan.ALL_SYNTH_CONFIGS if args.every_lane or args.signoff_all
            else plan.DEFAULT_SYNTH_CONFIGS)
    configs = _selected(base, args, modifiers=("--block-size", "--pipeline", "--interleave",
                                               "--expansion"))
    if args.liberty and args.no_liberty:
        raise InputError("--liberty and --no-liberty exclude each other")
    if args.clock_ns is not None and not args.clock_ns > 0:
        raise InputError(f"--clock-ns {args.clock_ns:g}; expected a period in ns above 0")
    parts = tuple(p for p in plan.PARTS if not getattr(args, f"no_{p}"))
    # A clock given is a target: each configuration is pipelined until it
    # meets it (unless --pipeline or --interleave says how).
    target = (args.clock_ns is not None and args.pipeline is None and args.interleave is None
              and not args.sweep)
    if args.sweep and (args.pipeline is not None or args.interleave is not None):
        raise InputError("--sweep runs every pipeline of the ladder; it takes no --pipeline "
                         "or --interleave")
    mode = plan.Mode.SWEEP if args.sweep else plan.Mode.TARGET if target else plan.Mode.FIXED
    gate_level = (plan.GateLevel.EVERY_SPLIT if args.signoff_all else
                  plan.GateLevel.EVERY if args.family else plan.GateLevel.DEFAULT)
    from ifmac.tech import DEFAULT_TECH, get_technology
    options = plan.Options(Path(args.output), args.netlists and Path(args.netlists),
                           DEFAULT_TECH if every_tech else get_technology(args.tech),
                           args.liberty,
                           use_liberty=not args.no_liberty,
                           baselines=not args.no_baseline, parts=parts,
                           clock_ns=args.clock_ns or plan.signoff.DEFAULT_CLOCK_NS,
                           gate_level=gate_level, mode=mode)
    if every_tech:
        return nodes.run_nodes(configs, args.jobs, options)
    return plan.run(configs, args.jobs, options)


def cmd_accuracy(args) -> int:
    from pathlib import Path
    from ifmac.synth import decision
    if args.model:
        return _model_accuracy(args)
    if args.forward or args.sentences or args.jobs or args.arch:
        raise InputError("--forward, --sentences, --jobs and --arch apply to --model")
    if args.rule:
        raise InputError("--rule applies to --model (the decision report runs every rule)")
    if args.k % 32:
        raise InputError(f"--k {args.k}; expected a multiple of 32 (every block size)")
    t0 = time.perf_counter()
    paths = decision.run(Path(args.output), Path(args.synth) / "area.json",
                         tuple(args.format) if args.format else formats.FORMAT_NAMES,
                         rows=args.rows, K=args.k)
    print(f"ifmac accuracy: {time.perf_counter() - t0:.1f} s -> "
          f"{', '.join(str(p) for p in paths)}")
    return 0


def _model_accuracy(args) -> int:
    """`ifmac accuracy --model PATH`: a checkpoint's weights, layer by layer."""
    from pathlib import Path
    from ifmac.golden import accuracy
    from ifmac.engine import table, write_json
    from ifmac.golden.codec import rules_for
    if args.format:
        specs = [(f, r) for f in args.format for r in (args.rule or rules_for(f)[:1])]
    elif args.rule:
        raise InputError("--rule needs --format (the default formats have their own rules)")
    else:
        specs = list(accuracy.MODEL_SPECS)
    specs = accuracy.check_specs(specs)
    run_list = []
    if args.forward:
        from ifmac.golden import embedding
        model, sentences = _forward_inputs(args)
        run_list = embedding.runs(specs, tuple(args.format) if args.format
                                  else formats.FORMAT_NAMES,
                                  tuple(dict.fromkeys(args.arch)) if args.arch
                                  else embedding.MAC_ARCHS)
        # Every format the forward quantizes with gets its weights' SQNR too.
        specs = list(dict.fromkeys(specs + [(r.fmt, r.rule) for r in run_list]))
    elif args.sentences or args.jobs or args.arch:
        raise InputError("--sentences, --jobs and --arch apply to --forward")
    names = [accuracy.spec_name(*s) for s in specs]
    print(f"ifmac accuracy: {args.model}, every 2-D weight with {', '.join(names)}", flush=True)
    t0 = time.perf_counter()

    def progress(k, layer):
        figures = "  ".join(f"{s} {layer.sqnr_db(s):.2f} dB" for s in names)
        print(f"[{k:3d}] {layer.name} {layer.shape[0]}x{layer.shape[1]}: {figures} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    layers = accuracy.weight_accuracy(args.model, specs, progress)
    totals = accuracy.weight_totals(layers)
    head = ["layer", "shape", "params"] + [f"{s} dB" for s in names] + [
        f"{s} INT blocks" for s in names if s in layers[0].int_share]
    rows = [[x.name, f"{x.shape[0]}x{x.shape[1]}", f"{x.params:,}"]
            + [f"{x.sqnr_db(s):.2f}" for s in names]
            + [f"{100 * x.int_share[s]:.1f} %" for s in names if s in x.int_share]
            for x in layers]
    params = sum(x.params for x in layers)
    rows.append(["all (pooled)", "", f"{params:,}"]
                + [f"{totals[s]['sqnr_db']:.2f}" for s in names]
                + [f"{100 * totals[s]['int_share']:.1f} %" for s in names
                   if "int_share" in totals[s]])
    rows.append(["all (parameter-weighted mean of layer dB)", "", ""]
                + [f"{totals[s]['mean_layer_sqnr_db']:.2f}" for s in names]
                + ["" for s in names if "int_share" in totals[s]])
    text = "\n".join(table(head, rows))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "weights.json", {"model": str(args.model), "specs": names,
                                      "layers": [x.to_json() for x in layers],
                                      "params": params, "totals": totals})
    (out / "weights.md").write_text(
        f"# ifmac: a checkpoint's weights\n\n{args.model}: {len(layers)} 2-D weights, "
        f"{params:,} parameters, quantized along their last axis (the input dimension of a "
        "linear layer's (out, in) weight) in each format's block size, the tensor's amax "
        "as its global scale. SQNR = 10 log10(sum x^2 / sum (x - dequantized)^2); INT "
        "blocks: the share of an IF format's blocks that chose INT.\n\n" + text + "\n")
    print("\n" + text)
    print(f"\nifmac accuracy: {len(layers)} weights, {params:,} parameters in "
          f"{time.perf_counter() - t0:.1f} s -> {out / 'weights.json'}, {out / 'weights.md'}")
    if args.forward:
        _forward_accuracy(args, model, sentences, run_list, totals, out)
    return 0


def _forward_inputs(args):
    """`--forward`'s model (golden.bert) and sentences, checked before any
    work."""
    from pathlib import Path
    from ifmac.golden import bert
    folder = Path(args.model)
    model = bert.Bert(folder if folder.is_dir() else folder.parent)
    sentences = bert.read_sentences()
    if args.sentences and args.sentences > len(sentences):
        raise InputError(f"--sentences {args.sentences}; the fixed set has {len(sentences)}")
    return model, sentences[:args.sentences]


def _forward_accuracy(args, model, sentences, run_list, weight_totals, out) -> None:
    """`--forward`: the model end to end under every run (golden.embedding)."""
    from ifmac.engine import table, write_json
    from ifmac.golden import accuracy, embedding
    tokens = sum(len(model.tokenizer(s)) for s in sentences)
    print(f"\nifmac accuracy: {len(sentences)} sentences ({tokens:,} tokens) end to end, "
          f"{len(run_list)} runs on {args.jobs or 'every'} CPU(s)", flush=True)
    t0 = time.perf_counter()

    def progress(f, k, n):
        print(f"[{k:3d}/{n}] {f.run.label:<34} cosine mean {f.cos_mean:.5f} worst "
              f"{f.cos_worst:.5f}, nearest neighbour changed {f.neighbour_changes:3d} "
              f"({f.seconds:.0f} s; {time.perf_counter() - t0:.0f} s)", flush=True)
    _, results = embedding.measure(model, run_list, sentences, args.jobs, progress)
    rows = []
    for f in results:
        doc = f.to_json()
        doc["weight_sqnr_db"] = weight_totals[accuracy.spec_name(f.run.fmt, f.run.rule)]["sqnr_db"]
        rows.append(doc)
    head = ["format", "rule", "arch", "expansion", "cosine mean", "cosine worst",
            f"neighbour changes (of {len(sentences)})", "worst cosine with qdq",
            "weight SQNR dB", "s"]
    text = "\n".join(table(head, ([
        r["format"], r["rule"], r["arch"], r["expansion"], f"{r['cos_mean']:.5f}",
        f"{r['cos_worst']:.5f}", str(r["neighbour_changes"]),
        "" if r["cos_worst_vs_qdq"] is None else f"{r['cos_worst_vs_qdq']:.6f}",
        f"{r['weight_sqnr_db']:.2f}", f"{r['seconds']:.0f}"] for r in rows)))
    write_json(out / "embeddings.json", {
        "model": str(args.model), "sentences": len(sentences), "tokens": tokens,
        "seconds": round(time.perf_counter() - t0, 1), "rows": rows})
    (out / "embeddings.md").write_text(
        f"# ifmac: a real model end to end\n\n{args.model}: {len(sentences)} sentences "
        f"({tokens:,} tokens) embedded with every linear layer's weights and activations "
        "quantized, against the unquantized model. qdq: quantize-dequantize and a float64 "
        "matmul (the format's error alone); lane, fused, g4, exact: the golden MAC of that "
        "arch (its accumulation order and roundings) and the global factors applied to "
        "its binary32 result in one fl32 multiply. Cosine: of each sentence's embedding "
        "with the unquantized one; neighbour changes: sentences whose nearest other "
        "sentence changed; worst cosine with qdq: of a MAC run's embeddings with the "
        "qdq run's of the same format and rule (what the MAC's arithmetic moves, "
        "amplified where a slightly different activation quantizes to another code). "
        "Weight SQNR: the checkpoint's 2-D weights, pooled.\n\n"
        + text + "\n")
    print("\n" + text)
    print(f"\nifmac accuracy: {len(results)} runs in {time.perf_counter() - t0:.1f} s -> "
          f"{out / 'embeddings.json'}, {out / 'embeddings.md'}")


def cmd_formal(args) -> int:
    from pathlib import Path
    from ifmac.formal import proofs
    if args.quick:
        if args.format or args.arch or args.block_size or args.kind or args.every_lane:
            raise InputError("--quick runs a fixed subset; it takes no --format, --arch, "
                             "--block-size, --kind or --every-lane")
        selected = proofs.quick_proofs()
    else:
        given = {o: v for o, v in (("--format", args.format), ("--arch", args.arch),
                                   ("--block-size", args.block_size)) if v is not None}
        selected = proofs.all_proofs(tuple(args.kind) if args.kind else proofs.KINDS,
                                     every_lane=args.every_lane,
                                     select=lambda c: all(_matches(c, o, v)
                                                          for o, v in given.items()),
                                     named=(args.format,) if args.format else ())
    from ifmac.tech import get_technology
    return proofs.run(selected, args.jobs, Path(args.output), Path(args.netlists), args.liberty,
                      get_technology(args.tech))


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from ifmac.golden import accuracy
    from ifmac.golden.codec import RULES
    p = argparse.ArgumentParser(prog="ifmac", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"ifmac {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    q = sub.add_parser("quantize", help="quantize a .npy tensor with the golden codec")
    q.add_argument("input", metavar="IN.npy")
    _add_format(q)
    q.add_argument("--rule", "-r", choices=RULES, metavar="R",
                   help="IF formats: the INT/FP block choice mse (default), mae or abs_max; "
                        "nvfp4: static_6 (default), static_4 or the four-over-six choice "
                        "mse, mae or abs_max; mxfp4: static_6 (default) or static_4; "
                        "other formats: static_6")
    q.add_argument("-o", "--output", required=True, metavar="OUT.npz",
                   help="codes, scales, amax, format, block_size, rule (.npz added if missing)")
    q.set_defaults(func=cmd_quantize)

    dq = sub.add_parser("dequantize", help="decode a tensor that `ifmac quantize` wrote")
    dq.add_argument("input", metavar="IN.npz",
                    help="the file `ifmac quantize` writes: its format, block size and rule "
                         "decode it")
    dq.add_argument("-o", "--output", required=True, metavar="OUT.npy",
                    help="float32 values (.npy added if missing)")
    dq.set_defaults(func=cmd_dequantize)

    v = sub.add_parser("vectors", help="random MAC stimulus with expected results")
    _add_format(v, arch=True, pipeline=False)
    v.add_argument("--beats", "-n", type=_positive_int, default=1000, metavar="N",
                   help="beats to draw (default 1000)")
    v.add_argument("--seed", "-s", type=_nonneg_int, default=0, metavar="S",
                   help="random seed (default 0)")
    v.add_argument("-o", "--output", required=True, metavar="OUT.npz",
                   help="beats, expected result and status, meta_* (.npz added if missing)")
    v.add_argument("--hex", metavar="DIR", help="also write $readmemh files into DIR (default: none)")
    v.set_defaults(func=cmd_vectors)

    g = sub.add_parser("verilog", help="write the Verilog of one MAC configuration")
    _add_format(g, arch=True)
    g.add_argument("-o", "--output", metavar="FILE.v", help="default: <module name>.v")
    g.set_defaults(func=cmd_verilog)

    from ifmac.sim.backends import BACKENDS, DEFAULT_BACKEND
    from ifmac.sim.regress import DEFAULT_BEATS

    def add_stimulus(p, what):
        src = p.add_mutually_exclusive_group(required=True)
        src.add_argument("--vectors", metavar="IN.npz",
                         help="keys a, a_scale, w, w_scale, last (as `ifmac vectors` writes); "
                              "its meta_format, meta_block_size, meta_arch and meta_interleave "
                              "must match the MAC's")
        src.add_argument("--beats", "-n", type=_positive_int, metavar="N",
                         help=f"random beats {what}")
        p.add_argument("--ignore-meta", action="store_true",
                       help="run --vectors whose metadata names another configuration")
        p.add_argument("--seed", "-s", type=_nonneg_int, default=0, metavar="S",
                       help="seed of the random beats and of the gaps (default 0)")
        p.add_argument("--gap", type=_probability, default=0.0, metavar="P",
                       help="probability of 1-3 idle cycles before a beat (default 0)")
        p.add_argument("--reset", type=_nonneg_int, action="append", default=[], metavar="CYCLE",
                       help="assert reset in this cycle (repeatable; default: none)")

    r = sub.add_parser("run", help="run beats through the RTL and check them")
    _add_format(r, arch=True)
    add_stimulus(r, "instead of --vectors")
    r.add_argument("-o", "--output", required=True, metavar="OUT.npz",
                   help="observed result, cycle, status (.npz added if missing)")
    r.add_argument("--simulator", choices=tuple(BACKENDS), default=DEFAULT_BACKEND,
                   metavar="SIM", help=f"one of: {', '.join(BACKENDS)} (default "
                   f"{DEFAULT_BACKEND}, the native backend)")
    r.set_defaults(func=cmd_run)

    t = sub.add_parser("testbench", help="export a self-checking SystemVerilog testbench")
    _add_format(t, arch=True)
    add_stimulus(t, "instead of --vectors")
    t.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="the folder to write the testbench into")
    t.set_defaults(func=cmd_testbench)

    s = sub.add_parser("sim", help="the MAC regression (what `make sim` runs)")
    _add_selection(s)
    s.add_argument("--beats", "-n", type=_positive_int, default=DEFAULT_BEATS, metavar="N",
                   help=f"beats per configuration (default {DEFAULT_BEATS:,})")
    s.add_argument("--seed", type=_nonneg_int, default=1, metavar="S",
                   help="seed of the regression's random beats (default 1)")
    s.add_argument("--simulator", choices=tuple(BACKENDS), default=DEFAULT_BACKEND,
                   metavar="SIM", help=f"one of: {', '.join(BACKENDS)} (default "
                   f"{DEFAULT_BACKEND})")
    s.add_argument("--shard", type=_shard, default=(1, 1), metavar="K/N",
                   help="run the K-th of N disjoint slices of the work (default 1/1: all)")
    s.add_argument("--junit", metavar="FILE.xml", help="also write JUnit XML (default: none)")
    s.add_argument("--summary", metavar="FILE.json",
                   help="default build/sim/summary.json (summary-K-of-N.json for a shard)")
    s.set_defaults(func=cmd_sim)

    mg = sub.add_parser("merge", help="combine `ifmac sim` shard summaries into one table")
    mg.add_argument("summaries", nargs="+", metavar="SUMMARY.json")
    mg.add_argument("--junit", metavar="FILE.xml", help="also write JUnit XML (default: none)")
    mg.set_defaults(func=cmd_merge)

    y = sub.add_parser("synth", help="area, timing, gate-level simulation and power reports "
                       "(`make synth`, `make signoff`)",
                       description="Synthesize MAC configurations (default: every format x "
                       "both archs at its own block size, MX 32 and the others 16), time "
                       "them with OpenSTA, simulate their netlists against the golden model "
                       "and compute their power from the toggle counts; write area.json, "
                       "area.md, area.png and energy.png. The nvfp4 and mxfp4 MACs of each "
                       "arch and block size are added for the ratios.")
    _add_selection(y)
    from ifmac.tech import DEFAULT_TECH, TECHNOLOGIES
    y.add_argument("--tech", choices=(*TECHNOLOGIES, "all"), default=DEFAULT_TECH.name,
                   metavar="T", help=f"standard-cell technology, one of: "
                   f"{', '.join(TECHNOLOGIES)}; or all (`make nodes`): if4, nvfp4, nvint4 "
                   "and mxfp4 (or --format) at B = 16, lane and fused, in each vendored technology (not osu018), "
                   "every MAC simulated at gate level, and one table across them, "
                   f"OUT/nodes.md (default {DEFAULT_TECH.name})")
    y.add_argument("--liberty", metavar="FILE.lib",
                   help="your own Liberty library, instead of the technology's (default: "
                        "$LIBERTY, else the technology's: IHP SG13G2, sky130 and ASAP7 are "
                        "vendored, OSU 0.18 um is fetched with apt-get download)")
    y.add_argument("--no-liberty", action="store_true",
                   help="generic CMOS figures only (no area in um^2, no delay)")
    y.add_argument("--no-baseline", action="store_true",
                   help="do not add the nvfp4 configurations for the ratios")
    y.add_argument("--clock-ns", type=float, default=None, metavar="NS",
                   help="a clock target: each configuration becomes the shortest pipeline "
                        "(optional cuts, then interleave) that meets it in OpenSTA, and is "
                        "reported at it (with --pipeline or --interleave: only the clock). "
                        "(default: no target, timing and power at 10 ns)")
    y.add_argument("--sweep", action="store_true",
                   help="synthesize every pipeline of each configuration's ladder (0 .. "
                        "every cut, then interleave 2 and 4) and draw area and energy per "
                        "MAC against the clock period each meets: sweep-<format>.png")
    y.add_argument("--family", action="store_true",
                   help="every format at B = 16 with group sizes 1, 4 and 16 (lane, g4, "
                        "fused), each simulated at gate level with its power")
    y.add_argument("--no-timing", action="store_true", help="skip OpenSTA timing")
    y.add_argument("--no-gls", action="store_true", help="skip the gate-level simulation")
    y.add_argument("--no-power", action="store_true", help="skip the power runs")
    y.add_argument("--every-lane", action="store_true",
                   help="the MX formats' lane MACs at their own B = 32 too (`make "
                        "synth-all`; 4-6 minutes of Yosys each in IHP SG13G2)")
    y.add_argument("--signoff-all", action="store_true",
                   help="gate-level simulation and power of every lane MAC too, split per "
                        "stage (by default: every fused MAC, split per stage, and the "
                        "if4, nvfp4 and nvint4 lane MACs at B = 16; a lane MAC's gate-level "
                        "model takes 3-8 minutes of compilation)")
    y.add_argument("-o", "--output", default=os.path.join("build", "synth"), metavar="DIR",
                   help="where the reports go (default build/synth)")
    y.add_argument("--netlists", metavar="DIR",
                   help="where each configuration's synthesis folder is (default: the "
                        "output folder); a finished run of the same inputs is reused")
    y.set_defaults(func=cmd_synth)

    ac = sub.add_parser("accuracy", help="accuracy against cost: decision.md and decision.png",
                        description="Quantize realistic tensors (normal, Laplace, "
                        "Student-t(3), outlier-heavy) with every format x rule, multiply them "
                        "in the golden MAC (both archs, dot products of length K) and report "
                        "quantization SQNR and the MAC's relative error against float64; "
                        "joined with area and energy per MAC from SYNTH/area.json into "
                        "OUT/decision.json, decision.md and decision.png.")
    ac.add_argument("--format", "-f", choices=formats.FORMAT_NAMES, action="append",
                    metavar="F", help=f"repeatable, one of: {', '.join(formats.FORMAT_NAMES)} "
                                      "(default: every format)")
    ac.add_argument("--rows", type=_positive_int, default=64, metavar="N",
                    help="dot products per distribution (default 64)")
    ac.add_argument("--k", type=_positive_int, default=4096, metavar="K",
                    help="dot-product length, a multiple of 32 (default 4096)")
    ac.add_argument("--synth", default=os.path.join("build", "synth"), metavar="DIR",
                    help="where area.json is (default build/synth)")
    ac.add_argument("-o", "--output", default=os.path.join("build", "synth"), metavar="DIR",
                    help="where decision.json, .md and .png go (default build/synth; "
                         "--model: weights.json and weights.md)")
    ac.add_argument("--model", metavar="PATH",
                    help="instead: quantize every 2-D weight of this checkpoint (.safetensors, "
                         ".npz, .npy, or a folder of them; streamed, blocks along the input "
                         "dimension) and report SQNR per layer and overall, and the share of "
                         "INT blocks of the IF formats (default formats and rules: "
                         + ", ".join(f"{f} {r}" for f, r in accuracy.MODEL_SPECS) + ")")
    ac.add_argument("--forward", action="store_true",
                    help="with --model (a BERT sentence-embedding folder: config.json, "
                         "vocab.txt, .safetensors): also embed the fixed sentences with every "
                         "linear layer quantized, by quantize-dequantize and by each arch's "
                         "golden MAC, against the unquantized model: embeddings.json and .md")
    ac.add_argument("--sentences", type=_positive_int, metavar="N",
                    help="with --forward: the first N of the fixed sentences (default all)")
    ac.add_argument("--jobs", "-j", type=_positive_int, metavar="N",
                    help="with --forward: processes (default one per CPU)")
    from ifmac.golden.embedding import MAC_ARCHS
    ac.add_argument("--arch", "-a", choices=MAC_ARCHS, action="append", metavar="A",
                    help=f"with --forward: the MACs, repeatable, of: {', '.join(MAC_ARCHS)} "
                         "(default all; quantize-dequantize always runs)")
    ac.add_argument("--rule", choices=RULES, action="append", metavar="R",
                    help="with --model and --format: the rules, repeatable (default: each "
                         f"format's first), of: {', '.join(RULES)}")
    ac.set_defaults(func=cmd_accuracy)

    from ifmac.formal.proofs import KINDS
    fo = sub.add_parser("formal", help="SymbiYosys proofs (what `make formal` runs)",
                        description="Prove the decode and dot-product datapath for all "
                        "inputs, the control for all input sequences, the FP32 units' "
                        "pipelining and commutativity and the synthesized netlists' "
                        "equivalence to the RTL, and check that deliberately broken "
                        "designs fail their proofs. Each proof runs in OUT/<kind>/<config>/; "
                        "OUT/summary.json and summary.md list the verdicts.")
    _add_selection(fo, config=False)
    fo.add_argument("--kind", "-k", choices=KINDS, action="append", metavar="K",
                    help=f"proof kind, repeatable: {', '.join(KINDS)} (default all)")
    fo.add_argument("--quick", action="store_true",
                    help="the small subset that `make test` runs")
    fo.add_argument("--every-lane", action="store_true",
                    help="netlist proofs of every default lane configuration too (by default "
                         "the if4 and nvfp4 lanes at B = 16; each lane takes 4-7 minutes, "
                         "most of it its synthesis), and the exact arch's rounding with "
                         "IF4's and IF6's divisors 49, 961 and 3844")
    fo.add_argument("-o", "--output", default=os.path.join("build", "formal"), metavar="DIR",
                    help="where each proof's folder and the summary go (default build/formal)")
    fo.add_argument("--netlists", default=os.path.join("build", "synth"), metavar="DIR",
                    help="where the netlist proofs find (or synthesize) each configuration's "
                         "netlists: `make synth`'s folder by default")
    fo.add_argument("--tech", choices=tuple(TECHNOLOGIES), default=DEFAULT_TECH.name,
                    metavar="T", help=f"technology of the netlists, one of: "
                    f"{', '.join(TECHNOLOGIES)} (default {DEFAULT_TECH.name})")
    fo.add_argument("--liberty", metavar="FILE.lib",
                    help="Liberty library of the netlists (default: $LIBERTY, else OSU 0.18 um "
                         "fetched with apt-get download)")
    fo.set_defaults(func=cmd_formal)
    return p


def _version() -> str:
    from ifmac import __version__
    return __version__


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_format_block_size", False) and args.block_size is None:
        args.block_size = formats.get_format(args.format).block_size
    try:
        return args.func(args) or 0
    except InputError as e:
        print(f"ifmac {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"ifmac {args.command}: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"ifmac {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
