"""Measure tfpcheck against the bare baseline, side by side, on this machine.

    python bench/bench.py [--repeat 3] [--json] [--only static|single|twenty|cached ...]

Every figure is the median of --repeat runs of a fresh process (interpreter start included),
measured from outside: wall time, and peak memory of the whole process tree, two ways:
"max" is the largest peak RSS of any one process of the tree (os.wait4's ru_maxrss, which
Linux takes over the child and every descendant it waited for), "sum" is the largest sum of
the RSS of all live processes of the tree, sampled every 20 ms (what a probe running in a
worker process beside its parent really costs). Ratios use "sum".

Scenarios:
  static     `tfpcheck --static --no-cache MODEL` on every fixture model, and which heavy
             modules (tensorflow, tensorflow_probability, keras, tf_keras) it imported, or
             "worker" when it started the probe worker (which imports them);
  probe      `tfpcheck --no-cache MODEL` against the baseline: a plain Python process that
             imports TensorFlow, TFP and the Keras that wrote the file, loads the model and
             runs one batch forward and backward;
  20 models  one `tfpcheck --no-cache` call on 20 models against one baseline process that
             imports once and loads + runs one batch on each of the 20;
  cached     the same model re-checked with a warm result cache (and its heavy imports).
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "fixtures" / "models"
LOSSES = ROOT / "fixtures" / "losses.py"
HEAVY = ("tensorflow", "tensorflow_probability", "keras", "tf_keras")
PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_EVERY = 0.02

# Runs tfpcheck's CLI like the console script does, then reports which heavy modules it
# imported (to a file: stdout and stderr belong to tfpcheck).
TFPCHECK = """
import json, os, sys
from tfpcheck.cli import main
code = main(sys.argv[1:])
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {heavy!r})
# The probe runs in a worker process: having loaded its supervisor means TensorFlow was
# imported there, even though this process never imported it.
if "tfpcheck.probe.supervisor" in sys.modules:
    heavy.append("worker")
with open(os.environ["TFPCHECK_BENCH_REPORT"], "w") as report:
    json.dump({{"exit": code, "heavy": heavy}}, report)
sys.exit(code)
"""

# The bare baseline: what any check of these models must pay at least.
BASELINE = """
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
import tensorflow_probability as tfp
specs = [arg.split("=", 1) for arg in sys.argv[1:]]
flavors = {flavor for flavor, _ in specs}
if "tf_keras" in flavors:
    import tf_keras
if "keras3" in flavors:
    import keras
losses = []
for flavor, path in specs:
    library = tf_keras if flavor == "tf_keras" else keras
    model = library.models.load_model(path, compile=False, safe_mode=False)
    x = [tf.random.normal((32, *t.shape[1:])) for t in model.inputs]
    with tf.GradientTape() as tape:
        out = model(x[0] if len(x) == 1 else x, training=False)
        if hasattr(out, "log_prob"):
            loss = -tf.reduce_mean(out.log_prob(tf.stop_gradient(out.sample())))
        else:
            loss = tf.reduce_mean(tf.square(out))
    grads = tape.gradient(loss, model.trainable_variables)
    assert any(g is not None for g in grads), path
    losses.append(float(loss))
with open(os.environ["TFPCHECK_BENCH_REPORT"], "w") as report:
    json.dump({"exit": 0, "heavy": sorted({m.split(".")[0] for m in sys.modules} & HEAVY)}, report)
