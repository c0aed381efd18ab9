"""The ``swarm`` command line.

``swarm run NAME_OR_PATH [--out DIR] [--seed N] [--set key=value ...] [--quiet]``
    Run a scenario, print a table per protocol, write ``summary.json`` and plots.
``swarm list [-v]``
    The shipped scenarios, sweeps and benchmarks, in three groups.
``swarm bench [NAME ...] [--smoke]``
    Run the speed comparisons in ``benchmarks/`` (source checkouts only).
``swarm sweep NAME_OR_PATH [--backend local|ray] [--workers N] [--address ADDR] [--out DIR]
[--retry-failed] [--restart] [--quiet]``
    Run a sweep (many runs of a scenario), recording each run in ``DIR/results.sqlite``
    as it finishes; the same command again resumes, skipping recorded runs.
``swarm report DIR [--metric M] [--param P] [--logy] [--heatmap X Y]``
    Plot a metric against a parameter from a sweep's results (mean and 95% band over
    seeds, one line per protocol): PNG and CSV.
``swarm view DIR [--print]``
    Open a run's ``viewer.html`` in the web browser, or print its path where there is no
    browser (or with ``--print``).

User errors (unknown scenario, bad file, bad key or value) print one line to stderr and
exit with status 2, without a traceback; a sweep with failed runs exits with status 1;
Ctrl-C exits with status 130 and leaves nothing half-written.

Examples
--------
>>> import contextlib
>>> import io
>>> from scenarios.cli import format_table, main
>>> print(format_table("demo", ["protocol", "spread"], [["lcp", 0.25], ["wmsr", None]]))
demo
protocol  spread
--------  ------
     lcp    0.25
    wmsr       -
>>> out = io.StringIO()
>>> with contextlib.redirect_stdout(out):
...     status = main(["list"])
>>> status, out.getvalue().splitlines()[0]
(0, 'scenarios (swarm run NAME):')
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from scenarios.config import ScenarioError

__all__ = ["format_table", "main"]


def format_table(title: str, headers: list[str], rows: list[list]) -> str:
    """Format a plain-text table.

    Parameters
    ----------
    title : str
        Printed above the table.
    headers : list of str
        Column names.
    rows : list of list
        Cells; floats are shown with 4 significant digits, None as "-".

    Returns
    -------
    str
        The table.
    """

    def cell(v) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    body = [[cell(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [title, line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(out)


def _show_value(v: object) -> str:
    text = repr(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _header(scenario, seed: int) -> str:
    """Describe what `swarm run` runs: the parameters actually used."""
    from scenarios.runner import load_kind, resolve_params

    module = load_kind(scenario.kind)
    used = resolve_params(module, scenario.params)
    lines = [f"scenario {scenario.name} ({scenario.kind}), seed {seed}"]
    if scenario.overrides:
        lines.append(
            f"  file: {scenario.description} (before --set {' '.join(scenario.overrides)})"
        )
    else:
        lines.append(f"  {scenario.description}")
    shown = [
        f"{k}={_show_value(v)}" for k, v in used.items() if module.PARAMS[k].used(scenario.params)
    ]
    lines += textwrap.wrap(
        "parameters: " + ", ".join(shown), width=88, initial_indent="  ", subsequent_indent="    "
    )
    return "\n".join(lines)


def _cmd_run(args: argparse.Namespace) -> int:
    from scenarios.runner import check_out_dir, load_scenario, run_scenario

    scenario = load_scenario(args.scenario, args.set or ())
    out_dir = Path(args.out) if args.out else Path("runs") / scenario.name
    check_out_dir(out_dir)
    seed = scenario.seed if args.seed is None else args.seed
    print(_header(scenario, seed), flush=True)
    outcome = run_scenario(
        scenario, seed=seed, out_dir=out_dir, progress=not args.quiet, command=["swarm", *args.argv]
    )
    for title, headers, rows in outcome.tables:
        print()
        print(format_table(title, headers, rows))
    print()
    written = sorted(p.name for p in out_dir.iterdir())
    print(f"wrote {out_dir}/: {', '.join(written)}")
    return 0


def _benchmarks_dir() -> Path | None:
    here = Path(__file__).resolve().parent.parent / "benchmarks"
    return here if here.is_dir() else None


def _benchmarks() -> dict[str, Path]:
    """Benchmark scripts of a source checkout: name -> path (empty when installed)."""
    bench_dir = _benchmarks_dir()
    if bench_dir is None:
        return {}
    return {p.stem.removeprefix("bench_"): p for p in sorted(bench_dir.glob("bench_*.py"))}


def _first_doc_line(path: Path) -> str:
    """First line of a script's docstring, read without running it."""
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return ""
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""


