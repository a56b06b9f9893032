"""What a static rule gets to look at: the model as read from the file, and the loss in use."""

from __future__ import annotations

from dataclasses import dataclass

from tfpcheck.losses import LossSpec
from tfpcheck.model_file.types import LossConfig, ModelFile


@dataclass(frozen=True)
class StaticContext:
    model: ModelFile
    loss: LossSpec | None  # from the command line / configuration; None = use compiled
    probe_requested: bool = False
    unsafe: bool = False

    def effective_losses(self) -> list[LossConfig]:
        """The loss training would use: the command line wins over the compile config."""
        if self.loss is None or self.loss.kind == "compiled":
            return list(self.model.losses)
        if self.loss.kind == "keras":
            return [LossConfig(name=self.loss.name, from_logits=self.loss.from_logits)]
        if self.loss.kind == "nll":
            return [LossConfig(name="nll")]
        return [LossConfig(name=None, raw=self.loss.target)]
