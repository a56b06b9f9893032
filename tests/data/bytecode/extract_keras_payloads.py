"""Copy the serialized functions out of saved .keras files into keras_payloads.json.

    python tests/data/bytecode/extract_keras_payloads.py /tmp/exp

reads <dir>/{tfk_softmax_cat,tfk_ohc,tfk_in,k3_lambda}.keras (made by the script in
README.md) as zip + JSON only, and keeps, per layer that has them, `make_distribution_fn`
(base64 cloudpickle) and `function` (tf_keras [code, defaults, closure] or the Keras 3
`__lambda__` dict) exactly as stored.
"""

import json
import os
import sys
import zipfile

MODELS = ("tfk_softmax_cat", "tfk_ohc", "tfk_in", "k3_lambda")
HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    source = sys.argv[1]
    out: dict[str, dict[str, object]] = {}
    for model in MODELS:
        with zipfile.ZipFile(os.path.join(source, model + ".keras")) as archive:
            config = json.loads(archive.read("config.json"))
        for layer in config["config"]["layers"]:
            cfg = layer["config"]
            kept = {key: cfg[key] for key in ("make_distribution_fn", "function") if key in cfg}
            if kept:
                kept["class_name"] = layer["class_name"]
                out[model] = kept
    with open(os.path.join(HERE, "keras_payloads.json"), "w") as handle:
        json.dump(out, handle, indent=1, sort_keys=True)
        handle.write("\n")


if __name__ == "__main__":
    main()
