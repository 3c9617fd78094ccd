"""A wheel install has every file moonshot reads at run time (issue 30): the pretrained agents
behind ``pretrained:NAME``, the sweep specs behind ``moonshot sweep NAME``, the packaged
hyperparameters and RL Zoo configs. Built from a copy of this checkout, so the test leaves no
``build/`` behind (a stale one would leak old files into the next wheel)."""

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The packages of the wheel (moonshot_body: the body world's plug-in and its gait repertoire).
PACKAGES = ("moonshot", "moonshot_body")


def _package_files() -> set[str]:
    """Every file of the package folder a wheel must carry (code and data), as wheel paths."""
    return {str(p.relative_to(ROOT).as_posix()) for pkg in PACKAGES
            for p in (ROOT / pkg).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc",)}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of this checkout (``pip wheel --no-deps``, no network: the installed
    setuptools builds it)."""
    pytest.importorskip("setuptools")
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, src / pkg,
                        ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    out = tmp_path_factory.mktemp("wheel")
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                          "--no-build-isolation", "-q", "-w", str(out), str(src)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    [whl] = out.glob("moonshot-*.whl")
    return whl


def test_the_wheel_carries_every_file_of_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = _package_files() - names
    assert not missing, f"not in the wheel: {sorted(missing)}"
    from moonshot.agents.pretrained import pretrained_agents
    from moonshot.evaluation.sweep.spec import shipped_specs

    # what `moonshot pretrained` and `moonshot sweep NAME` look up, named one by one
    needed = {f"moonshot/pretrained/{name}/{f}" for name in pretrained_agents()
              for f in ("model.zip", "config.json")}
    needed |= {f"moonshot/sweeps/{name}.yaml" for name in shipped_specs()}
    needed |= {"moonshot/agents/hyperparams.yaml", "moonshot/agents/zoo/ppo.yml"}
    assert len(needed) > 10 and needed <= names, sorted(needed - names)


def test_pretrained_agents_and_shipped_sweeps_work_from_the_installed_wheel(wheel, tmp_path):
    """Installed into a venv that sees this Python's packages but not this checkout (no
    PYTHONPATH, run from elsewhere): the wheel's moonshot answers."""
    venv.create(tmp_path / "venv", system_site_packages=True, with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DISPLAY")}
    env["MPLBACKEND"] = "Agg"

    def run(*args: str) -> str:
        res = subprocess.run([str(python), *args], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=300)
        assert res.returncode == 0, (args, res.stdout[-2000:], res.stderr[-2000:])
        return res.stdout

    run("-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel))
    where = run("-c", "import moonshot; print(moonshot.__file__)")
    assert where.startswith(str(tmp_path / "venv")), where  # not this checkout, not /work/main
    assert "pretrained:moon-ppo" in run("-m", "moonshot", "pretrained")
    assert " cells:" in run("-m", "moonshot", "sweep", "moon-transfer", "--out",
                            str(tmp_path / "sweep"), "--dry-run")
    run("-m", "moonshot", "evaluate", "pretrained:moon-ppo", "--episodes", "1", "--split",
        "new", "--out", str(tmp_path / "eval"))
    assert (tmp_path / "eval" / "transfer.csv").exists()
