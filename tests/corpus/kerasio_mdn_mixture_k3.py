"""keras.io "Approximating non-Function Mappings with Mixture Density Networks" (Keras 3).

A ``MixtureDensityOutput`` layer concatenates 20 means, 20 ELU+1 scales and 20 mixture
logits; the loss splits them into ``tfd.Mixture(Categorical(logits), [MultivariateNormalDiag
...])`` and averages the negative log-likelihood. A correct configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf
from keras import layers
from tensorflow_probability import distributions as tfd

SOURCE = (
    "https://github.com/keras-team/keras-io/blob/00268bc975291e399b24b428597cc08afeaa0fe7/"
    "examples/keras_recipes/approximating_non_function_mappings.py"
)
FLAVOR = "keras3"
VERBATIM = False
ADAPTED = (
    "keras_core -> keras (Keras 3); N_HIDDEN 128 -> 16; an explicit Input(shape=(1,)) added "
    "(the example builds on the first fit); data, fit and sampling removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()

N_HIDDEN = 16  # the example: 128
OUTPUT_DIMS = 1
N_MIXES = 20


def elu_plus_one_plus_epsilon(x: Any) -> Any:
    return keras.activations.elu(x) + 1 + keras.backend.epsilon()


class MixtureDensityOutput(layers.Layer):
    def __init__(self, output_dimension: int, num_mixtures: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_dim = output_dimension
        self.num_mix = num_mixtures
        self.mdn_mus = layers.Dense(
            self.num_mix * self.output_dim, name="mdn_mus"
        )  # mix*output vals, no activation
        self.mdn_sigmas = layers.Dense(
            self.num_mix * self.output_dim,
            activation=elu_plus_one_plus_epsilon,
            name="mdn_sigmas",
        )  # mix*output vals exp activation
        self.mdn_pi = layers.Dense(self.num_mix, name="mdn_pi")  # mix vals, logits

    def build(self, input_shape: Any) -> None:
        self.mdn_mus.build(input_shape)
        self.mdn_sigmas.build(input_shape)
        self.mdn_pi.build(input_shape)
        super().build(input_shape)

    @property
    def trainable_weights(self) -> list[Any]:
        return (
            self.mdn_mus.trainable_weights
            + self.mdn_sigmas.trainable_weights
            + self.mdn_pi.trainable_weights
        )

    @property
    def non_trainable_weights(self) -> list[Any]:
        return (
            self.mdn_mus.non_trainable_weights
            + self.mdn_sigmas.non_trainable_weights
            + self.mdn_pi.non_trainable_weights
        )

    def call(self, x: Any, mask: Any = None) -> Any:
        return layers.concatenate(
            [self.mdn_mus(x), self.mdn_sigmas(x), self.mdn_pi(x)], name="mdn_outputs"
        )


def get_mixture_loss_func(output_dim: int, num_mixes: int) -> Callable[[Any, Any], Any]:
    def mdn_loss_func(y_true: Any, y_pred: Any) -> Any:
        # Reshape inputs in case this is used in a TimeDistribued layer
        y_pred = tf.reshape(
            y_pred,
            [-1, (2 * num_mixes * output_dim) + num_mixes],
            name="reshape_ypreds",
        )
        y_true = tf.reshape(y_true, [-1, output_dim], name="reshape_ytrue")
        # Split the inputs into paramaters
        out_mu, out_sigma, out_pi = tf.split(
            y_pred,
            num_or_size_splits=[
                num_mixes * output_dim,
                num_mixes * output_dim,
                num_mixes,
            ],
            axis=-1,
            name="mdn_coef_split",
        )
        # Construct the mixture models
        cat = tfd.Categorical(logits=out_pi)
        component_splits = [output_dim] * num_mixes
        mus = tf.split(out_mu, num_or_size_splits=component_splits, axis=1)
        sigs = tf.split(out_sigma, num_or_size_splits=component_splits, axis=1)
        coll = [
            tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)
            for loc, scale in zip(mus, sigs, strict=True)
        ]
        mixture = tfd.Mixture(cat=cat, components=coll)
        loss = mixture.log_prob(y_true)
        loss = tf.negative(loss)
        loss = tf.reduce_mean(loss)
        return loss

    return mdn_loss_func


def build() -> tuple[keras.Model, Callable[[Any, Any], Any]]:
    mdn_network = keras.Sequential(
        [
            keras.Input(shape=(1,)),
            layers.Dense(N_HIDDEN, activation="relu"),
            layers.Dense(N_HIDDEN, activation="relu"),
            MixtureDensityOutput(OUTPUT_DIMS, N_MIXES),
        ]
    )
    loss = get_mixture_loss_func(OUTPUT_DIMS, N_MIXES)
    mdn_network.compile(loss=loss, optimizer="adam")
    return mdn_network, loss
