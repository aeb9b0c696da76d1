"""jit has one backend, the table (issue 16): what dispatch does at its edges. A program the
table does not compile is a funcad error, ``FUNCAD_JIT_BACKEND`` accepts only ``table``,
float16 programs run uncompiled, an unusable cache directory compiles in memory, and
``funcad cache info`` names the llvmlite that compiles."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import dispatch, table
from funcad.errors import FuncadError, UnknownBackendError, UnsupportedFunctionError

ROOT = Path(__file__).resolve().parent.parent


def test_a_program_the_table_does_not_cover_is_a_clear_funcad_error(monkeypatch):
    def refuse(jaxpr, *args, **kwargs):
        raise table.Unsupported("the loops of pow on int64")

    monkeypatch.setattr(table, "build", refuse)

    def f(x):
        return fnp.sin(x) * 2.0

    why = r"jit\(f\): .*does not cover.*pow on int64.*without jit"
    with pytest.raises(UnsupportedFunctionError, match=why) as e:
        fa.jit(f)(np.ones(3))
    assert isinstance(e.value, FuncadError) and isinstance(e.value, TypeError)
    monkeypatch.undo()
    np.testing.assert_allclose(fa.jit(f)(np.ones(3)), 2.0 * np.sin(np.ones(3)))


@pytest.mark.parametrize("value", ["numba", "llvm"])
def test_only_the_table_backend_is_named(monkeypatch, value):
    monkeypatch.setenv("FUNCAD_JIT_BACKEND", value)
    with pytest.raises(UnknownBackendError, match=rf"FUNCAD_JIT_BACKEND='{value}'.*'table' is the only one"):
        fa.jit(lambda x: x * 3.0 + 1.0)(np.arange(3.0))
    monkeypatch.setenv("FUNCAD_JIT_BACKEND", "table")
    np.testing.assert_array_equal(fa.jit(lambda x: x * 3.0 + 1.0)(np.arange(3.0)), np.arange(3.0) * 3.0 + 1.0)


def test_float16_programs_run_uncompiled_as_eagerly():
    x = np.linspace(-1, 1, 5, dtype=np.float16)

    def f(x):
        return fnp.tanh(x) * x

    np.testing.assert_array_equal(fa.jit(f)(x), f(x))
    assert fa.jit(f)(x).dtype == np.float16
    low = fa.jit(f).lower(x)
    assert "not compiled" in low.source and "float16" in low.source
    assert isinstance(dispatch.executable_for(low.traced), dispatch.Interpreted)


def _run(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env}, timeout=120)


def test_a_cache_directory_that_is_a_file_warns_once_and_compiles_in_memory(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    p = _run("import numpy as np, funcad as fa\n"
             "print(fa.jit(lambda x: x * 2.0 + 1.0)(np.arange(3.0)).tolist())\n"
             "print(fa.jit(lambda x: x - 1.0)(np.arange(3.0)).tolist())\n",
             FUNCAD_CACHE_DIR=str(not_a_dir))
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n")[:2] == ["[1.0, 3.0, 5.0]", "[-1.0, 0.0, 1.0]"]
    assert p.stderr.count("CacheWarning") == 1 and "kept in memory only" in p.stderr
    assert not_a_dir.read_text() == ""


def test_cache_info_names_llvmlite(tmp_path):
    import llvmlite

    p = _run("import sys\nfrom funcad.__main__ import main\nsys.exit(main(['cache', 'info']))",
             FUNCAD_CACHE_DIR=str(tmp_path / "c"))
    assert p.returncode == 0, p.stderr
    assert f"llvmlite:  {llvmlite.__version__}" in p.stdout and "numba" not in p.stdout.lower()
