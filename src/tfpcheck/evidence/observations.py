"""What one probe run saw, as plain data (numpy arrays, no tensors) for the rule checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tfpcheck.evidence.sites import ErrorSummary, Site

if TYPE_CHECKING:  # the rules' types, for annotations only: this module imports no rule
    import numpy as np

    from tfpcheck.rules.heads import WidthSource
    from tfpcheck.rules.params_size import HeadSpec

Shape = tuple[int, ...]


@dataclass
class DistRecord:
    """One `Distribution.log_prob` call: the distribution, its parameters, value and result."""

    distribution: str  # class name, e.g. "Normal"
    param_shapes: dict[str, Shape]
    param_values: dict[str, np.ndarray]
    param_batch_shapes: dict[str, Shape]  # each parameter's shape without its event dims
    batch_shape: Shape | None
    event_shape: Shape | None
    value_shape: Shape | None
    result_shape: Shape | None = None
    call_site: Site | None = None  # the user's line calling log_prob
    built_at: Site | None = None  # the user's line constructing the distribution
    layer: str | None = None  # the Keras layer that built it, when known
    depth: int = 0  # 0 for a call from outside tfp; inner calls (Independent -> Normal) are 1+
    in_loss: bool = False
    # the distribution's number in build order; a log_prob call has its distribution's
    serial: int | None = None

    def describe_params(self) -> str:
        return ", ".join(f"{k} {fmt_shape(v)}" for k, v in self.param_shapes.items())


@dataclass
class HeadCall:
    """A tfp.layers head called on a tensor: the shape it received and what it needs."""

    layer: str
    class_name: str
    input_shape: Shape | None  # -1 for an axis unknown when traced
    head: HeadSpec | None  # None: not a built-in head (a DistributionLambda of the user's)
    depth: int = 0  # 0: called by the model; 1+: inside another head (a mixture's component)
    producer: WidthSource | None = None  # the layer whose output it received, when known
    failed: bool = False  # the call raised

    @property
    def width(self) -> int | None:
        """The last axis of the input: the parameters a head splits (a rank-1 input's only
        axis is the batch)."""
        if self.input_shape is None or len(self.input_shape) < 2 or self.input_shape[-1] < 0:
            return None
        return self.input_shape[-1]


@dataclass(frozen=True)
class TargetVariant:
    label: str  # "(N, 1)"
    per_example: Shape  # (1,)
    canonical: bool  # False: the other shape users feed; findings only here are warnings
    source: Literal["synthesized", "data", "target-shape"] = "synthesized"


@dataclass
class OutputInfo:
    is_distribution: bool
    distribution: str | None  # class of the output distribution (unwrapped), if any
    shape: Shape  # tensor shape, or batch_shape + event_shape of the distribution
    dtype: str
    batch_shape: Shape | None = None
    event_shape: Shape | None = None
    summary: np.ndarray | None = None  # mean() / tensor values, to compare across batches
    classes: int | None = None  # width of a categorical output's logits/probs
    values: np.ndarray | None = None  # tensor outputs only


@dataclass
class ForwardEval:
    batch_size: int
    error: ErrorSummary | None = None
    output: OutputInfo | None = None
    records: list[DistRecord] = field(default_factory=list)
    constructed: list[DistRecord] = field(default_factory=list)
    head_calls: list[HeadCall] = field(default_factory=list)


@dataclass
class GradientInfo:
    variable: str
    layer: str | None
    layer_index: int | None
    status: Literal["ok", "none", "zero", "nonfinite"]


@dataclass(frozen=True)
class Broadcast:
    """An operation of the traced loss whose output grows as N x N from inputs of one row
    per example but of different ranks: (N,) against (N, 1) pairs every example with every
    other one."""

    op: str  # the TensorFlow operation, "Sub"
    input_shapes: tuple[Shape, ...]  # at batch N
    output_shape: Shape  # at batch N
    output_shape_at_1: Shape
    site: Site | None  # the user's line that made it


@dataclass(frozen=True)
class LossGraph:
    """What tracing the loss function at batch 1 and N showed (`probe.loss_graph`)."""

    broadcasts: tuple[Broadcast, ...]
    # the user's lines where a per-example input lost its trailing axis (`y_pred[:, 0]`)
    rank_dropped_at: tuple[Site, ...] = ()
    # the loss arguments that reached a broadcast with the lower rank (0: y_true, 1: y_pred)
    lower_arguments: tuple[int, ...] = ()
    # (file, line) -> the largest tensor an operation of several inputs makes there, at N
    lines: dict[tuple[str, int], Shape] = field(default_factory=dict)


@dataclass
class LossEval:
    """The loss evaluated as `fit` would, for one target variant at one batch size."""

    batch_size: int
    target: TargetVariant
    y_shape: Shape
    y_dtype: str
    y_values: np.ndarray | None = None
    error: ErrorSummary | None = None
    stage: Literal["ok", "loss", "gradient"] = "ok"
    per_example_shape: Shape | None = None  # what the loss function returned
    per_example: np.ndarray | None = None
    y_true_seen: Shape | None = None  # y_true as the loss function received it
    y_pred_seen: Shape | None = None
    seen_dtypes: tuple[str, str] | None = None  # of y_true and y_pred; None: y_pred not a tensor
    y_pred_values: np.ndarray | None = None  # tensor y_pred as the loss function received it
    data_loss: float | None = None
    extra_losses: dict[str, float] = field(default_factory=dict)  # layer -> sum(layer.losses)
    records: list[DistRecord] = field(default_factory=list)  # log_prob calls
    constructed: list[DistRecord] = field(default_factory=list)  # distributions built
    gradients: list[GradientInfo] = field(default_factory=list)
    # the loss function traced at batch 1 and N (set on the batch-N evaluation of a loss
    # function given tensors); None when not traced
    graph: LossGraph | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SinglesEval:
    """Each example of the batch run alone, for the cross-example and consistency checks."""

    target: TargetVariant
    output_max_diff: float | None  # max |output_i alone - output_i in batch|
    worst_example: int | None
    losses: list[float]  # data loss of each example alone
    batch_loss: float | None  # data loss of the batch
    per_example_rank: int = 1  # rank of what the loss function returned at batch N


KLMethod = Literal["analytic", "sampled", "configured"]


@dataclass
class KLTerm:
    """One KL term a Bayesian layer adds to `model.losses`, against the KL it stands for."""

    layer: str  # the layer's path: "hidden", or "encoder/hidden" inside a nested model
    top: str  # the model's own layer that holds it (its name in `Observation.layers`)
    class_name: str
    # "weights": the KL of a posterior over the layer's weights, counted once per data set;
    # "latent": a per-example KL (KLDivergenceRegularizer), counted once per example
    kind: Literal["weights", "latent"]
    part: str | None  # "kernel", "bias", "kernel and bias" (DenseVariational); None: latent
    added: float | None = None  # what the layer adds to model.losses (its expected value)
    kl: float | None = None  # KL(posterior || prior)
    # the effective KL weight: added / KL; for a latent KL, the regularizer's weight
    weight: float | None = None
    method: KLMethod | None = None  # how the KL that gave the weight was computed
    # "prior": measured on the layer's posterior and prior; "reference": the posterior was
    # still its prior, so on the posterior and a reference prior a few units away
    against: Literal["prior", "reference"] | None = None
    parameters: int | None = None  # number of random weights in the posterior
    note: str | None = None  # why no weight was measured

    @property
    def key(self) -> str:
        """How evidence names the term: the layer, with the part when it is the bias."""
        return f"{self.layer}:bias" if self.part == "bias" else self.layer


@dataclass
class LayerInfo:
    name: str
    class_name: str
    index: int
    units: int | None = None


@dataclass
class LossInfo:
    kind: Literal["nll", "keras", "function"]
    name: str | None = None  # canonical Keras loss name (kind == "keras")
    from_logits: bool = False
    label: str = ""  # how findings name it: "nll", "categorical_crossentropy", "losses.py:nll"
    site: Site | None = None  # the user's loss function definition


@dataclass
class Observation:
    path: str
    flavor: str
    batch_size: int
    layers: list[LayerInfo]
    output_layer: LayerInfo | None
    loss: LossInfo
    forwards: dict[int, ForwardEval]
    evals: list[LossEval]
    singles: SinglesEval | None = None
    stochastic_output: bool = False
    stochastic_loss: bool = False
    targets_source: Literal["synthesized", "data", "target-shape"] = "synthesized"
    classes: int | None = None
    num_examples: int | None = None  # the training-set size, when the user said it
    data_examples: int | None = None  # the examples in --data
    kl_terms: list[KLTerm] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def layer(self, name: str | None) -> LayerInfo | None:
        return next((layer for layer in self.layers if layer.name == name), None)

    def distributions_at(self, batch_size: int) -> list[DistRecord]:
        """Every distribution seen at this batch size: built, or asked for log_prob."""
        found: list[DistRecord] = []
        forward = self.forwards.get(batch_size)
        if forward is not None:
            found += forward.records + forward.constructed
        for evaluation in self.evals_at(batch_size):
            found += evaluation.records + evaluation.constructed
        return found

    def evals_at(self, batch_size: int) -> list[LossEval]:
        return [e for e in self.evals if e.batch_size == batch_size]

    def pair(self, target: TargetVariant) -> tuple[LossEval | None, LossEval | None]:
        """The evaluations at batch 1 and N for one target variant."""
        one = next((e for e in self.evals if e.batch_size == 1 and e.target == target), None)
        many = next(
            (e for e in self.evals if e.batch_size == self.batch_size and e.target == target),
            None,
        )
        return one, many

    @property
    def targets(self) -> list[TargetVariant]:
        seen: list[TargetVariant] = []
        for e in self.evals:
            if e.target not in seen:
                seen.append(e.target)
        return seen


def fmt_shape(shape: Shape | None) -> str:
    if shape is None:
        return "?"
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(d) for d in shape) + ")"
