"""The Dockerfile's build steps, checked as far as they go without a container engine.

The image is: build the wheel, install only the wheel into a clean Python, run `shifter`.
Here: the wheel is built from the repo (`python -m build --wheel --no-isolation` with the
venv's hatchling, no download; an isolated build if hatchling is missing), installed with
`--no-deps` into a fresh venv made without system site-packages, and both entry points
run `--help` from that venv.

Why `--no-deps`: a full install of the wheel with its dependencies from PyPI was measured
at about 15 s on our 2-core machines and needs the network. Instead, the dependencies are
taken from the project venv through PYTHONPATH (a plain directory there: its `.pth` files,
including the editable install of shifter, are not processed), so `shifter` itself is
imported from the clean venv's copy of the wheel; a test checks that. The whole module
takes about 3 s. The Dockerfile and .dockerignore are checked statically.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.contract

REPO = Path(__file__).resolve().parents[2]
ENTRY_POINTS = ("shifter", "kubectl-shift")


@dataclass(frozen=True)
class Installed:
    """A wheel installed into a clean venv, and how to run things from it."""

    wheel: Path
    venv: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), capture_output=True, text=True, env=self.env,
                              timeout=60, check=False, cwd=self.venv.parent)


def _check(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    # With hatchling in the venv (dev extra), build offline; else build's own isolated env.
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-isolation"]
    _check([sys.executable, "-m", "build", "--wheel", *isolation, "--outdir", str(dist),
            str(REPO)])
    (wheel,) = dist.glob("shifter-*.whl")
    venv = root / "venv"
    _check([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    _check([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
            "--quiet", "--no-deps", "--no-index", str(wheel)])
    home = root / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update({
        "PYTHONPATH": sysconfig.get_paths()["purelib"],  # the dependencies, not shifter
        "PYTHONDONTWRITEBYTECODE": "1",  # as in the image
        "HOME": str(home),
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "NO_COLOR": "1",
        "COLUMNS": "100",
    })
    env.pop("KUBECONFIG", None)
    return Installed(wheel=wheel, venv=venv, env=env)


# --- the wheel ------------------------------------------------------------------------------

def test_wheel_holds_only_the_package(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as zf:
        names = zf.namelist()
    name, version = installed.wheel.name.split("-")[:2]
    assert {n.split("/")[0] for n in names} == {"shifter", f"{name}-{version}.dist-info"}
    for forbidden in ("lab/", "tests/", "bench/", "manifests/", "charts/"):
        assert not [n for n in names if n.startswith(forbidden)], forbidden
    assert "shifter/__init__.py" in names
    assert "shifter/schemas/events.schema.json" in names  # the event contract ships
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_wheel_declares_both_entry_points_and_every_dependency(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as zf:
        dist_info = next(n.split("/")[0] for n in zf.namelist() if ".dist-info/" in n)
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
        metadata = zf.read(f"{dist_info}/METADATA").decode()
    scripts = dict(re.findall(r"^(\S+) = (\S+)$", entry_points, flags=re.M))
    assert scripts == dict.fromkeys(ENTRY_POINTS, "shifter.cli.app:main")
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    required = {re.split(r"[<>=!~\[; ]", d)[0].lower()
                for d in pyproject["project"]["dependencies"]}
    declared = {re.split(r"[<>=!~\[; ]", line.split(": ", 1)[1])[0].lower()
                for line in metadata.splitlines() if line.startswith("Requires-Dist: ")
                and "extra ==" not in line}
    assert declared == required


# --- the clean install ----------------------------------------------------------------------

def test_venv_is_clean_and_shifter_is_imported_from_the_wheel(installed: Installed) -> None:
    cfg = (installed.venv / "pyvenv.cfg").read_text()
    assert re.search(r"^include-system-site-packages = false$", cfg, flags=re.M)
    proc = installed.run(str(installed.venv / "bin" / "python"), "-c",
                         "import shifter; print(shifter.__file__)")
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).is_relative_to(installed.venv)


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_entry_point_help_runs_from_the_clean_venv(installed: Installed, name: str) -> None:
    script = installed.venv / "bin" / name
    assert script.is_file(), f"pip did not install the {name} script"
    assert script.read_text().startswith(f"#!{installed.venv / 'bin' / 'python'}")
    proc = installed.run(str(script), "--help")
    assert proc.returncode == 0, f"{name} --help exited {proc.returncode}:\n{proc.stderr}"
    for command in ("run", "status", "abort", "validate"):
        assert command in proc.stdout, f"{name} --help does not list {command}"


def test_help_writes_nothing_under_the_install(installed: Installed) -> None:
    """Read-only-root-filesystem friendly: running shifter adds or changes no file."""
    def snapshot() -> dict[str, int]:
        return {str(p): p.stat().st_mtime_ns for p in installed.venv.rglob("*")}

    before = snapshot()
    proc = installed.run(str(installed.venv / "bin" / "shifter"), "--help")
    assert proc.returncode == 0, proc.stderr
    assert snapshot() == before


# --- the Dockerfile, statically -------------------------------------------------------------

def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_is_multi_stage_slim_non_root_with_shifter_entrypoint() -> None:
    ins = instructions()
    froms = [a for i, a in ins if i == "FROM"]
    assert len(froms) == 2 and froms[0].endswith("AS builder")
    assert ("ARG", "PYTHON_IMAGE=python:3.12-slim") in ins
    final = ins[max(n for n, (i, _) in enumerate(ins) if i == "FROM"):]
    assert ("USER", "65532:65532") in final
    assert ("ENTRYPOINT", '["shifter"]') in final
    assert ("CMD", '["--help"]') in final
    env = " ".join(a for i, a in final if i == "ENV")
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "HOME=/tmp", "PIP_NO_CACHE_DIR=1"):
        assert setting in env
    assert any(i == "LABEL" and "org.opencontainers.image.title" in a for i, a in final)
    runs = " ".join(a for i, a in final if i == "RUN")
    assert "pip install --no-index --find-links /wheels shifter" in runs  # only the wheels
    assert not [a for i, a in final if i in ("COPY", "ADD")]  # no sources in the image


def dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    excluded = False
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatchcase(p, pattern[3:]) for p in parts)
        else:
            hit = any(fnmatch.fnmatchcase(p, pattern) for p in prefixes)
        if hit:
            excluded = not negate
    return excluded


def test_build_context_holds_what_the_builder_copies_and_nothing_else() -> None:
    copies = [a.split()[:-1] for i, a in instructions() if i == "COPY" and "--from" not in a]
    sources = {s for srcs in copies for s in srcs}
    assert sources == {"pyproject.toml", "README.md", "shifter"}
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    needed = {"pyproject.toml", pyproject["project"]["readme"],
              pyproject["tool"]["hatch"]["version"]["path"]}
    for path in needed:
        assert (REPO / path).exists(), path
        assert not dockerignore_excludes(path), f".dockerignore excludes {path}"
        assert path in sources or path.split("/")[0] in sources, f"COPY misses {path}"
    for path in ("lab/__init__.py", "tests/conftest.py", ".venv/bin/python", ".git/HEAD",
                 "shifter/__pycache__/x.pyc", "manifests/job.yaml"):
        assert dockerignore_excludes(path), f".dockerignore lets {path} in"
