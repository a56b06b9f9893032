"""Write a tf_keras `.h5` whose DistributionLambda is pickled by a given cloudpickle.

cloudpickle 3.1.2 records the file a lambda was written in; 3.1.3 and later record
`<dynamic-code>`. One model, saved once under each, so that the tests cover both whatever
cloudpickle is installed. From the repository root, with the `.[tf]` environment:

    for v in 3.1.2 3.1.3; do
        pip download --no-deps cloudpickle==$v -d /tmp/cp && mkdir -p /tmp/cp/$v &&
        python -m zipfile -e /tmp/cp/cloudpickle-$v-py3-none-any.whl /tmp/cp/$v &&
        PYTHONPATH=/tmp/cp/$v python tests/data/cloudpickle/build.py
    done

Each run writes `softmax_categorical_cp<version>.h5` and its entry in `manifest.json`: the
file name the pickle records and the lambda's line, as this script knows them.
"""

import json
import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import cloudpickle
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as tfk

HERE = os.path.dirname(os.path.abspath(__file__))
tfd = tfp.distributions


def build() -> tfk.Model:
    tfk.utils.set_random_seed(0)
    return tfk.Sequential(
        [
            tfk.layers.InputLayer(input_shape=(8,)),
            tfk.layers.Dense(10, name="logits"),
            tfk.layers.Activation("softmax", name="softmax"),
            tfp.layers.DistributionLambda(
                lambda t: tfd.Categorical(logits=t),  # LAMBDA
                name="label_dist",
            ),
        ]
    )


def lambda_line() -> int:
    with open(__file__) as handle:
        return next(i for i, line in enumerate(handle, 1) if line.rstrip().endswith("# LAMBDA"))


def main() -> None:
    version = cloudpickle.__version__
    name = f"softmax_categorical_cp{version.replace('.', '')}.h5"
    build().save(os.path.join(HERE, name))
    # what a function pickled by this cloudpickle says about its file, here and now
    recorded = cloudpickle.loads(cloudpickle.dumps(lambda: 0)).__code__.co_filename
    manifest_path = os.path.join(HERE, "manifest.json")
    manifest = {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as handle:
            manifest = json.load(handle)
    manifest[name] = {
        "cloudpickle": version,
        "tensorflow": tf.__version__,
        "tf_keras": tfk.__version__,
        "tensorflow_probability": tfp.__version__,
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "recorded_file": recorded,
        "line": lambda_line(),
    }
    with open(manifest_path, "w") as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)
        handle.write("\n")


if __name__ == "__main__":
    main()
