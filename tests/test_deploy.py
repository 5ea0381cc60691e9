"""The deploy files: systemd units that systemd-analyze accepts, a Dockerfile hadolint accepts,
and a wheel that carries the templates (Docker cannot run on this machine: no engine)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DEPLOY = ROOT / "deploy"
PAPERBOY = Path(sys.executable).with_name("paperboy")


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing: .ci/run installs the systemd package")
        pytest.skip("systemd-analyze is not installed here")
    units = sorted((DEPLOY / "systemd").iterdir())
    assert [u.name for u in units] == [
        "paperboy-run.service",
        "paperboy-run.timer",
        "paperboy-web.service",
        "paperboy.service",
    ]
    for unit in units:  # point ExecStart at this checkout's paperboy so the binary exists
        text = unit.read_text().replace("/opt/paperboy/.venv/bin/paperboy", str(PAPERBOY))
        (tmp_path / unit.name).write_text(text)
    result = subprocess.run(
        [analyze, "verify", *(str(tmp_path / u.name) for u in units)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ExecStart" not in result.stderr
    service = (DEPLOY / "systemd" / "paperboy.service").read_text()
    for hardening in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "User=paperboy",
        "Restart=on-failure",
    ):
        assert hardening in service
    timer = (DEPLOY / "systemd" / "paperboy-run.timer").read_text()
    assert "Persistent=true" in timer
    assert "RandomizedDelaySec=" in timer


def test_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(
        [str(hadolint), str(DEPLOY / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile
    assert "USER 10001:10001" in dockerfile


def test_the_wheel_carries_the_templates(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("paperboy-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "paperboy_templates/email/digest.html.j2" in names
    assert "mailer/render.py" in names
    assert "store/migrations/versions/0001_initial.py" in names
