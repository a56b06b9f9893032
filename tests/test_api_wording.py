"""The Python API's words for the options a finding names (api_wording.py)."""

from __future__ import annotations

import inspect

from tfpcheck import api_wording
from tfpcheck.api import check
from tfpcheck.findings import FileResult, Finding, Severity
from tfpcheck.rules import tfp101_loss_broadcasts_across_batch, tfp402_kl_dominates_loss

RULE_SOURCES = inspect.getsource(tfp402_kl_dominates_loss) + inspect.getsource(
    tfp101_loss_broadcasts_across_batch
)


def test_every_phrase_is_still_written_by_its_rule() -> None:
    for command_line, _ in api_wording.PHRASES[1:]:
        # the rules' f-strings hold the phrase split at most once by a line break
        joined = RULE_SOURCES.replace('"\n            f"', "").replace('"\n            "', "")
        assert command_line in joined, command_line
    assert api_wording.PHRASES[0][0] == tfp101_loss_broadcasts_across_batch.SETTLE_TARGET_SHAPE


def test_the_api_words_name_its_own_arguments() -> None:
    api = set(inspect.signature(check).parameters)
    for _, words in api_wording.PHRASES:
        assert "--" not in words
        for name in ("target_shape", "num_examples"):
            if f"{name}=" in words:
                assert name in api
    finding = Finding(
        "TFP101",
        "loss-broadcasts-across-batch",
        Severity.INFO,
        "only if the targets are fed as (N, 1)",
        "If they are (N, 1): ... " + tfp101_loss_broadcasts_across_batch.SETTLE_TARGET_SHAPE,
    )
    (rewritten,) = api_wording.in_api_words(FileResult("<m>", (finding,))).findings
    assert 'target_shape="scalar" for (N,), target_shape=1 for (N, 1)' in rewritten.fix
    assert "--target-shape" not in rewritten.fix
