"""The `ifmac` command line.

Every subcommand validates its arguments up front; a bad value is one line
on stderr naming it and what was expected, and exit code 2 (argparse's own
convention for usage errors), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from ifmac.golden import formats

EXIT_USAGE = 2


class UsageError(Exception):
    """A bad argument or input file: reported in one line, exit code 2."""


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


def _block_size(text: str) -> int:
    try:
        return formats.check_block_size(int(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_format(p, *, arch: bool = False, block: bool = True):
    p.add_argument("--format", "-f", required=True, choices=formats.FORMAT_NAMES,
                   metavar="F", help=f"one of: {', '.join(formats.FORMAT_NAMES)}")
    if arch:
        from ifmac.golden.model import ARCHS
        p.add_argument("--arch", "-a", required=True, choices=ARCHS, metavar="A",
                       help=f"one of: {', '.join(ARCHS)}")
    if block:
        p.add_argument("--block-size", "-b", type=_block_size, default=16, metavar="B",
                       help="elements per block: 8, 16 or 32 (default 16)")


# --------------------------------------------------------------------------
# quantize
# --------------------------------------------------------------------------

def cmd_quantize(args) -> int:
    from ifmac.golden import codec
    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {args.input!r} as a .npy array: {e}") from None
    if not isinstance(x, np.ndarray):
        raise UsageError(f"{args.input!r} holds several arrays; expected one .npy array")
    t0 = time.perf_counter()
    q = codec.quantize(x, args.format, args.rule, args.block_size)
    dt = time.perf_counter() - t0
    np.savez(args.output, codes=q.codes, scales=q.scales, amax=q.amax,
             format=np.asarray(q.fmt.name), block_size=np.asarray(q.block_size),
             rule=np.asarray(q.rule))
    deq = codec.dequantize(q)
    err = deq.astype(np.float64) - np.asarray(x, np.float64)
    rms = float(np.sqrt(np.mean(err ** 2))) if err.size else 0.0
    n_int = int(np.count_nonzero(q.scales & 0x80))
    print(f"{q.fmt.name} ({q.rule}, B={q.block_size}): {x.size} elements, {q.scales.size} "
          f"blocks ({n_int} INT), amax {float(q.amax):.6g}, RMS error {rms:.6g}, "
          f"{x.size / max(dt, 1e-9) / 1e6:.1f} M elements/s -> {args.output}")
    return 0


# --------------------------------------------------------------------------
# vectors
# --------------------------------------------------------------------------

def cmd_vectors(args) -> int:
    from ifmac.golden import vectors
    beats = vectors.random_beats(args.format, args.block_size, args.beats, args.seed)
    result, status = vectors.expected(args.format, args.arch, beats)
    vectors.save_npz(args.output, beats, args.arch, result=result, status=status)
    print(f"{args.format} {args.arch} B={args.block_size} seed={args.seed}: {len(beats)} beats, "
          f"{len(result)} segments -> {args.output}")
    if args.hex:
        names = vectors.write_hex(args.hex, args.format, args.arch, beats, result, status)
        print(f"$readmemh files -> {args.hex}/ ({', '.join(names)})")
    return 0


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from ifmac.golden.codec import RULES
    p = argparse.ArgumentParser(prog="ifmac", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"ifmac {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    q = sub.add_parser("quantize", help="quantize a .npy tensor with the golden codec")
    q.add_argument("input", metavar="IN.npy")
    _add_format(q)
    q.add_argument("--rule", "-r", default="mse", choices=RULES, metavar="R",
                   help=f"INT/FP block choice: {', '.join(RULES)} (default mse)")
    q.add_argument("-o", "--output", required=True, metavar="OUT.npz")
    q.set_defaults(func=cmd_quantize)

    v = sub.add_parser("vectors", help="random MAC stimulus with expected results")
    _add_format(v, arch=True)
    v.add_argument("--beats", "-n", type=_positive_int, default=1000, metavar="N")
    v.add_argument("--seed", "-s", type=_nonneg_int, default=0, metavar="S")
    v.add_argument("-o", "--output", required=True, metavar="OUT.npz")
    v.add_argument("--hex", metavar="DIR", help="also write $readmemh files into DIR")
    v.set_defaults(func=cmd_vectors)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return p


#: Subcommands contributed by other subpackages (hdl, sim, synth).
_EXTRA_COMMANDS: list = []


def _version() -> str:
    from ifmac import __version__
    return __version__


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except (UsageError, ValueError) as e:
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
