"""Start-up: ``import shopveil``, ``shopveil --help``, and commands on the bundled data.

Each case runs in a fresh interpreter, ``--repeat`` rounds; a case's figures are its best
and median wall time and its largest peak RSS. The peers run in the same rounds,
interleaved with ShopVeil's cases so that a change of load hits them alike: the bare
interpreter (``python -c pass``), a bare Typer app with as many top-level commands as
ShopVeil's (the floor of a Typer command line with Rich help), and, with ``--before SRC``,
the same cases on another checkout's ``src`` (the code before a change). Usage (from the
repository root)::

    .venv/bin/python benchmarks/bench_startup.py [--repeat 5] [--before OLD/src]

The commands run on the bundled Online Retail slice (26,732 rows): ``scan``,
``anonymize --policy gdpr`` and a DP ``query`` (left out without the ``dp`` extra). The
run checks what it measures: ``import shopveil`` loads none of the heavy packages,
``--help`` lists the commands, a scan in one process builds its word lists once. Prints
one JSON object, with the load average: on a shared machine it moves the figures more
than anything else.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
SLICE = SRC / "shopveil" / "data" / "bundled" / "online_retail_2010-12-01_2010-12-12.csv.gz"
HEAVY = (
    "pyarrow", "polars", "pandas", "numpy", "sqlalchemy", "duckdb", "faker", "torch",
    "scipy", "sklearn", "opendp", "cryptography", "yaml", "jsonschema", "typer", "rich",
)  # fmt: skip
SHOW_HEAVY = f"import sys, shopveil; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
COUNT_COMMANDS = (
    "from typer.main import get_command; import shopveil.cli; "
    "print(len(get_command(shopveil.cli.app).commands))"
)
SCAN_TWICE = """
import sys, time
from shopveil.data import open_source
from shopveil.detect import scan_source
times = []
for _ in range(2):
    start = time.perf_counter()
    report = scan_source(open_source(sys.argv[1]))
    times.append(time.perf_counter() - start)
print(times[0], times[1], len(report.columns))
"""


def run(argv: list[str], src: Path, home: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB and stdout of one fresh interpreter."""
    env = os.environ | {
        "PYTHONPATH": str(src),
        "SHOPVEIL_HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),  # the key file: never the user's own
    }
    env.pop("SHOPVEIL_DB_URL", None)
    env.pop("SHOPVEIL_MASTER_KEY", None)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=home, env=env, stdout=out, stderr=err)
        # wait4 reaps the child and returns its own resource usage (peak RSS in KiB).
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"{argv} failed ({process.returncode}): {err.read()[-2000:]}")
        return wall, usage.ru_maxrss / 1024, out.read()


def typer_peer(folder: Path, commands: int) -> Path:
    """A bare Typer app with ``commands`` commands, each with an argument and three options."""
    lines = ["import typer", "", "app = typer.Typer(no_args_is_help=True, add_completion=False)"]
    for i in range(commands):
        lines += [
            "",
            f"@app.command('command-{i}')",
            f"def command_{i}(path: str, count: int = 1, name: str = 'x', flag: bool = False):",
            f'    """Command {i}: does nothing."""',
        ]
    lines += ["", "app()", ""]
    path = folder / "typer_peer.py"
    path.write_text("\n".join(lines))
    return path


def cases(python: str, data: Path) -> dict[str, list[str]]:
    cli = [python, "-m", "shopveil"]
    found = {
        "import shopveil": [python, "-c", "import shopveil"],
        "shopveil --help": [*cli, "--help"],
        "shopveil scan --help": [*cli, "scan", "--help"],
        "shopveil scan (slice)": [*cli, "scan", str(data), "--json", "--policy-out", "p.yaml"],
        "shopveil anonymize --policy gdpr (slice)": [
            *cli, "anonymize", str(data), "-o", "out.parquet", "--policy", "gdpr",
        ],
        "shopveil query, ε = 0.01 (slice)": [
            *cli, "query", "SELECT Country, COUNT(*) AS n FROM orders GROUP BY Country",
            "--data", str(data), "--table", "orders", "--epsilon", "0.01",
            "--privacy-unit", "CustomerID", "--json",
        ],
    }  # fmt: skip
    if importlib.util.find_spec("duckdb") is None:  # a core install: no dp extra
        del found["shopveil query, ε = 0.01 (slice)"]
    return found


def summary(walls: list[float], peaks: list[float]) -> dict[str, float]:
    ordered = sorted(walls)
    return {
        "best_s": round(ordered[0], 3),
        "median_s": round(ordered[len(ordered) // 2], 3),
        "peak_rss_mib": round(max(peaks), 1),
    }


def checks(python: str, home: Path, data: Path) -> dict[str, object]:
    """What is measured is what it should be; the in-process scan times."""
    _, _, heavy = run([python, "-c", SHOW_HEAVY], SRC, home)
    assert heavy.strip() == "", f"import shopveil loads {heavy.strip()}"
    _, _, help_text = run([python, "-m", "shopveil", "--help"], SRC, home)
    for command in ("scan", "anonymize", "query", "budget", "data", "keys", "audit", "train"):
        assert command in help_text, f"--help lists no {command!r}"
    _, _, scanned = run([python, "-c", SCAN_TWICE, str(data)], SRC, home)
    first, second, columns = scanned.split()
    assert int(columns) == 8, scanned
    # The word lists are built once per process: the second scan skips that work.
    assert float(second) < float(first), scanned
    return {"first_s": round(float(first), 3), "second_s": round(float(second), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", type=Path, help="another checkout's src, timed alike")
    args = parser.parse_args()
    python = sys.executable
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "online_retail_slice.csv.gz"
        data.write_bytes(SLICE.read_bytes())
        homes = {"this": folder / "this", "before": folder / "before", "peer": folder / "peer"}
        for home in homes.values():
            home.mkdir()
        scan_in_process = checks(python, homes["this"], data)
        _, _, count = run([python, "-c", COUNT_COMMANDS], SRC, homes["peer"])
        runs: dict[tuple[str, str], tuple[list[str], Path]] = {
            ("peer", "python -c pass"): ([python, "-c", "pass"], SRC),
            ("peer", "bare Typer app --help"): (
                [python, str(typer_peer(folder, int(count))), "--help"],
                SRC,
            ),
        }
        sources = {"this": SRC, **({"before": args.before.resolve()} if args.before else {})}
        for label, src in sources.items():
            for name, argv in cases(python, data).items():
                runs[(label, name)] = (argv, src)
        walls: dict[tuple[str, str], list[float]] = {key: [] for key in runs}
        peaks: dict[tuple[str, str], list[float]] = {key: [] for key in runs}
        for _ in range(args.repeat):  # rounds: each case once per round, interleaved
            for key, (argv, src) in runs.items():
                wall, peak, _ = run(argv, src, homes[key[0]])
                walls[key].append(wall)
                peaks[key].append(peak)
    result: dict[str, object] = {
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "scan_in_process": scan_in_process,
    }
    for label in ("peer", *sources):
        result[label] = {
            name: summary(walls[(group, name)], peaks[(group, name)])
            for group, name in runs
            if group == label
        }
    result["load_average"] = {"before": load_before, "after": os.getloadavg()}
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