def _cmd_list(args: argparse.Namespace) -> int:
    from scenarios.runner import available_scenarios, load_kind, load_scenario
    from scenarios.sweep import available_sweeps, load_sweep

    names = available_scenarios()
    sweeps = available_sweeps()
    benches = _benchmarks()
    width = max(map(len, [*names, *sweeps, *benches]), default=0)
    print("scenarios (swarm run NAME):")
    for name in names:
        sc = load_scenario(name)
        print(f"  {name.ljust(width)}  {sc.description}")
        if args.verbose:
            schema = load_kind(sc.kind).PARAMS
            for key, spec in schema.items():
                if spec.used(sc.params):
                    print(f"      {key} = {sc.params[key]!r}  ({spec.help}; {spec.allowed()})")
    print("\nsweeps (swarm sweep NAME):")
    for name in sweeps:
        sw = load_sweep(name)
        print(f"  {name.ljust(width)}  {sw.description}")
        if args.verbose:
            print(
                f"      scenario {sw.scenario.name}, {sw.n_combinations} combinations x "
                f"{sw.seeds} seeds; varies {', '.join(sw.varying) or '(nothing)'}; "
                f"metrics {', '.join(sw.metrics)}"
            )
    print("\nbenchmarks (swarm bench NAME):")
    if not benches:
        print("  (none: benchmarks/ ships with a source checkout only)")
    for name, path in benches.items():
        print(f"  {name.ljust(width)}  {_first_doc_line(path)}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    scripts = _benchmarks()
    if not scripts:
        raise ScenarioError(
            "benchmarks/ not found: `swarm bench` runs from a source checkout (pip install -e .)"
        )
    names = args.names or list(scripts)
    for name in names:
        if name not in scripts:
            raise ScenarioError(f"unknown benchmark {name!r}; known: {', '.join(scripts)}")
    extra = ["--smoke"] if args.smoke else []
    failed = []
    for name in names:
        print(f"== benchmark {name}" + (" (smoke)" if args.smoke else ""), flush=True)
        if subprocess.call([sys.executable, str(scripts[name]), *extra]) != 0:
            failed.append(name)
    if failed:
        print(
            f"swarm: error: {len(failed)} of {len(names)} benchmarks failed: {', '.join(failed)}",
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from scenarios.sweep import load_sweep, run_sweep

    try:
        sweep = load_sweep(args.sweep)
    except KeyboardInterrupt:
        print("swarm: interrupted while reading the sweep: nothing was run", file=sys.stderr)
        return 130
    out_dir = Path(args.out) if args.out else Path("runs") / sweep.name
    where = f"{args.backend}" + (f" at {args.address}" if args.address else "")
    print(
        f"sweep {sweep.name} ({sweep.kind}): {sweep.n_runs} runs "
        f"({sweep.n_combinations} combinations x {sweep.seeds} seeds), backend {where}; "
        f"results in {out_dir}/",
        flush=True,
    )
    result = run_sweep(
        sweep,
        out_dir,
        backend=args.backend,
        workers=args.workers,
        address=args.address,
        progress=not args.quiet,
        retry_failed=args.retry_failed,
        restart=args.restart,
    )
    if result.moved_aside is not None:
        print(f"moved the previous results aside to {result.moved_aside}")
    print(
        f"ran {result.done + result.failed} ({result.done} ok, {result.failed} failed), "
        f"skipped {result.skipped} already recorded; {result.store}"
    )
    for rec in result.failures[:5]:
        first = rec.error.splitlines()[0] if rec.error else ""
        which = {k: rec.params[k] for k in sweep.varying}
        label = f" ({rec.label})" if rec.label else ""
        print(f"  failed{label}: {which} seed {rec.seed}: {first}")
    if len(result.failures) > 5:
        print(f"  ... and {len(result.failures) - 5} more (error text in the store)")
    for m in result.missing_metrics:
        print(f"warning: metric {m!r} was in no run's summary (a typo?)", file=sys.stderr)
    if result.interrupted:
        print(
            f"swarm: interrupted by {result.interrupted}: every finished run is saved; run "
            f"the same command again to resume",
            file=sys.stderr,
        )
        return 130 if result.interrupted == "SIGINT" else 143
    if result.failed:
        print(
            f"swarm: error: {result.failed} of {result.done + result.failed} runs failed; "
            f"their errors are in {result.store} (table runs, column error); "
            f"--retry-failed runs them again",
            file=sys.stderr,
        )
        return 1
    print(f"plot it: swarm report {out_dir}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    try:
        if args.heatmap:
            from scenarios.phase import write_heatmaps

            written = write_heatmaps(args.dir, *args.heatmap, metric=args.metric)
        else:
            from scenarios.report import write_report

            written = write_report(args.dir, metric=args.metric, param=args.param, logy=args.logy)
    except OSError as exc:
        raise ScenarioError(
            f"{args.dir}: cannot write the report there ({exc.strerror or exc})"
        ) from None
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 0


def _cmd_view(args: argparse.Namespace) -> int:
    import os
    import webbrowser

    folder = Path(args.dir)
    if not folder.is_dir():
        raise ScenarioError(f"view: no such folder: {folder}")
    page = folder / "viewer.html"
    if not page.is_file():
        raise ScenarioError(
            f"view: no viewer.html in {folder} (written by `swarm run` of a "
            "consensus or DBP scenario)"
        )
    # Without a display, webbrowser would start a text browser in this terminal.
    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if args.print or headless or not webbrowser.open(page.resolve().as_uri()):
        print(page.resolve())
    else:
        print(f"opened {page.resolve()}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(
            f"{value} is not allowed; expected an integer in [0, 2**63)"
        )
    return value


def _version() -> str:
    from scenarios.store import package_version

    return f"swarm (swarmgym) {package_version()}"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="swarm", description="swarmgym scenarios, sweeps and benchmarks"
    )
    p.add_argument(
        "--version",
        action="version",
        version=_version(),
        help="print the swarmgym version and exit",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    r = sub.add_parser("run", help="run a scenario")
    r.add_argument("scenario", help="shipped scenario name or path to a .toml file")
    r.add_argument(
        "--out",
        help="output folder (default runs/NAME); replaced whole, and "
        "only once the run has written everything",
    )
    r.add_argument("--seed", type=_seed, help="seed, an integer >= 0 (default: the scenario's)")
    r.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a parameter (repeatable); the value is read as TOML",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_run)
    ls = sub.add_parser("list", help="list the shipped scenarios, sweeps and benchmarks")
    ls.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also list each scenario's parameters (those it uses) and each sweep's grid",
    )
    ls.set_defaults(func=_cmd_list)
    b = sub.add_parser(
        "bench",
        help="run speed comparisons from benchmarks/",
        description="Run speed comparisons from benchmarks/: "
        + (", ".join(_benchmarks()) or "(none: source checkouts only)"),
    )
    b.add_argument("names", nargs="*", help="benchmark names (default: all; see swarm list)")
    b.add_argument(
        "--smoke",
        action="store_true",
        help="run each benchmark at tiny sizes, in seconds, to check it still works "
        "(its figures mean nothing)",
    )
    b.set_defaults(func=_cmd_bench)
    sw = sub.add_parser("sweep", help="run a sweep of a scenario into a results store")
    sw.add_argument("sweep", help="shipped sweep name or path to a sweep .toml file")
    sw.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local process pool (default) or Ray",
    )
    sw.add_argument(
        "--workers",
        type=_positive_int,
        help="worker processes, or CPUs of a local Ray (default: all CPUs)",
    )
    sw.add_argument("--address", help="address of an existing Ray cluster (with --backend ray)")
    sw.add_argument("--out", help="results folder (default runs/NAME)")
    sw.add_argument(
        "--retry-failed", action="store_true", help="run again the runs recorded as failed"
    )
    sw.add_argument(
        "--restart",
        action="store_true",
        help="move the folder's results of an earlier version of the sweep aside "
        "(to DIR/replaced-TIME/) and start afresh",
    )
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.set_defaults(func=_cmd_sweep)
    rp = sub.add_parser("report", help="plot a metric against a parameter from a sweep")
    rp.add_argument("dir", help="a sweep's results folder")
    rp.add_argument("--metric", help="metric path or its last part (default: every metric)")
    rp.add_argument("--param", help="parameter on the x axis (default: the first varied)")
    rp.add_argument("--logy", action="store_true", help="logarithmic y axis")
    rp.add_argument(
        "--heatmap",
        nargs=2,
        metavar=("X", "Y"),
        help="heat maps of the metric over two varied parameters instead",
    )
    rp.set_defaults(func=_cmd_report)
    v = sub.add_parser("view", help="open a run's interactive viewer.html")
    v.add_argument("dir", help="a run's output folder, e.g. runs/byzantine-consensus")
    v.add_argument("--print", action="store_true", help="print the path, open nothing")
    v.set_defaults(func=_cmd_view)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``swarm`` console script.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 1 when runs of a sweep failed, 2 on a user error,
        130 on Ctrl-C, 141 when stdout was closed early (``swarm list | head -1``).
    """
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        args = _parser().parse_args(argv)
        args.argv = argv
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except ScenarioError as exc:
        print(f"swarm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("swarm: interrupted; nothing half-written was left behind", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): the Python docs' recipe, so that the final
        # flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
