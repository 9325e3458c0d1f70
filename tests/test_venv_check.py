"""A stage script run by a Python without the project's packages (`python3 predict.py` outside
.venv) says in one line how to run it, and exits with status 2, instead of a traceback."""

import subprocess
import sys

import pytest
from conftest import ROOT

STAGES = ["preprocess.py", "train.py", "evaluate.py", "export.py", "predict.py", "serve.py",
          "read_many.py"]


@pytest.mark.parametrize("script", STAGES)
def test_a_python_without_numpy_is_told_to_use_the_venv(script, tmp_path):
    # -S leaves out site-packages: a Python with nothing installed, as the system's may be.
    result = subprocess.run([sys.executable, "-S", str(ROOT / script), "x.png"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"{script}: this Python ({sys.executable}) has no NumPy: ")
    assert f".venv/bin/python {ROOT / script} x.png" in line
    assert "bin/activate" in line


def test_a_package_missing_later_is_said_the_same_way_and_other_errors_as_usual(tmp_path):
    command = "import sys; sys.argv = ['stage.py', '7.png']; import venv_check; import {}"
    missing = subprocess.run([sys.executable, "-c", command.format("no_such_package.sub")],
                             cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert missing.returncode == 2
    (line,) = missing.stderr.splitlines()  # Here .venv itself: told to reinstall.
    assert line.startswith(f"stage.py: this Python ({sys.executable}) has no module "
                           "no_such_package") and "pip install -r requirements.txt" in line
    # One of the project's own modules missing is a bug, shown with its traceback.
    (tmp_path / "venv_check.py").write_bytes((ROOT / "venv_check.py").read_bytes())
    (tmp_path / "common.py").write_text("")
    ours = subprocess.run([sys.executable, "-c", command.format("common.nothing")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert ours.returncode == 1 and "Traceback" in ours.stderr
