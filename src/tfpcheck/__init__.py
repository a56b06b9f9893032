"""tfpcheck: find Keras + TensorFlow Probability configuration mistakes before training."""

__version__ = "0.1.0"
