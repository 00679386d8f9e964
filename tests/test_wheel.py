"""A wheel install works and puts nothing generic (`plugins`, `templates`) into site-packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a copy: test workers building in the checkout at once would share its build folder.
    source = tmp_path_factory.mktemp("source") / "perception"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".venv", ".git", "instance", "build", "*.egg-info", "__pycache__", ".*cache"),
    )
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("perception-*.whl")
    return built


def test_the_wheel_holds_only_perception_names(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"perception", "perception_plugins", wheel.name.split("-py")[0] + ".dist-info"}
    for needed in (
        "perception/templates/base.html",
        "perception/templates/respond/form.html",
        "perception/migrations/env.py",
        "perception/migrations/script.py.mako",
        "perception/migrations/versions/0001_initial.py",
        "perception/static/perception.css",
        "perception/translations/fr/LC_MESSAGES/messages.mo",
        "perception_plugins/scoring.py",
        "perception_plugins/survey_templates/six-pillars.yaml",
    ):
        assert needed in names, needed
    entry_points = zipfile.ZipFile(wheel).read(f"{wheel.name.split('-py')[0]}.dist-info/entry_points.txt").decode()
    assert "[perception]" in entry_points and "perception_plugins.scoring" in entry_points


def test_the_installed_wheel_serves_from_its_own_files(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    script = """
import perception
from perception import create_app
from perception.db import upgrade
app = create_app()
upgrade(app)
assert perception.__file__.startswith(TARGET), perception.__file__
assert app.template_folder.startswith(TARGET), app.template_folder
models = app.extensions["perception"].registries.scoring_models
assert sorted(models) == ["ces", "csat", "enps", "mean", "nps", "thumbs_up", "top2box"], sorted(models)
assert type(models["nps"]).__module__ == "perception_plugins.scoring"
client = app.test_client()
page = client.get("/login", headers={"Accept-Language": "fr"})
assert page.status_code == 200 and "Se connecter" in page.get_data(as_text=True)
print("ok")
""".replace("TARGET", repr(str(target)))
    env = {**os.environ, "PYTHONPATH": str(target), "PERCEPTION_INSTANCE_PATH": str(tmp_path / "instance")}
    env.pop("PERCEPTION_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr
