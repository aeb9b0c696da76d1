"""The glibc malloc tuning that keeps freed array memory for reuse (funcad/_malloc.py)."""

import os
import subprocess
import sys

import pytest

import funcad._malloc as m

glibc = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION") is not None


@pytest.mark.skipif(not glibc, reason="mallopt is glibc's")
def test_tuning_is_applied_on_import_and_can_be_disabled():
    assert m.applied and m.configure()
    code = "import funcad._malloc as m, funcad; print(m.applied)"
    env = dict(os.environ, FUNCAD_MALLOC_TUNING="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == "False", out.stderr
