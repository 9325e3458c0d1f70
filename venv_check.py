"""Says how to run a stage script when the Python running it lacks the project's packages.

`python3 predict.py x.png` with the system's Python stopped in a ModuleNotFoundError
traceback: the packages are in .venv (make run creates it). Each stage script imports this
module before anything else, and it imports only the standard library, so it runs in any
Python: it prints one line saying which command to run instead, and exits with status 2.
"""

import importlib.util
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
EXIT_USAGE = 2  # common.EXIT_USAGE, which this module cannot import: common needs NumPy.


def advice(missing):
    """One line: what is missing, and the command that has it."""
    python = shown(VENV / "bin" / "python")
    problem = f"{Path(sys.argv[0]).name}: this Python ({sys.executable}) has no {missing}"
    if Path(sys.prefix).resolve() == VENV.resolve():  # .venv itself, half installed
        install = shlex.join([python, "-m", "pip", "install", "-r",
                              shown(ROOT / "requirements.txt")])
        return f"{problem}, though it is the project's .venv: reinstall with {install}"
    command = shlex.join([python, *sys.argv])
    if not VENV.exists():
        return (f"{problem}: run `make run` first (it creates .venv with the project's "
                f"packages), then {command}")
    return (f"{problem}: run it with the project's .venv: {command} "
            f"(or `source {shown(VENV)}/bin/activate` first)")


def shown(path):
    """path from the current folder when it is below it, else in full."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def is_project_module(name):
    """Whether name is one of the project's own modules, not a package to install."""
    return (ROOT / f"{name}.py").exists() or (ROOT / name / "__init__.py").exists()


def say_how_to_run(kind, error, trace):
    """sys.excepthook: a package missing when a script imports it later (TensorFlow when a
    model is loaded) gets the same line; any other error its usual traceback."""
    name = (getattr(error, "name", None) or "").partition(".")[0]
    if not issubclass(kind, ModuleNotFoundError) or not name or is_project_module(name):
        sys.__excepthook__(kind, error, trace)
        return
    print(advice(f"module {name}"), file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_USAGE)  # An excepthook cannot choose the status otherwise.


# NumPy is the first package every stage imports (common imports it).
if importlib.util.find_spec("numpy") is None:
    print(advice("NumPy"), file=sys.stderr)
    sys.exit(EXIT_USAGE)
sys.excepthook = say_how_to_run
