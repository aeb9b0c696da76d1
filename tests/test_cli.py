"""The ``funcad`` command (funcad/__main__.py; ``python -m funcad`` and the console script):
subcommands, --help on each, --version, --opt=value, exit codes 0/2, no traceback for a user
mistake, and no tour run by an unknown flag."""

import os
import subprocess
import sys

import pytest
import tomllib

import funcad
from funcad.__main__ import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What pip's console-script wrapper runs for `funcad ARGS` ([project.scripts] in pyproject.toml).
SCRIPT = "import sys; from funcad.__main__ import main; sys.exit(main())"


def funcad_command(*args, module=False, cwd=ROOT):
    cmd = [sys.executable, "-m", "funcad", *args] if module else [sys.executable, "-c", SCRIPT, *args]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT, os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def test_pyproject_installs_the_console_script_and_both_packages():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)
    assert project["project"]["scripts"]["funcad"] == "funcad.__main__:main"
    found = project["tool"]["setuptools"]["packages"]["find"]["include"]
    assert "funcad_tour" in found and "funcad" in found


def test_version_and_help_exit_zero():
    r = funcad_command("--version")
    assert (r.returncode, r.stdout.strip()) == (0, f"funcad {funcad.__version__}"), r.stderr
    r = funcad_command("--help", module=True)
    assert r.returncode == 0 and all(c in r.stdout for c in ("tour", "graph", "cache", "--version"))


@pytest.mark.parametrize("args", [["--bogus"], ["--tour"], ["nosuchcommand"]])
def test_unknown_flag_or_command_is_a_usage_error_and_runs_no_tour(args, capsys):
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and "usage:" in err and args[0] in err  # no section printed, argparse's line


def test_user_mistakes_exit_2_in_one_message_without_a_traceback(tmp_path):
    r = funcad_command("graph", "no_such_module_xyz:loss", "--args=f64[3]", cwd=tmp_path)
    assert r.returncode == 2 and "no_such_module_xyz" in r.stderr and "Traceback" not in r.stderr
    r = funcad_command("cache", "bogus", module=True)
    assert r.returncode == 2 and "invalid choice: 'bogus'" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("command", ["tour", "graph", "cache"])
def test_each_subcommand_has_its_help(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: funcad {command}") or out.startswith(f"usage: python -m funcad {command}")
    assert {"tour": "--only", "graph": "--args", "cache": "info"}[command] in out


def test_option_equals_value_forms(tmp_path, monkeypatch, capsys):
    (tmp_path / "climodel.py").write_text(
        "import funcad.numpy as fnp\n\ndef loss(w, x):\n    return fnp.sum(fnp.tanh(x @ w))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert main(["graph", "climodel:loss", "--args=f64[3],f64[2,3]", "--output=g.dot", "--grad",
                 "--argnums=0"]) == 0
    dot = (tmp_path / "g.dot").read_text()
    assert dot.startswith("digraph") and "d/dw" in dot and "tanh" in dot
    assert main(["graph", "climodel:loss", "--args=f64[3],f64[3,2]"]) == 2  # x @ w does not trace
    err = capsys.readouterr().err
    assert "climodel:loss" in err and "f64[3],f64[3,2]" in err


def test_tour_lists_and_selects_sections_and_rejects_bad_numbers(capsys):
    assert main(["tour", "--list"]) == 0
    titles = capsys.readouterr().out.splitlines()
    assert len(titles) > 10 and titles[0].startswith(" 1. ")
    assert main(["tour", "--only=999"]) == 2
    assert "no section [999]" in capsys.readouterr().err
    assert main(["tour", "--only=1,x"]) == 2
    assert "expected section numbers" in capsys.readouterr().err


def test_cache_info_through_the_command(tmp_path):
    env_dir = tmp_path / "cache"
    r = subprocess.run([sys.executable, "-m", "funcad", "cache", "info"], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=ROOT, FUNCAD_CACHE_DIR=str(env_dir)), timeout=120)
    assert r.returncode == 0 and str(env_dir) in r.stdout and "entries:   0" in r.stdout


def test_a_reader_that_stops_early_gets_no_traceback():
    """`python -m funcad | head` (the README's check): at a closed pipe the command stops quietly."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "funcad", "tour", "--list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=ROOT)
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and "Traceback" not in err and "Broken" not in err, err
