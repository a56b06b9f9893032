"""Read serialized Python functions as bytes: pickle opcodes and marshal data, never executed."""
