"""What PyPI shows: LICENSE in both archives, metadata twine accepts, project URLs, and README links that work there.

PyPI renders README.md without the repository, so a relative link (``docs/hook.md``) is dead there: every
link to a file is an absolute GitHub URL, and each must name a file or folder of this checkout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPO = "https://github.com/airflow-provider-mta/airflow-provider-mta"
# [text](target), ![alt](target), <a href="target">, <img src="target">, [ref]: target
_LINK_RE = re.compile(
    r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|(?:href|src)=\"([^\"]+)\"|^\[[^\]]+\]:\s*(\S+)", re.M
)


def readme_links(text: str) -> list[str]:
    return [next(g for g in m.groups() if g) for m in _LINK_RE.finditer(text)]


def test_readme_link_finder_sees_every_kind_of_link():
    text = '[a](docs/x.md) ![b](img.png "t") <a href="y.md">y</a>\n[ref]: z.md\n[c](https://e.com) [d](#install)'
    assert readme_links(text) == ["docs/x.md", "img.png", "y.md", "z.md", "https://e.com", "#install"]


def test_readme_has_no_relative_links_and_each_repository_link_names_a_file_of_the_checkout():
    links = readme_links((ROOT / "README.md").read_text())
    relative = [link for link in links if not re.match(r"[a-z][a-z+.-]*:|#", link)]
    assert relative == [], f"relative links are dead on PyPI; use {REPO}/blob/main/<path>: {relative}"
    ours = [link for link in links if link.startswith(REPO + "/")]
    assert len(ours) >= 10
    for link in ours:
        match = re.fullmatch(re.escape(REPO) + r"/(blob|tree)/main/([^#?]+)(?:#.*)?", link)
        assert match, f"{link}: not a {REPO}/blob/main/<path> or tree/main/<folder> link"
        kind, path = match.groups()
        target = ROOT / path
        assert target.is_file() if kind == "blob" else target.is_dir(), f"{link}: no {path} in the checkout"
    assert "<your-org>" not in (ROOT / "README.md").read_text()


def test_project_metadata_names_the_repository_the_license_and_the_supported_pythons():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert set(project["urls"]) == {"Homepage", "Documentation", "Source", "Changelog", "Issues"}
    assert all(url.startswith(REPO) for url in project["urls"].values())
    classifiers = set(project["classifiers"])
    assert {
        "Development Status :: 4 - Beta",
        "Framework :: Apache Airflow",
        "Framework :: Apache Airflow :: Provider",
        *(f"Programming Language :: Python :: 3.{minor}" for minor in (10, 11, 12, 13)),
    } <= classifiers
    # PEP 639: the license expression replaces License :: classifiers; build backends and PyPI refuse both.
    assert not [c for c in classifiers if c.startswith("License ::")]
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text  # the full text, not a pointer to it


@pytest.mark.integration
def test_the_sdist_and_wheel_pass_twine_check_strict_and_ship_the_license(tmp_path):
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv, "uv is in the dev dependency group"
    command = [uv, "build", "--quiet", "--out-dir", str(tmp_path), str(ROOT)]
    built = subprocess.run([*command, "--offline"], capture_output=True, text=True, timeout=300, check=False)
    if built.returncode != 0:  # hatchling not in uv's cache yet: fetch it from the package index
        built = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    (sdist,) = tmp_path.glob("*.tar.gz")
    (wheel,) = tmp_path.glob("*.whl")

    twine = [sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)]
    checked = subprocess.run(twine, capture_output=True, text=True, timeout=120, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2, checked.stdout

    license_text = (ROOT / "LICENSE").read_bytes()
    with tarfile.open(sdist) as archive:
        member = archive.extractfile(f"{sdist.name.removesuffix('.tar.gz')}/LICENSE")
        assert member is not None and member.read() == license_text
    with zipfile.ZipFile(wheel) as archive:
        name = wheel.name.split("-py3")[0]
        assert archive.read(f"{name}.dist-info/licenses/LICENSE") == license_text
        metadata = archive.read(f"{name}.dist-info/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata and "License-File: LICENSE" in metadata
    assert f"Project-URL: Source, {REPO}" in metadata
    assert "Classifier: Framework :: Apache Airflow :: Provider" in metadata
