"""The rule registry: an explicit list in code order. Codes are never reused."""

from __future__ import annotations

from tfpcheck.rules import (  # probe rules
    tfp001_unreadable_model,
    tfp002_probe_skipped_unsafe_code,
    tfp003_serialized_code_python_mismatch,
    tfp004_keras_flavor_mismatch,
    tfp005_unknown_custom_object,
    tfp006_save_roundtrip_fails,
    tfp007_dangerous_serialized_code,
    tfp008_probe_did_not_finish,
    tfp009_saved_layer_cannot_be_reloaded,
    tfp101_loss_broadcasts_across_batch,
    tfp102_batch_dependent_failure,
    tfp103_extra_loss_axes,
    tfp104_distribution_parameter_broadcast,
    tfp105_params_size_mismatch,
    tfp106_batch_coupled_outputs,
    tfp107_batch_inconsistent_loss,
    tfp108_loss_or_forward_fails,
    tfp201_onehot_categorical_classifier,
    tfp202_double_softmax,
    tfp203_double_sigmoid,
    tfp204_logits_as_probabilities,
    tfp205_label_encoding_mismatch,
    tfp301_unconstrained_scale,
    tfp302_non_finite_loss,
    tfp303_activation_on_distribution_parameters,
    tfp304_full_covariance_parameterization,
    tfp401_no_gradient,
    tfp402_kl_dominates_loss,
)
from tfpcheck.rules.base import Rule

REGISTRY: tuple[Rule, ...] = (
    tfp001_unreadable_model.RULE,
    tfp002_probe_skipped_unsafe_code.RULE,
    tfp003_serialized_code_python_mismatch.RULE,
    tfp004_keras_flavor_mismatch.RULE,
    tfp005_unknown_custom_object.RULE,
    tfp006_save_roundtrip_fails.RULE,
    tfp007_dangerous_serialized_code.RULE,
    tfp008_probe_did_not_finish.RULE,
    tfp009_saved_layer_cannot_be_reloaded.RULE,
    tfp101_loss_broadcasts_across_batch.RULE,
    tfp102_batch_dependent_failure.RULE,
    tfp103_extra_loss_axes.RULE,
    tfp104_distribution_parameter_broadcast.RULE,
    tfp105_params_size_mismatch.RULE,
    tfp106_batch_coupled_outputs.RULE,
    tfp107_batch_inconsistent_loss.RULE,
    tfp108_loss_or_forward_fails.RULE,
    tfp201_onehot_categorical_classifier.RULE,
    tfp202_double_softmax.RULE,
    tfp203_double_sigmoid.RULE,
    tfp204_logits_as_probabilities.RULE,
    tfp205_label_encoding_mismatch.RULE,
    tfp301_unconstrained_scale.RULE,
    tfp302_non_finite_loss.RULE,
    tfp303_activation_on_distribution_parameters.RULE,
    tfp304_full_covariance_parameterization.RULE,
    tfp401_no_gradient.RULE,
    tfp402_kl_dominates_loss.RULE,
)

BY_CODE: dict[str, Rule] = {rule.code: rule for rule in REGISTRY}


def get_rule(code: str) -> Rule | None:
    return BY_CODE.get(code.strip().upper())
