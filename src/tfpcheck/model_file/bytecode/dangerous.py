"""Which references in serialized code reach for the shell, files, the network or eval.

Pickle globals are judged the way picklescan/modelscan judge them ("module.name"). Code
objects are judged by their names: a shell function name (system, popen, spawnv, ...) counts
only when the code also loads a dangerous module, and builtins only when loaded as globals
(an attribute called `compile` or `open`, as in `model.compile`, is not the builtin).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tfpcheck.model_file.bytecode.pickle_scan import DYNAMIC

# Every global of these modules is dangerous in a pickle (and their submodules').
DANGEROUS_MODULES = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "socket",
        "shutil",
        "pty",
        "runpy",
        "importlib",
        "webbrowser",
        "ctypes",
        # nested deserializers run whatever they are given, unscanned
        "pickle",
        "_pickle",
        "marshal",
    }
)
SYS_NAMES = frozenset({"exit", "modules"})
BUILTIN_MODULES = frozenset({"builtins", "__builtin__"})
PICKLE_BUILTINS = frozenset(
    {"exec", "eval", "compile", "__import__", "open", "getattr", "apply", "execfile", "breakpoint"}
)
CODE_BUILTINS = frozenset(
    {"__import__", "exec", "eval", "compile", "open", "execfile", "breakpoint"}
)
# Attribute names that run programs, delete files or open connections when the code also
# loads one of DANGEROUS_MODULES.
SHELL_NAMES = frozenset(
    {
        "system",
        "popen",
        "fork",
        "forkpty",
        "posix_spawn",
        "posix_spawnp",
        "startfile",
        "kill",
        "killpg",
        "remove",
        "unlink",
        "rmdir",
        "removedirs",
        "rmtree",
        "Popen",
        "call",
        "check_call",
        "check_output",
        "run",
        "getoutput",
        "getstatusoutput",
        "create_connection",
        "run_path",
        "run_module",
        "import_module",
        "open",
        "open_new",
        "loads",
        "load",
        "CDLL",
    }
)
SHELL_PREFIXES = ("spawn", "execl", "execv")


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def pickle_global_is_dangerous(module: str, name: str) -> bool:
    if DYNAMIC in (module, name) or module == "<extension>":
        return True  # computed at unpickling time: could be anything
    if module in BUILTIN_MODULES:
        return name in PICKLE_BUILTINS
    if module == "sys":
        return name in SYS_NAMES
    return _top(module) in DANGEROUS_MODULES


def _is_shell_name(name: str) -> bool:
    return name in SHELL_NAMES or name.startswith(SHELL_PREFIXES)


def dangerous_refs(
    pickle_globals: Iterable[tuple[str, str]] = (),
    *,
    code_names: Iterable[str] = (),
    code_globals: Iterable[str] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """Dangerous references as "module.name" strings ("os.system", "builtins.exec").

    pickle_globals: (module, name) pairs a pickle loads (GLOBAL/STACK_GLOBAL/INST).
    code_names: co_names of a code object and the code nested in it, in order.
    code_globals: the names among them loaded as globals or imported (LOAD_GLOBAL,
        LOAD_NAME, IMPORT_NAME); None when unknown, then every name counts as possibly global.
    aliases: global name -> the module it is bound to (from cloudpickle's __globals__),
        so `import os as o; o.system(...)` is still os.system.
    """
    found: dict[str, None] = {}
    for module, name in pickle_globals:
        if pickle_global_is_dangerous(module, name):
            found[f"{module}.{name}"] = None
    names = list(code_names)
    loaded = set(names if code_globals is None else code_globals)
    aliases = aliases or {}
    # the dangerous modules the code loads, by the position of their name in co_names
    modules: list[tuple[int, str]] = []
    for position, name in enumerate(names):
        target = aliases.get(name, name)
        if name in loaded and _top(target) in DANGEROUS_MODULES:
            modules.append((position, target))
    for position, name in enumerate(names):
        if name in loaded and name in CODE_BUILTINS and name not in aliases:
            found[f"builtins.{name}"] = None
        elif modules and _is_shell_name(name):
            # `os.system` puts "os" just before "system" in co_names: take the nearest
            before = [target for pos, target in modules if pos < position]
            found[f"{before[-1] if before else modules[0][1]}.{name}"] = None
    return tuple(found)
