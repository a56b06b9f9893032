"""Size and depth limits that keep a hostile or broken file from costing memory or time."""

from __future__ import annotations

MiB = 1024 * 1024

# A real config.json is kilobytes to a few MiB; anything bigger is not worth reading.
MAX_CONFIG_BYTES = 64 * MiB
MAX_METADATA_BYTES = 1 * MiB
# Models nested inside models (and JSON structures walked by hand) deeper than this are absurd.
MAX_MODEL_DEPTH = 100
MAX_WALK_DEPTH = 100
# How much of one layer's config is searched for serialized code.
MAX_CODE_SCAN_NODES = 200_000
MAX_CODE_TEXT_CHARS = 16 * MiB
# Lambdas stored in the closures of lambdas (tfp wraps the user's function once).
MAX_CLOSURE_DEPTH = 8
