"""Benchmarks side by side: the engine's bill-run night and rules against DuckDB and pandas.

    python -m benchmarks.run --profile 100k|1m|5m [--data DIR] [--rules-only] [--json OUT]

Generates the profile's data (or reuses it, see benchmarks/datagen.py), then measures, each
run in its own subprocess (so peak RSS is per measurement; times exclude interpreter start
and imports, except Great Expectations', which a validated night does itself): the engine's
night end to end (`run_night`, fresh SQLite case store, split into ingest / gate /
validation / commit / rules / case store / publish), once with `--no-validate` and once
with the defaults (gate and data-quality validation on), each engine rule alone and all of
them, the DuckDB baseline (all rules and each rule) and the pandas baseline (all rules).
Reports the median wall time (and CPU time) of N runs, the peak RSS (VmHWM) and input rows
per second, checks that DuckDB and pandas find exactly the engine's cases (ids and amounts)
and that the night finds exactly the planted cases, prints issue 12's targets at the
profile (engine / DuckDB, validation's share of the night, peak memory), each met or not,
and writes benchmarks/results/<profile>.json (the targets under "targets"). A run that fails
(e.g. killed out of memory) is reported and the rest goes on. Exits 1 when an output
differs or a measurement failed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from benchmarks import datagen

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NIGHT_STEPS = (
    "load_night",
    "judge_night",
    "validate_inputs",
    "commit_inputs",
    "reconcile",
    "update_cases",
    "publish",
)
ENGINE_KINDS = ("engine", "engine-shard", "shard-overhead")
STEP_NAMES = {
    "load_night": "ingest",
    "judge_night": "gate",
    "validate_inputs": "validation",
    "commit_inputs": "commit",
    "reconcile": "rules",
    "update_cases": "case store",
    "publish": "publish",
}


# -- the measured work, run in a child process ---------------------------------------------


def _peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def _as_cases(frame: pl.DataFrame) -> pl.DataFrame:
    """What the implementations are compared on: case id, rule and amount as text."""
    return frame.select(
        pl.col("case_id"), pl.col("rule_id"), pl.col("amount_at_risk").cast(pl.String)
    )


def worker(
    kind: str, data: Path, rule: str | None, out: Path, shards: int = 1, shard: int | None = None
) -> dict:
    """One measurement; writes the cases found to `out` (Parquet) and returns its figures."""
    day = datagen.NIGHT
    warehouse = data / "warehouse"
    rules = [rule] if rule else None
    steps: dict[str, float] = {}
    if kind in ENGINE_KINDS:  # imported before the clock starts, as the other kinds' are
        from pipelines.night import night_inputs
        from pipelines.rules import evaluate
        from pipelines.storage import LocalStorage
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_start = usage.ru_utime + usage.ru_stime
    if kind in ("night", "night-validated"):
        import pipelines.night as night
        from pipelines.settings import GateSettings

        for name in NIGHT_STEPS:
            setattr(night, name, _timed(getattr(night, name), STEP_NAMES[name], steps))
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            night.run_night(
                str(data / "landing"),
                str(warehouse),
                day,
                db_url=f"sqlite:///{tmp}/recon.db",
                shards=shards,
                validate=kind == "night-validated",
                gate=GateSettings(allow_gap=True),  # the history was written, not run
            )
            seconds = time.perf_counter() - t0
        cases = pl.read_parquet(warehouse / f"cases/business_date={day}/cases.parquet")
    elif kind in ("engine", "engine-shard"):  # the whole night, or shard `shard` of it
        t0 = time.perf_counter()
        cases = evaluate(night_inputs(LocalStorage(warehouse), day, shard, shards), rules)
        seconds = time.perf_counter() - t0
    elif kind == "shard-overhead":
        # What every shard reads whole, whatever its share: the customer split, the
        # inventory, the agreed fees and tonight's bill runs.
        t0 = time.perf_counter()
        inputs = night_inputs(LocalStorage(warehouse), day, 0, shards)
        pl.collect_all([inputs.sims(), inputs.contract_actions(), inputs.tonight()])
        seconds = time.perf_counter() - t0
        cases = pl.DataFrame(schema={"case_id": pl.String, "rule_id": pl.String})
        cases = cases.with_columns(amount_at_risk=pl.lit(None, pl.Decimal(18, 2)))
    elif kind == "duckdb":
        from benchmarks.baselines import duckdb_rules

        t0 = time.perf_counter()
        cases = duckdb_rules.evaluate(warehouse, day, rules)
        seconds = time.perf_counter() - t0
    elif kind == "pandas":
        from benchmarks.baselines import pandas_rules

        t0 = time.perf_counter()
        cases = pl.from_pandas(pandas_rules.evaluate(warehouse, day, rules))
        seconds = time.perf_counter() - t0
    else:
        raise ValueError(f"unknown measurement {kind}")
    _as_cases(cases).write_parquet(out)
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu.ru_utime + cpu.ru_stime - cpu_start,
        "steps": steps,
        "peak_rss_kib": _peak_rss_kib(),
    }


def _timed(fn, name: str, steps: dict[str, float]):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            steps[name] = steps.get(name, 0.0) + time.perf_counter() - t0

    return wrapper


def ensure_night_ingested(data: Path) -> None:
    """The rules-only measurements read the night from the curated history: if it is not
    there yet, ingest it, and compact the history (in child processes, so the parent stays
    small)."""
    curated = data / f"warehouse/curated/billing_lines/business_date={datagen.NIGHT}"
    if not curated.exists():
        code = (
            "import sys; from pipelines.ingest import commit_partition, load_partition; "
            "from pipelines.contract import SOURCES; "
            "from pipelines.storage import LocalStorage; from benchmarks import datagen; "
            "land, wh = LocalStorage(sys.argv[1] + '/landing'), "
            "LocalStorage(sys.argv[1] + '/warehouse'); "
            "[commit_partition(wh, load_partition(land, s, datagen.NIGHT, wh)) for s in SOURCES]"
        )
        subprocess.run([sys.executable, "-c", code, str(data)], cwd=ROOT, check=True)
    # The compacted history in the current layout (a no-op when it is up to date).
    code = (
        "import sys; from pipelines.ingest.compacted import compact; "
        "from pipelines.storage import LocalStorage; compact(LocalStorage(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", code, str(data / "warehouse")], cwd=ROOT, check=True)


# -- the parent: data, repetitions, checks, table ------------------------------------------


def measure(
    kind: str,
    data: Path,
    rule: str | None,
    repeat: int,
    out_dir: Path,
    shards: int = 1,
    warm_up: int = 0,
    shard: int | None = None,
) -> dict:
    """Median seconds of `repeat` child runs (after `warm_up` runs not counted), max peak
    RSS, the cases of the last run; {"failed": why} when a run fails (the benchmark goes
    on)."""
    runs = []
    part = "" if shard is None else f"-shard-{shard}-of-{shards}"
    out = out_dir / f"{kind}-{rule or 'all'}{part}.parquet"
    for run in range(warm_up + repeat):
        load = os.getloadavg()[0]
        cmd = (
            [
                sys.executable,
                "-m",
                "benchmarks.run",
                "--worker",
                kind,
                "--data",
                str(data),
                "--out",
                str(out),
                "--shards",
                str(shards),
            ]
            + (["--rule", rule] if rule else [])
            + ([] if shard is None else ["--shard", str(shard)])
        )
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if done.returncode:
            why = (
                f"killed by signal {-done.returncode} (out of memory?)"
                if done.returncode < 0
                else f"exit code {done.returncode}"
            )
            print(
                f"  {kind} {rule or 'all rules'}: FAILED, {why}\n{done.stderr[-2000:]}", flush=True
            )
            return {"failed": why, "stderr": done.stderr[-2000:], "load1_before": [load]}
        if run >= warm_up:
            runs.append({**json.loads(done.stdout.strip().splitlines()[-1]), "load1": load})
    steps = {name: statistics.median(r["steps"][name] for r in runs) for name in runs[0]["steps"]}
    result = {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs),
        "runs": [round(r["seconds"], 3) for r in runs],
        "peak_rss_mib": round(max(r["peak_rss_kib"] for r in runs) / 1024),
        "load1_before": [round(r["load1"], 2) for r in runs],
        "cases": out,
    }
    if steps:
        result["steps"] = steps
    label = f"{kind} {rule or 'all rules'}" + ("" if shard is None else f" {shard + 1}/{shards}")
    print(
        f"  {label:<45} {result['seconds']:8.2f} s (cpu {result['cpu_seconds']:7.2f} s)  "
        f"{result['peak_rss_mib']:6d} MiB  runs {result['runs']}",
        flush=True,
    )
    return result


def measure_fan_out(data: Path, shards: int, repeat: int, out_dir: Path) -> dict:
    """Each shard of `shards` alone (all nine rules, its own process, as a worker would run
    it), what every shard reads whole (`shard-overhead`), and the union of their cases."""
    per_shard = [
        measure("engine-shard", data, None, repeat, out_dir, shards, shard=k) for k in range(shards)
    ]
    overhead = measure("shard-overhead", data, None, repeat, out_dir, shards)
    result: dict = {"shards": shards, "per_shard": per_shard, "overhead": overhead}
    failed = [m["failed"] for m in [*per_shard, overhead] if "failed" in m]
    if failed:
        return {**result, "failed": "; ".join(failed)}
    union = out_dir / f"engine-fan-out-{shards}.parquet"
    parts = [pl.read_parquet(m.pop("cases")) for m in per_shard]
    pl.concat(parts).unique().write_parquet(union)
    overhead.pop("cases")
    return {
        **result,
        "seconds": max(m["seconds"] for m in per_shard),
        "cpu_seconds": sum(m["cpu_seconds"] for m in per_shard),
        "peak_rss_mib": max(m["peak_rss_mib"] for m in per_shard),
        "cases": union,
    }


def case_set(path: Path) -> set[tuple]:
    return set(pl.read_parquet(path).iter_rows())


def compare(name: str, got: Path, want: Path, rule: str | None = None) -> str | None:
    """None when `got` holds exactly the cases of `want` (of `rule`), else what differs."""
    expected = case_set(want)
    if rule:
        expected = {c for c in expected if c[1] == rule}
    found = case_set(got)
    if found == expected:
        return None
    missing, extra = sorted(expected - found), sorted(found - expected)
    return (
        f"{name}: {len(missing)} engine cases missing, {len(extra)} extra; "
        f"missing {missing[:5]}, extra {extra[:5]}"
    )


def load_data(profile: str, data: Path, cycles: int) -> dict:
    customers = datagen.PROFILES[profile]
    meta_path = data / "_bench.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if (meta.get("format"), meta.get("customers"), meta.get("cycles")) == (
            datagen.FORMAT_VERSION,
            customers,
            cycles,
        ):
            print(f"reusing {data}")
            return meta
    print(f"generating {profile} ({customers} customers) into {data} ...", flush=True)
    t0 = time.perf_counter()
    meta = datagen.generate(data, customers, cycles=cycles)
    meta["generation_seconds"] = round(time.perf_counter() - t0, 1)
    (data / "_bench.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"generated in {meta['generation_seconds']} s")
    return meta


def engine_version() -> str | None:
    """The commit of the engine measured (marked dirty when pipelines/ has local changes)."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode:
        return None
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "pipelines"], capture_output=True, text=True
    ).stdout.strip()
    return head.stdout.strip() + ("-dirty" if dirty else "")


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:6.2f}x" if a and b else "     -"


