"""The README's "Your first plugin" works exactly as written: its files are taken from the
README, installed as a distribution of their own, and their test runs with the test kit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FILE_BLOCK = re.compile(r"<!-- file: (?P<path>[^ ]+) -->\n```[a-z]*\n(?P<body>.*?)```", re.S)
RUN_BLOCK = re.compile(r"<!-- run -->\n```bash\n(?P<body>.*?)```", re.S)

pytestmark = pytest.mark.packaging


def readme_files() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    return {m["path"]: m["body"] for m in FILE_BLOCK.finditer(text)}


def test_the_readme_plugin_installs_and_its_test_passes(tmp_path):
    files = readme_files()
    assert set(files) == {"pyproject.toml", "growmies_tips/__init__.py", "tests/test_tips.py"}
    run = RUN_BLOCK.search((ROOT / "README.md").read_text())
    assert run is not None and run["body"].split() == [
        "pip", "install", "-e", "'.[test]'", "pytest"]
    project = tmp_path / "growmies-tips"
    for name, body in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(body)
    site = tmp_path / "site"
    # The README's `pip install -e '.[test]'`, kept out of the shared venv: the package and its
    # entry point go to a folder of their own, and the venv already has growmies and the kit.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--target", str(site), str(project)],
        check=True, timeout=300, capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1 passed" in result.stdout
