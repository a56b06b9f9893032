"""Read serialized Python functions as bytes: pickle opcodes and marshal data, never executed.

Entry points are in `functions` (read_marshal_function, read_cloudpickle_function,
scan_pickle_globals, dangerous_refs); `expr_query`/`expr_render` help rules with the
recovered expressions. Modules: marshal_reader (marshal format -> plain data), pickle_scan
(pickle opcodes on a symbolic stack), versions (+ opcode_tables: which Python wrote the
bytecode), decompile (calls and return value, running interpreter's bytecode only),
dangerous (the "dangerous reference" rule), code (the CodeObject record), errors.
"""
