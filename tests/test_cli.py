"""The `citygov` console script, run as a user runs it: a real process, a fresh state directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def citygov(*args: str, var_dir: Path, extra_env: dict | None = None, timeout: int = 180, stdin: str | None = None):
    environ = {**os.environ, "CITYGOV_VAR_DIR": str(var_dir), **(extra_env or {})}
    # A fresh state directory, as on a newcomer's machine: SQLite and the SQLite job queue.
    environ.pop("DATABASE_URL", None)
    environ.pop("CITYGOV_REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "citygov.cli", *args], cwd=ROOT, env=environ, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def test_version_needs_no_configuration(tmp_path):
    # A broken settings module proves Django is never loaded for these commands.
    result = citygov("version", var_dir=tmp_path, extra_env={"DJANGO_SETTINGS_MODULE": "does.not.exist"})
    assert result.returncode == 0
    assert result.stdout.strip() == "0.1.0"


def test_secret_key_needs_no_configuration(tmp_path):
    result = citygov("secret-key", var_dir=tmp_path, extra_env={"DJANGO_SETTINGS_MODULE": "does.not.exist"})
    assert result.returncode == 0
    assert len(result.stdout.strip()) >= 50
    assert not (tmp_path / "secret_key").exists()


def test_help_lists_commands(tmp_path):
    result = citygov("--help", var_dir=tmp_path)
    assert result.returncode == 0
    for word in ("serve", "worker", "demo", "agencies", "secret-key"):
        assert word in result.stdout


def test_serve_setup_prints_admin_password_once(tmp_path):
    first = citygov("serve", "--setup-only", var_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "reference districts: 13 new" in first.stdout
    assert "reference agencies: 100 new" in first.stdout
    password_lines = [line for line in first.stdout.splitlines() if "administrator: admin" in line]
    assert len(password_lines) == 1 and "password:" in password_lines[0]
    assert "demo accounts" in first.stdout
    second = citygov("serve", "--setup-only", var_dir=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "reference districts: 0 new, 0 updated, 13 unchanged" in second.stdout
    assert "password:" not in second.stdout
    assert "demo accounts" not in second.stdout
    # The secret key was generated into var/ and never printed.
    key = (tmp_path / "secret_key").read_text().strip()
    assert key not in first.stdout + first.stderr + second.stdout + second.stderr


def test_serve_rejects_a_bad_bind(tmp_path):
    result = citygov("serve", "--bind", "nonsense", var_dir=tmp_path)
    assert result.returncode == 2
    assert "--bind 'nonsense': expected HOST:PORT" in result.stderr


def test_unknown_command_fails(tmp_path):
    result = citygov("no-such-command", var_dir=tmp_path)
    assert result.returncode == 1
    assert "Unknown command: 'no-such-command'" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_prod_answers_over_real_http(tmp_path):
    """`citygov serve --prod` runs gunicorn on the given address; the login page and static files answer."""
    port = _free_port()
    environ = {**os.environ, "CITYGOV_VAR_DIR": str(tmp_path)}
    environ.pop("DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "citygov.cli", "serve", "--prod", "--workers", "1",
                                "--bind", f"127.0.0.1:{port}"], cwd=ROOT, env=environ,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:  # noqa: S310
                    status = response.status
                    break
            except OSError:
                if process.poll() is not None:
                    break
                time.sleep(0.5)
        assert status == 200, process.stdout.read() if process.poll() is not None else "server did not answer"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as response:  # noqa: S310
            assert response.status == 200
            assert response.headers["X-Frame-Options"] == "DENY"
        with urllib.request.urlopen(  # noqa: S310
            f"http://127.0.0.1:{port}/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js", timeout=5
        ) as response:
            assert response.status == 200
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.parametrize(("address", "expected"), [("桃園縣中壢市中正路100號", "中壢區")])
def test_agencies_locate_from_the_command_line(tmp_path, address, expected):
    result = citygov("agencies", "locate", address, var_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_worker_runs_a_queued_job(tmp_path):
    """`citygov worker` (the Huey consumer) picks up a job that another process queued in var/."""
    assert citygov("migrate", "-v0", var_dir=tmp_path).returncode == 0
    environ = {**os.environ, "CITYGOV_VAR_DIR": str(tmp_path)}
    environ.pop("DATABASE_URL", None)
    environ.pop("CITYGOV_REDIS_URL", None)
    log = tmp_path / "worker.log"
    with open(log, "w") as handle:
        worker = subprocess.Popen([sys.executable, "-m", "citygov.cli", "worker", "--workers", "1"], cwd=ROOT,
                                  env=environ, stdout=handle, stderr=subprocess.STDOUT)
    try:
        script = ("from citygov.core.jobs import prune_expired_sessions\n"
                  "result = prune_expired_sessions()\n"
                  "print(result.id)\n")
        queued = citygov("shell", "-c", script, var_dir=tmp_path)
        assert queued.returncode == 0, queued.stderr
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "core.prune_expired_sessions" not in _executed(log):
            time.sleep(0.5)
        assert "core.prune_expired_sessions" in _executed(log), log.read_text()
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def _executed(log: Path) -> str:
    return "\n".join(line for line in log.read_text().splitlines() if "Executing" in line or "executed" in line)
