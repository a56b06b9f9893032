"""The rule registry: an explicit list, read top to bottom. Codes are never reused."""

from __future__ import annotations

from tfpcheck.rules import (
    tfp001_unreadable_model,
    tfp002_probe_skipped_unsafe_code,
    tfp003_serialized_code_python_mismatch,
    tfp007_dangerous_serialized_code,
    tfp105_params_size_mismatch,
    tfp201_onehot_categorical_classifier,
    tfp202_double_softmax,
    tfp203_double_sigmoid,
    tfp204_logits_as_probabilities,
    tfp301_unconstrained_scale,
    tfp303_activation_on_distribution_parameters,
    tfp304_full_covariance_parameterization,
)
from tfpcheck.rules.base import Rule

REGISTRY: tuple[Rule, ...] = (
    tfp001_unreadable_model.RULE,
    tfp002_probe_skipped_unsafe_code.RULE,
    tfp003_serialized_code_python_mismatch.RULE,
    tfp007_dangerous_serialized_code.RULE,
    tfp105_params_size_mismatch.RULE,
    tfp201_onehot_categorical_classifier.RULE,
    tfp202_double_softmax.RULE,
    tfp203_double_sigmoid.RULE,
    tfp204_logits_as_probabilities.RULE,
    tfp301_unconstrained_scale.RULE,
    tfp303_activation_on_distribution_parameters.RULE,
    tfp304_full_covariance_parameterization.RULE,
)

BY_CODE: dict[str, Rule] = {rule.code: rule for rule in REGISTRY}


def get_rule(code: str) -> Rule | None:
    return BY_CODE.get(code.strip().upper())
