"""What tfpcheck knows about TensorFlow Probability and Keras, written once, as plain data.

* `tfp_layers`: the tfp.layers classes; for each distribution head the family it builds, how
  it reads its input, the parameters it makes of it and its `params_size` formula.
* `distributions`: the tfd classes, their logits / probs / positive parameters, softmax or
  sigmoid family, and how a call to one is recognised by name in source or bytecode.
* `keras_losses`: Keras loss names, aliases and class names, the labels each expects and
  the squash its `from_logits=True` applies.
* `activations`: Keras activations and the tensor functions lambdas call, by output range.

Nothing here imports TensorFlow, Keras or TFP: the static tier reads it as it is, and
tests/test_catalog.py checks it against the installed libraries.
"""