def _wall(r: dict | None) -> float | None:
    return r["seconds"] if r and "failed" not in r else None


def scale_targets(profile: str, results: dict) -> list[dict]:
    """Issue 12's speed and memory targets at this profile: each figure, its limit, met."""
    targets = []

    def target(name: str, value: float | None, limit: float, unit: str) -> None:
        value = round(value, 3) if value is not None else None
        met = value is not None and value <= limit
        targets.append({"target": name, "value": value, "limit": limit, "unit": unit, "met": met})

    def over(a: dict | None, b: dict | None) -> float | None:
        wa, wb = _wall(a), _wall(b)
        return wa / wb if wa and wb else None

    limit = {"100k": 1.0, "1m": 0.7}.get(profile)
    if limit is not None:
        all_rules = over(results["engine"].get("all"), results["duckdb"].get("all"))
        target("engine / DuckDB, all nine rules", all_rules, limit, "x")
    if profile == "1m":
        for rule in results["rules"]:
            each = over(results["engine"].get(rule), results["duckdb"].get(rule))
            target(f"engine / DuckDB, {rule}", each, 1.0, "x")
    fan_out, whole = results.get("fan_out"), results["engine"].get("all")
    if fan_out and _wall(whole):
        n = fan_out["shards"]
        cpu = fan_out.get("cpu_seconds")
        target(
            f"fan-out: CPU of {n} shards / unsharded", cpu and cpu / whole["cpu_seconds"], 1.3, "x"
        )
        allowed = whole["seconds"] / n + (_wall(fan_out["overhead"]) or 0)
        slowest = _wall(fan_out)
        target(
            f"fan-out: slowest shard / (unsharded / {n} + overhead)",
            slowest and slowest / allowed,
            1.0,
            "x",
        )
    night, validated = results.get("night"), results.get("night_validated")
    if profile in ("100k", "1m") and night:
        target("night with validation / without", over(validated, night), 1.5, "x")
    memory = {"1m": 3 * 1024, "5m": 8 * 1024}.get(profile)
    if memory and validated:
        peak = validated.get("peak_rss_mib") if "failed" not in validated else None
        target("peak RSS of the night, defaults on", peak, memory, "MiB")
    return targets


