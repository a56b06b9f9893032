"""What the static tier knows about a model file, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tfpcheck.recorded_files import source_file, why_unknown

Flavor = Literal["keras3", "tf_keras"]
# keras_dir: what Keras 3 writes with model.save(path, zipped=False) and loads back
FileFormat = Literal["keras_zip", "keras_dir", "h5", "savedmodel"]
CodeSource = Literal["marshal", "cloudpickle"]


class ModelReadError(Exception):
    """The file is not a model we can read (TFP001). The message names what is wrong."""


# ---- expressions recovered from bytecode (a tiny AST, enough to render and query) ----


@dataclass(frozen=True)
class Expr:
    """A node of an expression recovered from bytecode.

    kind is one of: "name" (value=identifier), "const" (value=python constant),
    "attr" (args=(obj,), value=attribute name), "call" (args=positional, kwargs=keyword),
    "subscript" (args=(obj, index)), "slice" (args=(start, stop, step) with None for empty),
    "tuple" (args=items), "binop" (value=operator text, args=(left, right)),
    "unary" (value=operator text, args=(operand,)), "ellipsis", "unknown" (value=text).
    """

    kind: str
    value: Any = None
    args: tuple[Expr | None, ...] = ()
    kwargs: tuple[tuple[str, Expr], ...] = ()
    # the source line, for an expression read from source text (bytecode keeps lines per
    # call site, not per node)
    line: int | None = field(default=None, compare=False)

    def render(self) -> str:  # implemented in model_file.bytecode.expr_render
        from tfpcheck.model_file.bytecode.expr_render import render

        return render(self)


@dataclass(frozen=True)
class CallSite:
    """A call found in a function body, e.g. tfd.Normal(loc=t[..., :1], scale=...)."""

    callee: str  # dotted as written: "tfd.Normal", "tf.math.softplus", "Normal"
    args: tuple[Expr, ...] = ()
    kwargs: tuple[tuple[str, Expr], ...] = ()
    line: int | None = None

    @property
    def short_name(self) -> str:
        return self.callee.rsplit(".", 1)[-1]

    def kwarg(self, name: str) -> Expr | None:
        for key, value in self.kwargs:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class FunctionInfo:
    """What a serialized function says about itself, read as data only."""

    source: CodeSource
    name: str = "<unknown>"  # co_name, e.g. "<lambda>"
    qualname: str | None = None
    filename: str | None = None
    firstlineno: int | None = None
    argnames: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # co_names (globals and attributes used)
    consts: tuple[Any, ...] = ()  # simple constants (str, int, float, bool, None, tuples)
    freevars: tuple[str, ...] = ()
    closure_values: tuple[Any, ...] = ()  # values of the freevars when recorded
    global_modules: tuple[str, ...] = ()  # modules the pickle imports (cloudpickle subimport)
    calls: tuple[CallSite, ...] = ()  # decompiled calls (empty when not decodable)
    returns: Expr | None = None  # the returned expression when decodable
    python_version: tuple[int, int] | None = None  # who wrote the bytecode, when known
    version_mismatch: bool = False  # bytecode from another Python than the one running
    dangerous: tuple[str, ...] = ()  # e.g. "os.system", "builtins.exec"
    nested: tuple[FunctionInfo, ...] = ()  # code objects defined inside
    # ---- added by model_file.bytecode (optional, all default to "unknown/none") ----
    defaults: tuple[Any, ...] = ()  # __defaults__, simple values as for closure_values
    # every version that could have written the bytecode; python_version is set only when
    # this holds exactly one (tiny code can be byte-identical in 3.11 and 3.12)
    python_versions: tuple[tuple[int, int], ...] = ()
    module: str | None = None  # __module__ of the function (cloudpickle), e.g. "__main__"
    # cloudpickle __globals__: (name, what it is bound to): a module ("tensorflow_probability
    # .python.distributions"), a global ("pkg.mod.Class"), "<function f>", a repr or "<object>"
    global_refs: tuple[tuple[str, str], ...] = ()
    pickle_globals: tuple[tuple[str, str], ...] = ()  # every (module, name) the pickle loads
    # functions stored alongside: closure cells, globals, tf_keras closure lambdas
    referenced_functions: tuple[FunctionInfo, ...] = ()
    notes: tuple[str, ...] = ()  # why calls are missing or incomplete, in plain words

    @property
    def source_file(self) -> str | None:
        """The file the code was written in; None when only a placeholder was recorded."""
        return source_file(self.filename)

    @property
    def is_tfp_code(self) -> bool:
        """Written inside tensorflow_probability (a tfp.layers lambda), not by the user.

        The module is asked too: a pickle from cloudpickle 3.1.3 or later records no file.
        """
        filename = (self.filename or "").replace("\\", "/")
        module = self.module or ""
        return "tensorflow_probability/" in filename or module.startswith("tensorflow_probability")

    @property
    def location(self) -> str | None:
        if self.filename is None:
            return None
        if self.source_file is None:
            line = f"line {self.firstlineno}, " if self.firstlineno else ""
            return f"{self.name} ({line}source file unknown: {why_unknown(self.filename)})"
        return f"{self.filename}:{self.firstlineno}" if self.firstlineno else self.filename

    def closure(self) -> dict[str, Any]:
        return dict(zip(self.freevars, self.closure_values, strict=False))


@dataclass
class Layer:
    name: str
    # Position in `model.layers` of the model that directly contains the layer, as the user
    # sees it (a Sequential's InputLayer is not in model.layers, a Functional's are).
    index: int
    class_name: str
    module: str | None
    config: dict[str, Any]
    inbound: list[str] = field(default_factory=list)  # names of layers feeding this one
    parent: str | None = None  # name of the enclosing (nested) model, None at top level
    functions: list[FunctionInfo] = field(default_factory=list)  # serialized code it holds
    function_errors: list[str] = field(default_factory=list)  # code that could not be read
    # "inner/dense" for a layer inside nested model "inner" (= name at top level); name itself
    # is qualified like this only when the short name is taken twice in the file.
    qualified_name: str | None = None
    # Library plumbing stored with the layer (tfp's DistributionLambda `_fn` wrapper around
    # make_distribution_fn): read and scanned like `functions`, but says nothing about the model.
    library_functions: list[FunctionInfo] = field(default_factory=list)

    @property
    def activation(self) -> str | None:
        act = self.config.get("activation")
        if isinstance(act, str):
            return act
        if isinstance(act, dict):  # serialized activation object
            inner = act.get("config")
            if isinstance(inner, str):
                return inner
            return act.get("class_name")
        return None

    @property
    def units(self) -> int | None:
        units = self.config.get("units")
        return units if isinstance(units, int) else None

    @property
    def is_tfp(self) -> bool:
        return bool(self.module and self.module.startswith("tensorflow_probability"))


@dataclass
class LossConfig:
    """The loss recorded in the compile config (or given on the command line)."""

    name: str | None  # canonical keras name, e.g. "categorical_crossentropy"; None if custom
    from_logits: bool = False
    raw: Any = None  # the config entry as stored
    function: FunctionInfo | None = None  # a serialized lambda loss
    output: str | None = None  # output layer it applies to; None = every output


@dataclass
class ModelFile:
    path: str
    format: FileFormat
    flavor: Flavor
    keras_version: str | None
    layers: list[Layer]
    outputs: list[str]  # names of output layers
    compile_config: dict[str, Any] | None = None
    losses: list[LossConfig] = field(default_factory=list)  # one per output, if compiled
    code_errors: list[str] = field(default_factory=list)  # serialized code not readable
    model_class: str | None = None  # class_name of the saved model: Sequential, Functional, ...

    def layer(self, name: str) -> Layer | None:
        for layer in self.layers:
            if layer.name == name:
                return layer
        # "inner/dense" also finds a nested layer whose short name is not ambiguous
        for layer in self.layers:
            if layer.qualified_name == name:
                return layer
        return None

    def producers(self, layer: Layer) -> list[Layer]:
        return [p for p in (self.layer(n) for n in layer.inbound) if p is not None]

    @property
    def has_serialized_code(self) -> bool:
        return any(
            layer.functions or layer.library_functions or layer.function_errors
            for layer in self.layers
        ) or any(loss.function is not None for loss in self.losses)
