"""The steps of one probe, in order; each step's failure becomes a finding or a usage error."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from tfpcheck.evidence.observations import (
    ForwardEval,
    LayerInfo,
    LossEval,
    Observation,
    SinglesEval,
    TargetVariant,
)
from tfpcheck.findings import Finding, Refutation
from tfpcheck.losses import DEFAULT_NLL_NOTE, LossSpec
from tfpcheck.probe import ProbeRequest, ProbeResult
from tfpcheck.probe.aggregate import (
    finalize,
    refutations,
    standing_refutations,
    suppress,
    uncovered,
)
from tfpcheck.probe.batches import (
    InputError,
    from_data,
    given_data,
    load_data,
    make_inputs,
    pinned,
    synthesize,
    take,
)
from tfpcheck.probe.describe import structural_findings
from tfpcheck.probe.evaluate import Session, owners, sample_output
from tfpcheck.probe.instrument import Recorder, instrumented, watching_heads
from tfpcheck.probe.kl_weights import kl_terms
from tfpcheck.probe.load import Loaded, LoadFailure, load_factory, load_model_file
from tfpcheck.probe.loss import LossUsageError, build_loss, import_loss_module
from tfpcheck.probe.outputs import (
    OutputSplitError,
    is_multi_output,
    loss_weights,
    output_names,
    split_outputs,
    tag_findings,
)
from tfpcheck.probe.plan import SINGLES_BUDGET, plan_for
from tfpcheck.probe.roundtrip import check_roundtrip
from tfpcheck.probe.runner import current_layer_getter
from tfpcheck.probe.seeding import seed_everything
from tfpcheck.probe.shape_table import shape_table
from tfpcheck.probe.stages import reached
from tfpcheck.probe.user_code import UserCodeError, UserReferenceError
from tfpcheck.references import is_code_reference
from tfpcheck.rules import REGISTRY
from tfpcheck.rules.tfp108_loss_or_forward_fails import load_failure
from tfpcheck.shapes import ShapeTable

# The registry is the one list of rules: a probe rule runs because it is registered, on
# each channel it has a hook for.
PROBE_CHECKS = tuple(rule.check_probe for rule in REGISTRY if rule.check_probe is not None)
CONFIRMATIONS = tuple(r.confirm_probe for r in REGISTRY if r.confirm_probe is not None)
UNBUILT_CHECKS = tuple(r.confirm_unbuilt for r in REGISTRY if r.confirm_unbuilt is not None)
OUTPUTS_CHECKS = tuple(r.check_outputs for r in REGISTRY if r.check_outputs is not None)
SAME = dict(rtol=1e-5, atol=1e-6)
SEED_TARGETS = 97


class ProbeRun:
    def __init__(
        self, request: ProbeRequest, output: str | None = None, loaded: Loaded | None = None
    ) -> None:
        self.request = request
        self.output = output  # the output probed, for a model with several
        # a model already in this process (the Python API's): probed as it is, not loaded
        self.loaded = loaded
        self.notes: list[str] = []
        self.findings: list[Finding] = []
        self.observations: list[Observation] = []  # each probed model's (or output's)
        # a factory's structural findings, from the live model's description
        self.described: list[Finding] = []
        self.plan = plan_for(0.0)  # until a forward pass at batch N has been timed
        # static guesses a probe pass disproved (dropped unless a finding confirms them)
        self.refuted: list[Refutation] = []

    def result(
        self, error: tuple[str, str] | None = None, not_probed: str | None = None
    ) -> ProbeResult:
        # A disproved guess lends no place or evidence to the probe's findings.
        disproved = [r.finding for r in self.refuted]
        static = tuple(f for f in self.request.static_findings if f not in disproved)
        findings = finalize(self.findings, static)
        refuted = standing_refutations(self.refuted, findings)
        # What the description found and the probe neither confirmed nor disproved stands
        # as a static finding, as a saved file's would; and it explains the probe's
        # symptoms of it.
        described = [
            f for f in uncovered(self.described, findings) if all(r.finding != f for r in refuted)
        ]
        findings = suppress(findings + described)
        shapes = self._shapes()  # first: a note of its own comes with the others
        return ProbeResult(
            tuple(findings),
            tuple(self.notes),
            error,
            not_probed,
            shapes=shapes,
            refuted=tuple(refuted),
        )

    def _shapes(self) -> tuple[ShapeTable, ...]:
        try:
            return tuple(shape_table(obs) for obs in self.observations)
        except Exception as exc:  # the table is a view: never at the cost of the findings
            self.notes.append(f"no shapes table ({type(exc).__name__}: {exc})")
            return ()

    def load(self) -> Loaded | LoadFailure:
        request = self.request
        if self.loaded is not None:
            return self.loaded
        if is_code_reference(request.path):
            return load_factory(request.path)
        need_compiled = request.loss is None or request.loss.kind == "compiled"
        return load_model_file(
            request.path, request.flavor, request.unsafe, need_compiled, request.custom_objects
        )

    def run(self) -> ProbeResult:
        try:
            broken_loss = import_loss_module(self.request.loss)
            if broken_loss is not None:
                return self.result(("usage", broken_loss))
            heads = Recorder(lambda: None)
            reached("building the model" if is_code_reference(self.request.path) else "loading")
            with watching_heads(heads):
                loaded = self.load()
        except UserReferenceError as exc:
            return self.result(("usage", str(exc)))
        if isinstance(loaded, LoadFailure):
            # a head fed the wrong width can stop the model from being built at all
            for confirm_unbuilt in UNBUILT_CHECKS:
                loaded.findings[:] = confirm_unbuilt(heads.head_calls, loaded.findings)
            self.findings += loaded.findings
            return self.result(not_probed=_why_not_loaded(loaded))
        self.notes += loaded.notes
        if loaded.is_factory:
            if loaded.check_saving:
                self.findings += check_roundtrip(loaded)
            # the structural rules see the factory's model as they see a saved file's
            self.described = structural_findings(loaded, self.request.loss)
            statics = (*self.request.static_findings, *self.described)
            self.request = replace(self.request, static_findings=statics)
        if is_multi_output(loaded.model):
            return self.run_outputs(loaded)
        return self.run_loaded(loaded)

    def run_outputs(self, loaded: Loaded) -> ProbeResult:
        """Each output on its own, through its own loss term, as `fit` adds them up."""
        try:
            views = split_outputs(loaded)
        except (OutputSplitError, ValueError) as exc:
            return self.result(("usage", str(exc)))
        indices = {layer.name: i for i, layer in enumerate(loaded.model.layers)}
        probed: dict[str, Observation] = {}
        for view in views:
            view_loaded = view.loaded
            has_loss = view_loaded.compiled_loss is not None or view_loaded.factory_loss is not None
            model_has_loss = loaded.compiled_loss is not None or loaded.factory_loss is not None
            if self.request.loss is None and model_has_loss and not has_loss:
                self.notes.append(f"output '{view.name}' has no loss (fit ignores it)")
                continue
            sub = ProbeRun(self.request, output=view.name)
            result = sub.run_loaded(view_loaded)
            self.findings += tag_findings(sub.findings, view, indices)
            self.refuted += sub.refuted
            probed.update((view.name, obs) for obs in sub.observations)
            self.observations += sub.observations
            self.notes += [f"output '{view.name}': {note}" for note in sub.notes]
            if result.error is not None:
                code, message = result.error
                if self.request.loss is not None:
                    message += (
                        " (--loss applies to every output; compile the model with one loss "
                        "per output, {name: loss}, and leave --loss out)"
                    )
                return self.result((code, f"output '{view.name}': {message}"))
        weights = loss_weights(loaded.model, output_names(loaded.model))
        for check_outputs in OUTPUTS_CHECKS:
            self.findings += list(check_outputs(probed, weights, indices))
        return self.result()

    def run_loaded(self, loaded: Loaded) -> ProbeResult:
        spec = self.request.loss
        if spec is None and _needs_default_nll(loaded):
            # as for a saved file (engine._default_loss): a distribution output with no loss
            # is trained on its negative log-likelihood
            spec = LossSpec("nll")
            self.notes.append(DEFAULT_NLL_NOTE)
        try:
            plan = build_loss(spec, loaded)
        except (LossUsageError, UserReferenceError) as exc:
            return self.result(("usage", str(exc)))
        except UserCodeError as exc:
            self.findings.append(load_failure(exc.summary, exc.what))
            return self.result()
        model = loaded.model
        try:
            model.compile(loss=plan.compiled)
        except Exception as exc:  # a loss object this Keras rejects
            return self.result(("usage", f"cannot compile the model with {plan.info.label}: {exc}"))
        try:
            return self.probe(loaded, plan)
        except InputError as exc:
            return self.result(("usage", str(exc)))

    def _inputs(self, model: Any) -> tuple[Any, np.ndarray | None, int]:
        request = self.request
        n = request.batch_size
        if request.data:
            x, y, n, notes = load_data(request.data, n, self.output, model)
            self.notes += notes
            return x, y, n
        if request.arrays is not None:
            x, y, n, notes = given_data(*request.arrays, n, self.output)
            self.notes += notes
            return x, y, n
        return make_inputs(model, n), None, n

    def probe(self, loaded: Loaded, plan: Any) -> ProbeResult:
        request = self.request
        model = loaded.model
        # The passes start from one state whatever ran before (another model, another
        # output, the factory's own draws): same model, same synthesized data, same verdict.
        seed_everything()
        x, data_y, n = self._inputs(model)
        recorder = Recorder(current_layer_getter(loaded.flavor))
        session = Session(loaded, plan, recorder, owners(model))
        layers = [
            LayerInfo(layer.name, type(layer).__name__, i, getattr(layer, "units", None))
            for i, layer in enumerate(model.layers)
        ]
        obs = Observation(
            path=request.path,
            flavor=loaded.flavor,
            batch_size=n,
            layers=layers,
            output_layer=_output_layer(model, layers),
            loss=plan.info,
            forwards={},
            evals=[],
            targets_source="data"
            if request.data or request.arrays is not None
            else ("target-shape" if request.target_shape is not None else "synthesized"),
            classes=request.classes,
            # --data holds examples to probe with, often a sample: its size is not taken for
            # the training set's, which only --num-examples (or the configuration) gives.
            num_examples=request.num_examples,
            data_examples=len(data_y) if data_y is not None else None,
        )
        obs.extra["output"] = self.output
        self.observations.append(obs)
        reached(f"forward passes at batch 1 and {n}")
        with instrumented(recorder):
            error = self._run_batches(session, obs, x, data_y, n)
        if error is not None:
            return self.result(error)
        # After the passes, uninstrumented: its draws change no other check's evidence, and
        # the distributions it builds are not the model's.
        reached("checking the rules")
        obs.kl_terms = kl_terms(model)
        for check in PROBE_CHECKS:
            self.findings += list(check(obs))
        for confirm in CONFIRMATIONS:
            self.findings += list(confirm(obs, request.static_findings))
        self.refuted += refutations(obs, request.static_findings)
        return self.result()

    def _run_batches(
        self, session: Session, obs: Observation, x: Any, data_y: np.ndarray | None, n: int
    ) -> tuple[str, str] | None:
        request = self.request
        sizes = [1, n] if n > 1 else [1]
        outputs: dict[int, Any] = {}
        for size in sizes:
            started = time.perf_counter()
            forward, out = session.forward(take(x, 0, size))
            obs.forwards[size] = forward
            outputs[size] = out
            if size == n:  # what the other passes will cost: the plan follows from it
                self.plan = plan_for(time.perf_counter() - started)
        note = self.plan.note(n)
        if note is not None:
            self.notes.append(note)
        reference = obs.forwards[n] if obs.forwards[n].output else obs.forwards[1]
        if reference.output is None:
            return None  # the forward pass fails everywhere: TFP108 says why
        output = reference.output
        if session.plan.needs_distribution and not output.is_distribution:
            layer = obs.output_layer.name if obs.output_layer else "the output"
            return (
                "usage",
                f"--loss nll needs a distribution-valued output; '{layer}' returns a tensor "
                f"{_shape(output.shape)}: use e.g. --loss mse",
            )
        sample = sample_output(outputs[n] if outputs.get(n) is not None else outputs[1])
        if data_y is not None:
            targets = from_data(data_y)
        elif request.target_shape is not None:
            targets = pinned(output, obs.loss, n, request.target_shape, request.classes, sample)
        else:
            targets = synthesize(output, obs.loss, n, sample)
            if obs.loss.kind == "function" and not output.is_distribution:
                targets = _event_targets(session, take(x, 0, n), targets)
        if sample is not None and outputs.get(n) is None:
            # Only batch 1 ran: its sample is one example; tile it so slicing works.
            targets = [(t, np.repeat(y, n, axis=0)) for t, y in targets]
        reached(f"loss and gradients at batch 1 and {n}")
        first_at_n: LossEval | None = None
        for number, (target, y) in enumerate(targets):
            for size in sizes:
                if obs.forwards[size].error is not None:
                    continue
                # gradients at batch N are the cost of training: for the first target only,
                # when the plan must save (the first is the canonical one), and the other
                # target shapes score the first's output rather than run the model again
                full = size == 1 or number == 0 or self.plan.gradients_for_other_targets
                reuse = None if full else first_at_n
                evaluation = session.loss(take(x, 0, size), y[:size], target, full, reuse)
                obs.evals.append(evaluation)
                if size == n and number == 0 and evaluation.ok:
                    first_at_n = evaluation
        if n > 1:
            for target, _ in targets:
                one, many = obs.pair(target)
                if one is not None and many is not None:
                    many.graph = session.loss_graph(one, many)
        self._stochastic_checks(session, obs, x, n, targets)
        self._singles(session, obs, x, n, targets)
        return None

    def _stochastic_checks(
        self,
        session: Session,
        obs: Observation,
        x: Any,
        n: int,
        targets: list[tuple[TargetVariant, np.ndarray]],
    ) -> None:
        size = self.plan.stochastic_batch(n)
        first = obs.forwards[size].output
        if first is None:
            return
        again, _ = session.forward(take(x, 0, size))
        a, b = first.summary, again.output.summary if again.output else None
        obs.stochastic_output = a is None or b is None or not _same(a, b)
        evaluation = next(
            (e for e in obs.evals_at(size) if e.error is None and e.target.canonical), None
        )
        if evaluation is None:
            return
        y = next(y for t, y in targets if t == evaluation.target)
        repeat = session.loss(take(x, 0, size), y[:size], evaluation.target, gradients=False)
        obs.stochastic_loss = (
            repeat.data_loss is None
            or evaluation.data_loss is None
            or not np.isclose(repeat.data_loss, evaluation.data_loss, equal_nan=True, **SAME)
        )
        if obs.stochastic_output or obs.stochastic_loss:
            self.notes.append(
                "the model or its loss is stochastic in inference mode (sampling or Flipout "
                "layers): the cross-example checks TFP106/TFP107 were skipped"
            )

    def _singles(
        self,
        session: Session,
        obs: Observation,
        x: Any,
        n: int,
        targets: list[tuple[TargetVariant, np.ndarray]],
    ) -> None:
        if n < 2 or obs.stochastic_output or obs.stochastic_loss:
            return
        choice = _consistent_target(obs, n)
        if choice is None:
            return
        reached("running examples one at a time")
        target, batch_eval = choice
        y = next(y for t, y in targets if t == target)
        shape = batch_eval.per_example_shape or ()
        per_example = bool(shape) and shape[0] == n  # else the loss reduced the batch itself
        limit = self.plan.singles_limit
        # TFP107 compares all N losses: with a few examples only, TFP106's outputs are run
        with_loss = per_example and not obs.stochastic_loss and limit is None
        try:
            losses, summaries = session.single_losses(
                x, y, min(n, limit or n), with_loss, SINGLES_BUDGET, self.plan.traced_singles
            )
        except Exception as exc:  # a per-example failure is TFP102's business
            self.notes.append(f"per-example checks skipped: {type(exc).__name__}: {exc}")
            return
        if with_loss and len(losses) < n:
            self.notes.append(
                f"the model is slow: TFP107 skipped, TFP106 checked on {len(summaries)} examples"
            )
            losses = []
        batch_output = obs.forwards[n].output
        batch_summary = batch_output.summary if batch_output is not None else None
        max_diff, worst = _output_difference(batch_summary, summaries, n)
        obs.singles = SinglesEval(
            target, max_diff, worst, losses, batch_eval.data_loss, int(per_example)
        )


def _needs_default_nll(loaded: Loaded) -> bool:
    if loaded.factory_loss is not None or loaded.compiled_loss is not None:
        return False
    from tensorflow_probability import layers as tfpl

    model = loaded.model
    names = list(getattr(model, "output_names", None) or [])
    by_name = {layer.name: layer for layer in getattr(model, "layers", [])}
    outputs = [by_name.get(name) for name in names] or list(model.layers[-1:])
    return bool(outputs) and all(isinstance(o, tfpl.DistributionLambda) for o in outputs)


def _why_not_loaded(failure: LoadFailure) -> str:
    """The reason a model that could not be loaded was not probed, in one line."""
    codes = ", ".join(dict.fromkeys(f.code for f in failure.findings))
    skipped = [note.removeprefix("probe skipped: ") for note in failure.notes]
    if codes:
        return "; ".join([f"the model could not be loaded ({codes})", *skipped])
    return "; ".join(skipped) or "the model could not be loaded"


def _event_targets(
    session: Session, x: Any, targets: list[tuple[TargetVariant, np.ndarray]]
) -> list[tuple[TargetVariant, np.ndarray]]:
    """A custom loss that builds a multivariate distribution wants targets of its event shape.

    Scalar targets are the default guess for a custom loss on a tensor output; when the
    loss's distribution has event shape (k,), targets (N, k) are what the user feeds.
    """
    target, y = targets[0]
    trial = session.loss(x, y, target, gradients=False)
    events = [
        r.event_shape
        for r in trial.records + trial.constructed
        if r.in_loss and r.depth == 0 and r.event_shape and r.event_shape != (1,)
    ]
    if not events:
        return targets
    event = events[0]
    rng = np.random.default_rng(SEED_TARGETS)
    variant = TargetVariant("(N, " + ", ".join(map(str, event)) + ")", tuple(event), True)
    return [(variant, rng.normal(size=(len(y), *event)).astype(y.dtype))]


def _output_layer(model: Any, layers: list[LayerInfo]) -> LayerInfo | None:
    names = list(getattr(model, "output_names", None) or [])
    for name in names:
        for info in layers:
            if info.name == name:
                return info
    return layers[-1] if layers else None


def _consistent_target(obs: Observation, n: int) -> tuple[TargetVariant, LossEval] | None:
    for target in obs.targets:
        e1, en = obs.pair(target)
        if e1 is None or en is None or e1.error or en.error or not target.canonical:
            continue
        return target, en
    return None


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, equal_nan=True, **SAME))


def _output_difference(
    batch: np.ndarray | None, singles: list[np.ndarray | None], n: int
) -> tuple[float | None, int | None]:
    if batch is None or batch.ndim == 0 or batch.shape[0] != n:
        return None, None
    worst, worst_diff = None, 0.0
    for i, single in enumerate(singles):
        if single is None or single.shape[:1] != (1,) or single.shape[1:] != batch.shape[1:]:
            return None, None
        diff = float(np.max(np.abs(single[0].astype("float64") - batch[i].astype("float64"))))
        if not np.isfinite(diff):
            continue
        if diff > worst_diff:
            worst, worst_diff = i, diff
    return worst_diff, worst


def _shape(shape: tuple[int, ...]) -> str:
    from tfpcheck.evidence.observations import fmt_shape

    return fmt_shape(shape)


__all__ = ["ForwardEval", "ProbeRun"]
