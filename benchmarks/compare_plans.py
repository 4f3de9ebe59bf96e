"""Prove that a change to the engine leaves its plans identical: dump plans before and after, compare them.

    .venv/bin/python benchmarks/compare_plans.py dump N OUT        # bench_engine's inputs at N x N, planned
    .venv/bin/python benchmarks/compare_plans.py fixtures OUT      # every plan the engine's unit tests make
    .venv/bin/python benchmarks/compare_plans.py compare BEFORE AFTER

``dump`` generates the inputs with ``bench_engine.generate`` (same seed, read back from Parquet as the bench
does), plans them and writes every frame of the Plan to ``OUT/<frame>.parquet`` with the frames' dtypes in
``OUT/dtypes.json``. ``fixtures`` runs ``tests/unit/test_engine_rules.py`` and ``test_engine_properties.py``
(hypothesis seed 0) with ``plan_sync`` wrapped so that each plan is dumped to ``OUT/<hash of its inputs>/``:
plans are matched by their inputs, so renamed or added tests do not disturb the comparison. ``compare``
checks every plan present in both folders: same dtypes, and ``pandas.testing.assert_frame_equal`` on the
values (category columns compared as their string values: which unused categories a column carries is not
part of the plan), row order included. Run it with the project root as the current directory.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path

import pandas as pd

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

FIXTURE_TESTS = ("tests/unit/test_engine_rules.py", "tests/unit/test_engine_properties.py")


def write_plan(plan, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    dtypes = {}
    for f in fields(plan):
        frame = getattr(plan, f.name)
        dtypes[f.name] = {c: str(t) for c, t in frame.dtypes.items()}
        frame.to_parquet(out / f"{f.name}.parquet", index=False)
    (out / "dtypes.json").write_text(json.dumps(dtypes, indent=1, sort_keys=True))


def dump(n: int, out: Path) -> None:
    from bench_engine import FRAMES, T0, generate

    from include.company_sync.engine import PlanContext, SyncInputs, plan_sync
    from include.company_sync.settings import parse_settings

    with tempfile.TemporaryDirectory() as tmp:
        generate(n, Path(tmp))
        frames = {name: pd.read_parquet(Path(tmp) / f"{name}.parquet") for name in FRAMES}
    ctx = PlanContext(
        settings=parse_settings({"company_sync_enabled": True}),
        now=pd.Timestamp("2024-06-01", tz="UTC"),
        sync_enabled_at=T0,
        integration_user_id="005000000000000000",
    )
    t = time.perf_counter()
    plan = plan_sync(SyncInputs(**frames), ctx)
    print(f"planned {n:,} x {n:,} in {time.perf_counter() - t:.2f} s")
    write_plan(plan, out)


def _inputs_key(inputs, ctx) -> str:
    h = hashlib.sha1(repr(ctx).encode())
    for f in fields(inputs):
        value = getattr(inputs, f.name)
        h.update(f.name.encode())
        if isinstance(value, pd.DataFrame):
            h.update(repr([(c, str(t)) for c, t in value.dtypes.items()]).encode())
            h.update(pd.util.hash_pandas_object(value.astype("object"), index=False).to_numpy().tobytes())
        else:
            h.update(repr(value).encode())
    return h.hexdigest()[:20]


def fixtures(out: Path) -> None:
    import pytest

    import include.company_sync.engine as engine

    original = engine.plan_sync
    seen: set[str] = set()

    def dumping_plan_sync(inputs, ctx):
        plan = original(inputs, ctx)
        key = _inputs_key(inputs, ctx)
        if key not in seen:
            seen.add(key)
            write_plan(plan, out / key)
        return plan

    engine.plan_sync = dumping_plan_sync  # before the test modules import it
    code = pytest.main([*FIXTURE_TESTS, "-q", "--hypothesis-seed=0"])
    print(f"{len(seen)} distinct plans dumped (pytest exit {int(code)})")


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({c: "str" for c, t in frame.dtypes.items() if isinstance(t, pd.CategoricalDtype)})


def compare_one(before: Path, after: Path) -> list[str]:
    problems = []
    d_before = json.loads((before / "dtypes.json").read_text())
    d_after = json.loads((after / "dtypes.json").read_text())
    if d_before != d_after:
        problems.append(f"{after.name}: dtypes differ: {d_before} != {d_after}")
    for name in d_before:
        a = pd.read_parquet(before / f"{name}.parquet")
        b = pd.read_parquet(after / f"{name}.parquet")
        try:
            pd.testing.assert_frame_equal(_comparable(a), _comparable(b), obj=name)
        except AssertionError as e:
            problems.append(f"{after.name}/{name}: {str(e).splitlines()[0]}")
    return problems


def compare(before: Path, after: Path) -> int:
    if (before / "dtypes.json").exists():
        pairs = [(before, after)]
        only = []
    else:
        keys_b = {p.name for p in before.iterdir() if p.is_dir()}
        keys_a = {p.name for p in after.iterdir() if p.is_dir()}
        pairs = [(before / k, after / k) for k in sorted(keys_b & keys_a)]
        only = [f"{len(keys_b - keys_a)} plan(s) only before", f"{len(keys_a - keys_b)} only after"]
    problems = [p for b, a in pairs for p in compare_one(b, a)]
    rows = sum(len(pd.read_parquet(b / "decisions.parquet")) for b, _ in pairs)
    print(f"compared {len(pairs)} plan(s) ({rows:,} decision rows); {'; '.join(only) or 'same set of plans'}")
    for p in problems[:20]:
        print("DIFF", p)
    print("IDENTICAL" if not problems else f"{len(problems)} difference(s)")
    return 1 if problems else 0


def main() -> None:
    mode, *args = sys.argv[1:]
    if mode == "dump":
        dump(int(args[0]), Path(args[1]))
    elif mode == "fixtures":
        fixtures(Path(args[0]))
    elif mode == "compare":
        sys.exit(compare(Path(args[0]), Path(args[1])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