def print_targets(targets: list[dict]) -> None:
    if not targets:
        return
    print("\ntargets (issue 12)")
    for t in targets:
        value = "failed" if t["value"] is None else f"{t['value']:,.2f} {t['unit']}"
        verdict = "met" if t["met"] else "NOT MET"
        print(f"  {t['target']:<52} {value:>14}  limit {t['limit']:,} {t['unit']}  {verdict}")


def print_table(results: dict, rows: int) -> None:
    """Wall seconds (CPU seconds), peak RSS and ratios, engine / DuckDB / pandas."""

    def secs(r: dict | None) -> str:
        if r and "failed" in r:
            return f"{'failed':>18}"
        return f"{r['seconds']:8.2f} ({r['cpu_seconds']:7.2f})" if r else f"{'-':>18}"

    def mib(r: dict | None) -> str:
        return f"{r['peak_rss_mib']:7d}" if r and "failed" not in r else f"{'-':>7}"

    print(f"\ninput rows judged: {rows:,}")
    for key, label in (("night", "--no-validate"), ("night_validated", "validation on")):
        night = results.get(key)
        if night and "failed" in night:
            print(f"engine night end to end, {label}: FAILED, {night['failed']}")
        elif night:
            steps = "  ".join(f"{k} {v:.2f}" for k, v in night["steps"].items())
            print(
                f"engine night end to end, {label}: {night['seconds']:.2f} s "
                f"(cpu {night['cpu_seconds']:.2f} s), peak {night['peak_rss_mib']} MiB, "
                f"{rows / night['seconds']:,.0f} rows/s  ({steps})"
            )
    print(
        f"\n{'rules: wall s (cpu s)':<30}{'engine':>18}{'duckdb':>18}{'pandas':>18}"
        f"{'eng MiB':>8}{'duck MiB':>9}{'pd MiB':>8}{'eng/duck':>9}{'eng/pd':>8}"
    )
    for rule in ["all", *results["rules"]]:
        e, d, p = (results[g].get(rule) for g in ("engine", "duckdb", "pandas"))
        if not (e or d or p):
            continue
        print(
            f"{rule[:29]:<30}{secs(e)}{secs(d)}{secs(p)}{mib(e)} {mib(d)} {mib(p)}"
            f"{ratio(_wall(e), _wall(d)):>9}{ratio(_wall(e), _wall(p)):>8}"
        )
    for name in ("engine", "duckdb", "pandas"):
        r = results[name].get("all")
        if _wall(r):
            print(f"{name} all rules: {rows / r['seconds']:,.0f} input rows/s")
    fan_out = results.get("fan_out")
    if fan_out and "failed" not in fan_out:
        shards = "  ".join(
            f"{k + 1}: {m['seconds']:.2f} s (cpu {m['cpu_seconds']:.2f}) {m['peak_rss_mib']} MiB"
            for k, m in enumerate(fan_out["per_shard"])
        )
        print(
            f"fan-out, all rules on {fan_out['shards']} shards, each in its own process: {shards}; "
            f"cpu in all {fan_out['cpu_seconds']:.2f} s; every shard reads whole "
            f"{fan_out['overhead']['seconds']:.2f} s of it"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--profile", choices=sorted(datagen.PROFILES))
    parser.add_argument("--data", type=Path, help="data folder (default benchmarks/data/<profile>)")
    parser.add_argument("--rules-only", action="store_true", help="skip the end-to-end night")
    parser.add_argument(
        "--json", type=Path, help="results file (default benchmarks/results/<profile>.json)"
    )
    parser.add_argument("--repeat", type=int, help="runs per measurement (default 3, 1 for 5m)")
    parser.add_argument(
        "--cycles",
        type=int,
        default=4,
        help="bill cycles; the night bills 1/cycles of the accounts",
    )
    parser.add_argument(
        "--skip-pandas",
        action="store_true",
        help="leave pandas out (always left out at 5m: it holds the whole history in memory)",
    )
    parser.add_argument(
        "--shards",
        type=int,
        default=1,
        help="customer shards of the engine's night (run one after another)",
    )
    parser.add_argument(
        "--fan-out",
        type=int,
        default=4,
        help="shards of the rules measured one by one, each in its own process (0: none)",
    )
    parser.add_argument("--shard", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--rule", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        figures = worker(args.worker, args.data, args.rule, args.out, args.shards, args.shard)
        print(json.dumps(figures))
        return 0
    if not args.profile:
        parser.error("--profile is required")
    data = (args.data or HERE / "data" / args.profile).resolve()
    repeat = args.repeat or (1 if args.profile == "5m" else 3)
    meta = load_data(args.profile, data, args.cycles)
    rows = sum(meta["rows"]["history"].values()) + sum(meta["rows"]["night"].values())
    rule_ids = list(meta["plants"])
    results: dict = {"night": None, "engine": {}, "duckdb": {}, "pandas": {}, "rules": rule_ids}
    started_load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp)
        print(f"measuring, {repeat} run(s) each; load average {started_load}", flush=True)
        if not args.rules_only:
            # Not counted: the first run of the night commits it into the compacted
            # history and the key index the datagen world lacks; later ones rerun it.
            results["night"] = measure("night", data, None, repeat, out_dir, args.shards, 1)
            results["night_validated"] = measure(
                "night-validated", data, None, repeat, out_dir, args.shards
            )
        ensure_night_ingested(data)
        results["engine"]["all"] = measure("engine", data, None, repeat, out_dir)
        if args.fan_out > 1:
            results["fan_out"] = measure_fan_out(data, args.fan_out, repeat, out_dir)
        for rule in rule_ids:
            results["engine"][rule] = measure("engine", data, rule, repeat, out_dir)
        results["duckdb"]["all"] = measure("duckdb", data, None, repeat, out_dir)
        for rule in rule_ids:
            results["duckdb"][rule] = measure("duckdb", data, rule, repeat, out_dir)
        if args.skip_pandas or args.profile == "5m":
            print(
                "  pandas skipped: it holds the whole history in memory (11.4 GiB at 1m, "
                "so about 5x that at 5m)"
            )
        else:
            results["pandas"]["all"] = measure("pandas", data, None, repeat, out_dir)
        measured = [
            (f"engine {name.replace('_', ' ')}", results[name], None)
            for name in ("night", "night_validated")
            if results.get(name)
        ]
        measured += [
            (f"{group} {r}", m, None if r == "all" else r)
            for group in ("engine", "duckdb", "pandas")
            for r, m in results[group].items()
        ]
        if results.get("fan_out"):
            measured.append(("engine fan-out, the shards' cases", results["fan_out"], None))
        failed = [f"{name}: {m['failed']}" for name, m, _ in measured if "failed" in m]
        ok = [(name, m, rule) for name, m, rule in measured if "failed" not in m]
        reference = next(m for _, m, rule in ok if rule is None)
        problems = [
            p for name, m, rule in ok if (p := compare(name, m["cases"], reference["cases"], rule))
        ]
        found = pl.read_parquet(reference["cases"]).group_by("rule_id").len()
        per_rule = dict(found.iter_rows())
        planted = {r: p["planted"] for r, p in meta["plants"].items()}
        if per_rule != planted:
            problems.append(f"cases per rule {per_rule} differ from the plants {planted}")
    for _, m, _ in measured:
        m.pop("cases", None)
    print_table(results, rows)
    targets = scale_targets(args.profile, results)
    print_targets(targets)
    report = {
        "profile": args.profile,
        "data": meta,
        "input_rows": rows,
        "repeat": repeat,
        "night_shards": args.shards,
        "engine_commit": engine_version(),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_start": started_load,
            "load_average_end": os.getloadavg(),
        },
        "results": results,
        "targets": targets,
        "cases_per_rule": per_rule,
        "identical_outputs": not problems,
        "problems": problems,
        "failed": failed,
    }
    target = args.json or HERE / "results" / f"{args.profile}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\ncases per rule: {per_rule}\nresults: {target}")
    if failed:
        print("\nFAILED measurements:\n" + "\n".join(failed), file=sys.stderr)
    if problems:
        print("\nOUTPUTS DIFFER:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    print("every output that completed holds the same cases (case ids and amounts)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
