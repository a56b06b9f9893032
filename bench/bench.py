"""Measure tfpcheck against the bare baseline, side by side, on this machine.

    python bench/bench.py [--repeat 3] [--json] [--only SCENARIO ...]

Every figure is the median of --repeat runs of a fresh process (interpreter start included),
measured from outside: wall time, and peak memory of the whole process tree, two ways:
"max" is the largest peak RSS of any one process of the tree (os.wait4's ru_maxrss, which
Linux takes over the child and every descendant it waited for), "sum" is the largest sum of
the RSS of all live processes of the tree, sampled every 20 ms (what a probe running in a
worker process beside its parent really costs). Ratios use "sum". Where two commands are
compared, they run alternately, run by run, so a busy machine slows both alike.

Scenarios (`--only` names):
  static    `tfpcheck --static --no-cache MODEL` on every fixture model, and which heavy
            modules (tensorflow, tensorflow_probability, keras, tf_keras) it imported, or
            "worker" when it started the probe worker (which imports them); the .h5 files
            are a row of their own, beside the time `import h5py` takes alone;
  single    `tfpcheck --no-cache MODEL` on three small fixtures against the baseline: a plain
            Python process that imports TensorFlow, TFP and the Keras that wrote the file,
            loads the model and runs one batch of 32 forward and backward;
  twenty    one tfpcheck call on 20 models (the 12 clean fixtures, cycled) against one
            baseline process that imports once and loads + runs one batch on each;
  cached    the single models re-checked with a warm result cache (and its heavy imports);
  resnet    a tf_keras ResNet50 (random weights, no top, average pooling) -> Dense(10) ->
            Categorical(logits), at 128x128 and 224x224, against the baseline;
  distinct  20 distinct small models (tf_keras heads Normal, Categorical, Bernoulli,
            IndependentNormal and Keras 3 tensor heads, at several widths) in one call,
            against the baseline on the same 20;
  jobs      the same 20 models with `tfpcheck --jobs 2` against `tfpcheck --jobs 1`, and
            `--jobs 1` on the first of them alone: what each worker pays before its first
            result (the command, the worker's TensorFlow import, a first probe).

The models of resnet, distinct and jobs are built once per run into a temporary directory by
bench/build_models.py, in processes of their own: this process never imports TensorFlow.
The output ends with one table of the goals, each met or missed, and the machine.
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
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "fixtures" / "models"
LOSSES = ROOT / "fixtures" / "losses.py"
BUILDER = ROOT / "bench" / "build_models.py"
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
# One model per kind for the one-model comparison, and what each stands for in the goals.
SINGLE = {
    "tfk_normal_dense2.keras": "small tf_keras regression model",
    "k3_softmax_probs.keras": "small Keras 3 classifier",
    "tfk_cnn_onehot_nll.keras": "small tf_keras CNN",
}
# The probe options the fixture runs use: trust the fixtures, find their named loss.
PROBE_ARGS = ["--unsafe", "--custom-objects", str(LOSSES), "-q"]
# The built models hold lambdas and need no custom objects.
BUILT_ARGS = ["--no-cache", "--unsafe", "-q"]

RESNET_SIZES = (128, 224)
# tf_keras heads on Dense(hidden, relu): Normal (softplus scale on Dense(2)), Categorical and
# Bernoulli logits, IndependentNormal. tfp.layers need tf_keras, so the Keras 3 models end in
# a tensor and a compiled Keras loss instead (see build_models.py).
TFK_HEADS = ("normal", "categorical", "bernoulli", "independent_normal")
K3_HEADS = ("k3_logits_scce", "k3_logit_bce", "k3_regression_mse")
# (input width, hidden width) of the tf_keras models (4 heads x 4 = 16) and of the Keras 3
# ones (4): every one of the 20 differs from the others in its head or its widths.
TFK_WIDTHS = ((4, 16), (8, 32), (16, 64), (32, 128))
K3_WIDTHS = ((6, 24), (12, 48), (24, 96), (48, 192))

# Goals: a ratio to the baseline, a ratio between --jobs 2 and --jobs 1, seconds per call.
TIME_GOAL = 1.25
JOBS_GOAL = 0.65
RSS_GOAL = 1.2
SECONDS_GOAL = 0.3


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


@dataclass
class Pair:
    """Two commands measured alternately: the baseline (or --jobs 1) and tfpcheck."""

    case: str
    baseline: Figure
    tfpcheck: Figure

    def ratio(self, attribute: str) -> float:
        """The median of the run-by-run ratios (each pair ran back to back)."""
        pairs = zip(self.baseline.runs, self.tfpcheck.runs, strict=True)
        return statistics.median(getattr(p, attribute) / getattr(b, attribute) for b, p in pairs)


@dataclass
class Results:
    static: list[Figure] = field(default_factory=list)
    single: list[Pair] = field(default_factory=list)
    twenty: Pair | None = None
    cached: list[Figure] = field(default_factory=list)
    resnet: list[Pair] = field(default_factory=list)
    distinct: Pair | None = None
    jobs: Pair | None = None
    # `--jobs 1` on the first of the jobs models alone: the command's and its worker's start
    # and one probe, which every worker pays before its first result and none can share
    jobs_first: Figure | None = None
    # importing h5py (and the NumPy it needs) alone, beyond Python's own start: what reading
    # an .h5 file adds to a static check before it reads a byte
    h5py_import_seconds: float | None = None


@dataclass(frozen=True)
class Spec:
    """A model build_models.py writes: `kind` is the head (or "resnet50"), `inputs` the input
    width (the image side for a ResNet)."""

    flavor: str
    kind: str
    inputs: int
    hidden: int = 0
    index: int = 0

    @property
    def file(self) -> str:
        widths = f"{self.inputs}x{self.hidden}" if self.hidden else str(self.inputs)
        return f"{self.index:02d}_{self.flavor}_{self.kind}_{widths}.keras"


Model = tuple[str, Path]  # (flavor, path): what the baseline needs to load a model


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
    case: str,
    argvs: tuple[list[str], list[str]],
    env: dict[str, str],
    repeat: int,
    labels: tuple[str, str] = ("baseline", "tfpcheck"),
) -> Pair:
    """The two commands (the baseline and tfpcheck, or --jobs 1 and --jobs 2) run
    alternately, so a busy machine slows both alike."""
    first: list[Run] = []
    second: list[Run] = []
    for _ in range(repeat):
        first.append(run_once(argvs[0], env))
        second.append(run_once(argvs[1], env))
    _warn_unchecked(case, first + second)
    return Pair(
        case, _figure(f"{case}: {labels[0]}", first), _figure(f"{case}: {labels[1]}", second)
    )


def _warn_unchecked(case: str, runs: list[Run]) -> None:
    # Exit status 2 means a model was not checked: the figure is then not a full probe. (The
    # baseline's reports always say 0.)
    if any(r.exit not in (0, 1) for r in runs):
        print(f"  warning: {case}: exit statuses {[r.exit for r in runs]}", file=sys.stderr)


def tfpcheck_argv(*args: str) -> list[str]:
    return [sys.executable, "-c", TFPCHECK.format(heavy=set(HEAVY)), *args]


def baseline_argv(models: list[Model]) -> list[str]:
    return [sys.executable, "-c", BASELINE, *(f"{f}={p}" for f, p in models)]


def fixture(flavor: str, name: str) -> Model:
    return flavor, MODELS / name


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


SCENARIOS = ("static", "single", "twenty", "cached", "resnet", "distinct", "jobs")


def _compile_tfpcheck() -> None:
    """Byte-compile tfpcheck as an installed wheel is: an editable install under
    PYTHONDONTWRITEBYTECODE would otherwise compile its source on every call (~0.05 s)."""
    spec = importlib.util.find_spec("tfpcheck")
    if spec is not None and spec.origin is not None:
        compileall.compile_dir(Path(spec.origin).parent, quiet=1)


# --------------------------------------------------------------------------------------------
# Models built for this run
# --------------------------------------------------------------------------------------------


def resnet_specs() -> list[Spec]:
    return [Spec("tf_keras", "resnet50", size, index=i) for i, size in enumerate(RESNET_SIZES)]


def distinct_specs() -> list[Spec]:
    """20 models, no two alike: each tf_keras head at every width, then the Keras 3 heads."""
    specs = [
        Spec("tf_keras", head, inputs, hidden, index=len(TFK_HEADS) * w + h)
        for w, (inputs, hidden) in enumerate(TFK_WIDTHS)
        for h, head in enumerate(TFK_HEADS)
    ]
    for k, (inputs, hidden) in enumerate(K3_WIDTHS):
        specs.append(Spec("keras3", K3_HEADS[k % len(K3_HEADS)], inputs, hidden, len(specs)))
    return specs


def build(specs: list[Spec], directory: Path, env: dict[str, str]) -> list[Model]:
    """Writes each model with the Keras it is for: one builder process per flavor."""
    directory.mkdir(parents=True, exist_ok=True)
    for flavor in sorted({s.flavor for s in specs}):
        mine = [dict(asdict(s), file=s.file) for s in specs if s.flavor == flavor]
        print(f"building {len(mine)} {flavor} models", file=sys.stderr)
        done = subprocess.run(
            [sys.executable, str(BUILDER), flavor, str(directory)],
            input=json.dumps(mine),
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
        )
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-5:]
            raise SystemExit(f"bench: building {flavor} models failed:\n" + "\n".join(tail))
    return [(s.flavor, directory / s.file) for s in specs]


# --------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------


def bench(repeat: int, only: tuple[str, ...] = SCENARIOS) -> Results:
    results = Results()
    _compile_tfpcheck()
    with tempfile.TemporaryDirectory() as scratch:
        env = environment(Path(scratch, "cache"))
        if "static" in only:
            results.static = _static(env, repeat)
            results.h5py_import_seconds = _import_seconds("h5py", env, repeat)
        if "single" in only:
            results.single = _single(env, repeat)
        if "twenty" in only:
            results.twenty = _twenty(env, repeat)
        if "cached" in only:
            results.cached = _cached(env, repeat)
        if "resnet" in only:
            resnets = build(resnet_specs(), Path(scratch, "resnet"), env)
            results.resnet = _resnet(resnets, env, repeat)
        if "distinct" in only or "jobs" in only:
            distinct = build(distinct_specs(), Path(scratch, "distinct"), env)
            if "distinct" in only:
                results.distinct = _distinct(distinct, env, repeat)
            if "jobs" in only:
                results.jobs = _jobs(distinct, env, repeat)
                results.jobs_first = _jobs_first(distinct, env, repeat)
    return results


def _static(env: dict[str, str], repeat: int) -> list[Figure]:
    print("static tier", file=sys.stderr)
    return [
        measure(p.name, tfpcheck_argv("--static", "--no-cache", "-q", str(p)), env, repeat)
        for p in sorted(MODELS.iterdir())
    ]


def _import_seconds(module: str, env: dict[str, str], repeat: int) -> float:
    """Median wall time of `python -c "import MODULE"` beyond that of `python -c pass`."""

    def wall(code: str) -> float:
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)
            runs.append(time.perf_counter() - started)
        return statistics.median(runs)

    return max(0.0, wall(f"import {module}") - wall("pass"))


def _single(env: dict[str, str], repeat: int) -> list[Pair]:
    print("one model: baseline and probe", file=sys.stderr)
    flavors = {m: f for f, m in CLEAN}
    return [
        measure_pair(
            name,
            (
                baseline_argv([fixture(flavors[name], name)]),
                tfpcheck_argv("--no-cache", *PROBE_ARGS, str(MODELS / name)),
            ),
            env,
            repeat,
        )
        for name in SINGLE
    ]


def _twenty(env: dict[str, str], repeat: int) -> Pair:
    print("20 models in one call (fixtures, cycled)", file=sys.stderr)
    twenty = [fixture(*CLEAN[i % len(CLEAN)]) for i in range(20)]
    argv = tfpcheck_argv("--no-cache", *PROBE_ARGS, *(str(p) for _, p in twenty))
    return measure_pair("20 fixtures", (baseline_argv(twenty), argv), env, repeat)


def _cached(env: dict[str, str], repeat: int) -> list[Figure]:
    print("warm cache", file=sys.stderr)
    cached = []
    for name in SINGLE:
        argv = tfpcheck_argv(*PROBE_ARGS, str(MODELS / name))
        run_once(argv, env)  # fills the cache
        cached.append(measure(f"cached {name}", argv, env, repeat))
    return cached


def _resnet(models: list[Model], env: dict[str, str], repeat: int) -> list[Pair]:
    print("ResNet50-class models", file=sys.stderr)
    return [
        measure_pair(
            f"ResNet50 {size}x{size}",
            (baseline_argv([model]), tfpcheck_argv(*BUILT_ARGS, str(model[1]))),
            env,
            repeat,
        )
        for size, model in zip(RESNET_SIZES, models, strict=True)
    ]


def _distinct(models: list[Model], env: dict[str, str], repeat: int) -> Pair:
    print("20 distinct models in one call", file=sys.stderr)
    argv = tfpcheck_argv(*BUILT_ARGS, *(str(p) for _, p in models))
    return measure_pair("20 distinct", (baseline_argv(models), argv), env, repeat)


def _jobs(models: list[Model], env: dict[str, str], repeat: int) -> Pair:
    # Here the "baseline" is tfpcheck itself with one worker.
    print("20 distinct models: --jobs 1 and --jobs 2", file=sys.stderr)
    paths = [str(p) for _, p in models]
    one, two = (tfpcheck_argv(*BUILT_ARGS, "--jobs", n, *paths) for n in ("1", "2"))
    return measure_pair("20 distinct", (one, two), env, repeat, ("--jobs 1", "--jobs 2"))


def _jobs_first(models: list[Model], env: dict[str, str], repeat: int) -> Figure:
    print("the first of them alone, --jobs 1", file=sys.stderr)
    argv = tfpcheck_argv(*BUILT_ARGS, "--jobs", "1", str(models[0][1]))
    return measure("first model alone", argv, env, repeat)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


@dataclass
class Goal:
    """One row of the goals table: `value` (a ratio or seconds) is held against `limit`."""

    case: str
    baseline: str
    tfpcheck: str
    ratio: str
    goal: str
    value: float
    limit: float
    note: str = ""  # what bounds the figure, where the bench can measure it

    @property
    def verdict(self) -> str:
        over = self.value / self.limit - 1
        verdict = "met" if self.value <= self.limit else f"missed by {over:.0%}"
        return f"{verdict} ({self.note})" if self.note else verdict


DETAIL = "{:<48} {:>8} {:>15} {:>9} {:>9}  {}"


def _mib(figure: Figure) -> str:
    return f"{figure.max_rss_mib:6.0f} /{figure.sum_rss_mib:6.0f}"


def _detail(label: str, figure: Figure, ratios: tuple[str, str] = ("", "")) -> str:
    digits = 3 if figure.seconds < 1 else 2  # hundredths matter for the 0.3 s goals
    heavy = ",".join(figure.heavy) or "none"
    return DETAIL.format(label, f"{figure.seconds:.{digits}f}", _mib(figure), *ratios, heavy)


def _pairs(results: Results) -> list[Pair]:
    optional = [results.twenty, results.distinct, results.jobs]
    return [*results.single, *results.resnet, *(p for p in optional if p is not None)]


def details(results: Results) -> Iterator[str]:
    """Every figure measured: time, memory, ratios to the figure it ran beside, imports."""
    yield DETAIL.format("", "time s", "RSS max / sum", "t ratio", "RSS ratio", "heavy")
    for figure in results.static:
        yield _detail(f"static {figure.name}", figure)
    for pair in _pairs(results):
        first, second = pair.baseline.name, pair.tfpcheck.name
        ratios = (f"{pair.ratio('seconds'):.2f}x", f"{pair.ratio('sum_rss_mib'):.2f}x")
        yield _detail(first, pair.baseline)
        yield _detail(second, pair.tfpcheck, ratios)
    if results.jobs_first is not None:
        yield _detail("20 distinct: the first alone, --jobs 1", results.jobs_first)
    for figure in results.cached:
        yield _detail(figure.name, figure)


def _time_goal(case: str, pair: Pair, limit: float = TIME_GOAL) -> Goal:
    value = pair.ratio("seconds")
    base, probe = pair.baseline.seconds, pair.tfpcheck.seconds
    return Goal(
        case, f"{base:.2f} s", f"{probe:.2f} s", f"{value:.2f}×", f"≤ {limit}×", value, limit
    )


def _rss_goal(case: str, pair: Pair) -> Goal:
    value = pair.ratio("sum_rss_mib")
    base, probe = pair.baseline.sum_rss_mib, pair.tfpcheck.sum_rss_mib
    return Goal(
        case,
        f"{base:.0f} MiB",
        f"{probe:.0f} MiB",
        f"{value:.2f}×",
        f"≤ {RSS_GOAL}×",
        value,
        RSS_GOAL,
    )


def _seconds_goal(case: str, figures: list[Figure], note: str = "") -> Goal:
    # "Each" call must stay under the limit, so the slowest is what meets or misses it.
    slowest = max(f.seconds for f in figures)
    typical = statistics.median(f.seconds for f in figures)
    heavy = ",".join(sorted({m for f in figures for m in f.heavy})) or "none"
    cell = f"slowest {slowest:.2f} s, median {typical:.2f} s; heavy imports: {heavy}"
    return Goal(case, "—", cell, "—", f"≤ {SECONDS_GOAL} s each", slowest, SECONDS_GOAL, note)


def _static_goals(results: Results) -> list[Goal]:
    """The static tier, the .h5 files apart: reading one needs h5py, whose import alone is
    most of the limit (measured beside them)."""
    h5 = [f for f in results.static if f.name.endswith(".h5")]
    rest = [f for f in results.static if not f.name.endswith(".h5")]
    rows = []
    if rest:
        rows.append(_seconds_goal(f"static tier, .keras and SavedModel ({len(rest)})", rest))
    if h5:
        seconds = results.h5py_import_seconds
        note = f"importing h5py alone: {seconds:.2f} s" if seconds is not None else ""
        rows.append(_seconds_goal(f"static tier, .h5 ({len(h5)} files)", h5, note))
    return rows


def goals(results: Results) -> list[Goal]:
    rows = [_time_goal(f"{SINGLE[p.case]} (`{p.case}`)", p) for p in results.single]
    rows += [_time_goal(f"{p.case} (tf_keras, Categorical head)", p) for p in results.resnet]
    if results.distinct:
        rows.append(
            _time_goal("20 distinct small models, one call (default jobs)", results.distinct)
        )
    if results.twenty:
        rows.append(_time_goal("20 models, one call (12 fixtures, cycled)", results.twenty))
    if results.jobs:
        case = "20 distinct models, `--jobs 2` (baseline column: `--jobs 1`)"
        row = _time_goal(case, results.jobs, JOBS_GOAL)
        if results.jobs_first is not None:
            row.note = f"one of them alone: {results.jobs_first.seconds:.2f} s"
        rows.append(row)
    if results.cached:
        rows.append(
            _seconds_goal(f"cached re-check ({len(results.cached)} models)", results.cached)
        )
    rows += _static_goals(results)
    rows += [_rss_goal(f"peak RSS, {p.case}", p) for p in results.resnet]
    return rows


def goals_table(rows: list[Goal]) -> list[str]:
    """The goals as a Markdown table (aligned, so it reads at a terminal and pastes as is)."""
    cells = [["case", "baseline", "tfpcheck", "ratio", "goal", "verdict"]]
    cells += [[g.case, g.baseline, g.tfpcheck, g.ratio, g.goal, g.verdict] for g in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return lines


def machine_line(m: dict[str, object]) -> str:
    libraries: dict[str, str | None] = m["libraries"]  # type: ignore[assignment]
    return (
        f"machine: {m['platform']}, {m['cpus']} CPUs, {m['memory']}, Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in libraries.items())
    )


def report(results: Results, repeat: int) -> str:
    lines = [*details(results), "", "goals:", *goals_table(goals(results)), ""]
    lines.append(machine_line(machine()))
    lines.append(
        f"medians of {repeat} runs of a fresh process (compared commands alternate; a ratio is "
        "the median of run-by-run ratios); RSS MiB = max of one process / sampled sum over "
        "the process tree (ratios and the goals use the sum)"
    )
    return "\n".join(lines)


def as_json(results: Results, repeat: int) -> str:
    doc: dict[str, object] = {"machine": machine(), "repeat": repeat}
    doc["goals"] = [dict(asdict(g), verdict=g.verdict) for g in goals(results)]
    doc.update(asdict(results))
    return json.dumps(doc, indent=2, ensure_ascii=False)


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
    repeat = max(1, args.repeat)
    results = bench(repeat, tuple(args.only or SCENARIOS))
    print(as_json(results, repeat) if args.json else report(results, repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
