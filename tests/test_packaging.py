"""Packaging that tells the truth: every import declared, and the built wheel runs on its own."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, stop_process
from tests.support.serving import wait_until_healthy
from tests.test_imports import PACKAGES, ROOT_MODULES

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def distribution_name(spec: str) -> str:
    """`litestar[jinja]==2.25.*` -> `litestar` (normalised as PEP 503 does)."""
    name = re.match(r"[A-Za-z0-9._-]+", spec)
    assert name is not None, spec
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def third_party_imports(paths: list[Path]) -> dict[str, set[str]]:
    """Top-level modules imported outside the standard library and the project: files."""
    own = {*PACKAGES, *ROOT_MODULES, "tests"}
    found: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in own:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def undeclared(paths: list[Path], declared: set[str]) -> list[str]:
    providers = packages_distributions()
    missing = []
    for module, files in sorted(third_party_imports(paths).items()):
        names = {distribution_name(d) for d in providers.get(module, [module])}
        if not names & declared:
            missing.append(f"{module} ({', '.join(sorted(names))}) in {sorted(files)[0]}")
    return missing


def test_the_app_declares_every_package_it_imports() -> None:
    runtime = {distribution_name(spec) for spec in PROJECT["project"]["dependencies"]}
    code = [ROOT / f"{name}.py" for name in ROOT_MODULES]
    for package in PACKAGES:
        code += [p for p in (ROOT / package).rglob("*.py") if "piccolo_migrations" not in p.parts]
    missing = undeclared(code, runtime)
    assert not missing, f"imported but not in [project] dependencies: {missing}"


def test_the_tests_declare_every_package_they_import() -> None:
    declared = {distribution_name(spec) for spec in PROJECT["project"]["dependencies"]}
    declared |= {distribution_name(spec) for spec in PROJECT["dependency-groups"]["dev"]}
    missing = undeclared(sorted((ROOT / "tests").rglob("*.py")), declared)
    assert not missing, f"imported by tests but in no dependency list: {missing}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `uv build` makes of this checkout."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("crate-*.whl")
    return built


def test_the_wheel_carries_pages_assets_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("templates", "static"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file():
                inside = f"web/{folder}/{path.relative_to(ROOT / folder).as_posix()}"
                assert inside in names, f"{inside} is missing from the wheel"
    migrations = {p.name for p in (ROOT / "services" / "piccolo_migrations").glob("*.py")}
    assert {f"services/piccolo_migrations/{name}" for name in migrations} <= names
    assert "piccolo_conf.py" in names
    assert not [n for n in names if n.startswith(("tests/", "templates/", "static/"))]


def test_an_installed_wheel_runs_and_serves_pages(wheel: Path, tmp_path: Path) -> None:
    """A fresh virtualenv holding only the wheel. Its dependencies are the ones this
    run's environment has (the versions uv.lock names), seen through a .pth file, so the
    check needs no package index; the checkout itself is not on the path."""
    uv = shutil.which("uv")
    assert uv is not None
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CRATE_", "BEATPORT_", "SPOTIFY_", "REDIS_", "DATABASE_"))
        and key not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    installed = subprocess.run(
        [uv, "pip", "install", "--offline", "--no-deps", "--quiet", "--python", str(venv)]
        + [str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr
    (site_packages,) = venv.glob("lib/python3*/site-packages")
    (site_packages / "locked_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    crate = venv / "bin" / "crate"
    work = tmp_path / "elsewhere"  # nowhere near the checkout
    work.mkdir()
    helped = subprocess.run(
        [str(crate), "--help"], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert helped.returncode == 0 and "serve" in helped.stdout, helped.stderr
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import piccolo_conf, web; print(web.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.stdout.startswith(str(venv)), where  # the wheel's code, not the checkout's
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(crate), "serve", "--port", str(port)],
            cwd=work,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(port, server, log, within=120)
        page = httpx.get(f"http://127.0.0.1:{port}/tracks")
        assert page.status_code == 200 and "<title>Tracks" in page.text
        css = httpx.get(f"http://127.0.0.1:{port}/static/app.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    finally:
        stop_process(server)
    assert (work / "data" / "crate.sqlite3").exists()  # migrated where it was started


def test_no_path_of_one_machine_in_the_tree() -> None:
    """The checkout runs anywhere: no absolute path of a particular machine in any file."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    machine = re.compile(rb"(?<![\w.])/(?:work|home|root|Users)/[\w.-]+")
    found = []
    for name in filter(None, listed):
        path = ROOT / name.decode()
        if not path.is_file() or path.suffix in {".sqlite3", ".png", ".ico"}:
            continue
        for line in path.read_bytes().splitlines():
            if machine.search(line):
                found.append(f"{name.decode()}: {line.decode(errors='replace').strip()[:120]}")
    assert not found, found


def test_real_samples_are_beside_the_checkout_or_where_the_variable_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.support import fixtures

    monkeypatch.delenv("CRATE_REAL_FIXTURES", raising=False)
    beside = ROOT.parent / "shared" / "fixtures" / "real"
    if (beside / "beatport").is_dir():
        assert fixtures.real_fixtures() == beside
    else:
        with pytest.raises(FileNotFoundError, match="beside the checkout"):
            fixtures.real_fixtures()
    (tmp_path / "beatport").mkdir()
    monkeypatch.setenv("CRATE_REAL_FIXTURES", str(tmp_path))
    assert fixtures.real_fixtures() == tmp_path
    monkeypatch.setenv("CRATE_REAL_FIXTURES", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="CRATE_REAL_FIXTURES"):
        fixtures.real_fixtures()