""".replace("HEAVY", repr(set(HEAVY)))

# Models the probe checks without a usage error, with the Keras that wrote them.
CLEAN = [
    ("tf_keras", "tfk_categorical_logits.keras"),
    ("tf_keras", "tfk_categorical_logits.h5"),
    ("tf_keras", "tfk_savedmodel"),
    ("tf_keras", "tfk_cnn_onehot_nll.keras"),
    ("tf_keras", "tfk_cnn_categorical_logits.keras"),
    ("tf_keras", "tfk_normal_dense2.keras"),
    ("tf_keras", "tfk_bernoulli_logits.keras"),
    ("tf_keras", "tfk_softmax_categorical_probs.keras"),
    ("tf_keras", "tfk_independent_normal.keras"),
    ("keras3", "k3_softmax_probs.keras"),
    ("keras3", "k3_logits_from_logits.keras"),
    ("keras3", "k3_lambda.keras"),
]
# One model per kind for the one-model comparison.
SINGLE = ["k3_softmax_probs.keras", "tfk_normal_dense2.keras", "tfk_cnn_onehot_nll.keras"]
# The probe options every probe run uses: trust the fixtures, find their named loss.
PROBE_ARGS = ["--unsafe", "--custom-objects", str(LOSSES), "-q"]


@dataclass
class Run:
    seconds: float
    max_rss_mib: float
    sum_rss_mib: float
    exit: int | None
    heavy: list[str] = field(default_factory=list)


@dataclass
class Figure:
    name: str
    seconds: float
    max_rss_mib: float
    sum_rss_mib: float
    heavy: list[str]
    runs: list[Run]


def _children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(p) for p in handle.read().split())
        except OSError:
            pass
    return found


def _tree_rss(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/statm") as handle:
                total += int(handle.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        stack.extend(_children(current))
    return total


def run_once(argv: list[str], env: dict[str, str]) -> Run:
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch, "report.json")
        env = dict(env, TFPCHECK_BENCH_REPORT=str(report))
        peak = [0]
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT
        )
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _tree_rss(proc.pid))
                done.wait(SAMPLE_EVERY)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stderr = proc.stderr.read() if proc.stderr else b""
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if not report.exists():
            tail = stderr.decode(errors="replace").strip().splitlines()[-5:]
            raise SystemExit(f"bench: {' '.join(argv[:3])} ... failed:\n" + "\n".join(tail))
        data = json.loads(report.read_text())
    max_rss = usage.ru_maxrss / 1024  # KiB on Linux
    return Run(seconds, max_rss, max(peak[0] / 2**20, max_rss), data["exit"], data["heavy"])


def _figure(name: str, runs: list[Run]) -> Figure:
    heavy = sorted({m for r in runs for m in r.heavy})
    print(f"  {name}: {statistics.median(r.seconds for r in runs):.2f} s", file=sys.stderr)
    return Figure(
        name,
        statistics.median(r.seconds for r in runs),
        statistics.median(r.max_rss_mib for r in runs),
        statistics.median(r.sum_rss_mib for r in runs),
        heavy,
        runs,
    )


def measure(name: str, argv: list[str], env: dict[str, str], repeat: int) -> Figure:
    return _figure(name, [run_once(argv, env) for _ in range(repeat)])


def measure_pair(
    names: tuple[str, str], argvs: tuple[list[str], list[str]], env: dict[str, str], repeat: int
) -> tuple[Figure, Figure]:
    """Baseline and tfpcheck run alternately, so a busy machine slows both alike."""
    first: list[Run] = []
    second: list[Run] = []
    for _ in range(repeat):
        first.append(run_once(argvs[0], env))
        second.append(run_once(argvs[1], env))
    return _figure(names[0], first), _figure(names[1], second)


def ratio(base: Figure, probe: Figure, attribute: str) -> float:
    """The median of the run-by-run ratios (each pair ran back to back)."""
    pairs = zip(base.runs, probe.runs, strict=True)
    return statistics.median(getattr(p, attribute) / getattr(b, attribute) for b, p in pairs)


def tfpcheck_argv(*args: str) -> list[str]:
    return [sys.executable, "-c", TFPCHECK.format(heavy=set(HEAVY)), *args]


def baseline_argv(models: list[tuple[str, str]]) -> list[str]:
    return [sys.executable, "-c", BASELINE, *(f"{f}={MODELS / m}" for f, m in models)]


def environment(cache: Path) -> dict[str, str]:
    env = dict(os.environ, TFPCHECK_CACHE_DIR=str(cache))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    return env


def machine() -> dict[str, object]:
    from importlib import metadata

    memory = None
    try:
        with open("/proc/meminfo") as handle:
            kib = int(handle.readline().split()[1])
        memory = f"{kib / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    versions = {}
    for name in ("tensorflow", "tensorflow-probability", "tf-keras", "keras"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "libraries": versions,
    }


SCENARIOS = ("static", "single", "twenty", "cached")


def _compile_tfpcheck() -> None:
    """Byte-compile tfpcheck as an installed wheel is: an editable install under
    PYTHONDONTWRITEBYTECODE would otherwise compile its source on every call (~0.05 s)."""
    spec = importlib.util.find_spec("tfpcheck")
    if spec is not None and spec.origin is not None:
        compileall.compile_dir(Path(spec.origin).parent, quiet=1)


def bench(repeat: int, only: tuple[str, ...] = SCENARIOS) -> dict[str, object]:
    figures: dict[str, object] = {}
    _compile_tfpcheck()
    with tempfile.TemporaryDirectory() as scratch:
        env = environment(Path(scratch, "cache"))
        if "static" in only:
            print("static tier", file=sys.stderr)
            figures["static"] = [
                measure(p.name, tfpcheck_argv("--static", "--no-cache", "-q", str(p)), env, repeat)
                for p in sorted(MODELS.iterdir())
            ]
        if "single" in only:
            figures["single"] = _single(env, repeat)
        if "twenty" in only:
            figures["twenty"] = _twenty(env, repeat)
        if "cached" in only:
            figures["cached"] = _cached(env, repeat)
    return figures


def _single(env: dict[str, str], repeat: int) -> list[tuple[str, Figure, Figure]]:
    print("one model: baseline and probe", file=sys.stderr)
    flavors = dict((m, f) for f, m in CLEAN)
    single = []
    for name in SINGLE:
        argv = tfpcheck_argv("--no-cache", *PROBE_ARGS, str(MODELS / name))
        base, probe = measure_pair(
            (f"baseline {name}", f"tfpcheck {name}"),
            (baseline_argv([(flavors[name], name)]), argv),
            env,
            repeat,
        )
        single.append((name, base, probe))
    return single


def _twenty(env: dict[str, str], repeat: int) -> tuple[Figure, Figure]:
    print("20 models in one call", file=sys.stderr)
    twenty = [CLEAN[i % len(CLEAN)] for i in range(20)]
    argv = tfpcheck_argv("--no-cache", *PROBE_ARGS, *(str(MODELS / m) for _, m in twenty))
    return measure_pair(("baseline 20", "tfpcheck 20"), (baseline_argv(twenty), argv), env, repeat)


def _cached(env: dict[str, str], repeat: int) -> list[Figure]:
    print("warm cache", file=sys.stderr)
    cached = []
    for name in SINGLE:
        argv = tfpcheck_argv(*PROBE_ARGS, str(MODELS / name))
        run_once(argv, env)  # fills the cache
        cached.append(measure(f"cached {name}", argv, env, repeat))
    return cached


def _mib(figure: Figure) -> str:
    return f"{figure.max_rss_mib:6.0f} /{figure.sum_rss_mib:6.0f}"


def _verdict(value: float, limit: float) -> str:
    return "met" if value <= limit else f"missed by {value / limit - 1:.0%}"


def report(figures: dict[str, object], repeat: int) -> tuple[str, dict[str, object]]:
    lines: list[str] = []
    summary: dict[str, object] = {"machine": machine(), "repeat": repeat, "targets": {}}
    targets: dict[str, object] = summary["targets"]  # type: ignore[assignment]
    m = summary["machine"]
    lines.append(
        f"machine: {m['platform']}, {m['cpus']} CPUs, {m['memory']}, Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in m["libraries"].items())  # type: ignore[union-attr]
    )
    lines.append(
        f"medians of {repeat} runs of a fresh process (baseline and tfpcheck alternate; a ratio "
        "is the median of run-by-run ratios); RSS MiB = max of one process / sampled sum over "
        "the process tree (ratios use the sum)"
    )
    row = "{:<44} {:>8} {:>15} {:>9} {:>9}  {}"
    lines.append(row.format("", "time s", "RSS max / sum", "t ratio", "RSS ratio", "heavy"))

    if "static" in figures:
        static: list[Figure] = figures["static"]  # type: ignore[assignment]
        for figure in static:
            heavy = ",".join(figure.heavy) or "none"
            lines.append(
                row.format(
                    f"static {figure.name}", f"{figure.seconds:.3f}", _mib(figure), "", "", heavy
                )
            )
        worst = max(f.seconds for f in static)
        typical = statistics.median(f.seconds for f in static)
        imported = sorted({m for f in static for m in f.heavy})
        targets["static"] = {
            "median_s": round(typical, 3),
            "max_s": round(worst, 3),
            "target_s": 0.3,
            "verdict": _verdict(typical, 0.3),
            "heavy_imports": imported,
        }

    rss_ratios: list[float] = []
    if "single" in figures:
        time_ratios = []
        for name, base, probe in figures["single"]:  # type: ignore[union-attr]
            t_ratio, r_ratio = ratio(base, probe, "seconds"), ratio(base, probe, "sum_rss_mib")
            time_ratios.append(t_ratio)
            rss_ratios.append(r_ratio)
            lines.append(
                row.format(
                    f"baseline {name}",
                    f"{base.seconds:.2f}",
                    _mib(base),
                    "",
                    "",
                    ",".join(base.heavy),
                )
            )
            lines.append(
                row.format(
                    f"tfpcheck {name}",
                    f"{probe.seconds:.2f}",
                    _mib(probe),
                    f"{t_ratio:.2f}x",
                    f"{r_ratio:.2f}x",
                    ",".join(probe.heavy),
                )
            )
        targets["probe"] = {
            "ratios": [round(r, 2) for r in time_ratios],
            "target": 1.25,
            "verdict": _verdict(max(time_ratios), 1.25),
        }

    if "twenty" in figures:
        base20, probe20 = figures["twenty"]  # type: ignore[misc]
        ratio20 = ratio(base20, probe20, "seconds")
        rss20 = ratio(base20, probe20, "sum_rss_mib")
        lines.append(
            row.format(
                "baseline 20 models",
                f"{base20.seconds:.2f}",
                _mib(base20),
                "",
                "",
                ",".join(base20.heavy),
            )
        )
        lines.append(
            row.format(
                "tfpcheck 20 models, one call",
                f"{probe20.seconds:.2f}",
                _mib(probe20),
                f"{ratio20:.2f}x",
                f"{rss20:.2f}x",
                ",".join(probe20.heavy),
            )
        )
        targets["twenty"] = {
            "ratio": round(ratio20, 2),
            "target": 1.25,
            "verdict": _verdict(ratio20, 1.25),
        }
        rss_ratios.append(rss20)

    if rss_ratios:
        targets["rss"] = {
            "ratios": [round(r, 2) for r in rss_ratios],
            "target": 1.2,
            "verdict": _verdict(max(rss_ratios), 1.2),
        }
    if "cached" in figures:
        cached: list[Figure] = figures["cached"]  # type: ignore[assignment]
        for figure in cached:
            lines.append(
                row.format(
                    f"cached {figure.name.split(' ', 1)[1]}",
                    f"{figure.seconds:.3f}",
                    _mib(figure),
                    "",
                    "",
                    ",".join(figure.heavy) or "none",
                )
            )
        slowest = max(f.seconds for f in cached)
        targets["cached"] = {
            "max_s": round(slowest, 3),
            "target_s": 0.3,
            "verdict": _verdict(slowest, 0.3),
            "heavy_imports": sorted({m for f in cached for m in f.heavy}),
        }

    lines.append("")
    lines.append("targets:")
    if "static" in targets:
        s = targets["static"]
        lines.append(
            f"  static tier <= 0.3 s/call: median {s['median_s']} s, slowest {s['max_s']} s "
            f"-> {s['verdict']}; heavy imports: {s['heavy_imports'] or 'none'}"
        )
    if "probe" in targets:
        p = targets["probe"]
        lines.append(f"  probe <= 1.25x baseline: {p['ratios']} -> {p['verdict']}")
    if "twenty" in targets:
        t = targets["twenty"]
        lines.append(f"  20 models <= 1.25x baseline: {t['ratio']}x -> {t['verdict']}")
    if "cached" in targets:
        c = targets["cached"]
        lines.append(
            f"  cached re-check <= 0.3 s: slowest {c['max_s']} s -> {c['verdict']}; "
            f"heavy imports: {c['heavy_imports'] or 'none'}"
        )
    if "rss" in targets:
        r = targets["rss"]
        lines.append(f"  peak RSS <= 1.2x baseline: {r['ratios']} -> {r['verdict']}")
    return "\n".join(lines), summary


def _as_json(figures: dict[str, object], summary: dict[str, object]) -> str:
    def figure(f: Figure) -> dict[str, object]:
        return asdict(f)

    doc = dict(summary)
    if "static" in figures:
        doc["static"] = [figure(f) for f in figures["static"]]  # type: ignore[union-attr]
    if "single" in figures:
        doc["single"] = [
            {"model": name, "baseline": figure(b), "tfpcheck": figure(p)}
            for name, b, p in figures["single"]  # type: ignore[union-attr]
        ]
    if "twenty" in figures:
        base20, probe20 = figures["twenty"]  # type: ignore[misc]
        doc["twenty"] = {"baseline": figure(base20), "tfpcheck": figure(probe20)}
    if "cached" in figures:
        doc["cached"] = [figure(f) for f in figures["cached"]]  # type: ignore[union-attr]
    return json.dumps(doc, indent=2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--json", action="store_true", help="write the figures as JSON")
    parser.add_argument(
        "--only",
        action="append",
        choices=SCENARIOS,
        help="measure only this scenario (repeatable; default: all)",
    )
    args = parser.parse_args()
    figures = bench(max(1, args.repeat), tuple(args.only or SCENARIOS))
    table, summary = report(figures, max(1, args.repeat))
    print(_as_json(figures, summary) if args.json else table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
