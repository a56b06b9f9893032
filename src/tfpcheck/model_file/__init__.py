"""Static reading of saved model files: never imports TensorFlow, never runs stored code."""
