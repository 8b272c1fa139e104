"""docs/DEPLOY.md is true: every command in its ``bash`` blocks is run here, in order, with
``/srv/lemof`` mapped to a temporary folder and the files it marks (``<!-- file: PATH -->``)
written there first, exactly as shown. A command must exit 0, or what its comment says
(``# exits 2: "…"``, the quoted text on stderr); ``# runs until stopped`` starts the server, which
must answer its health check on the address it was given, and is stopped."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from testkit.browser import free_port
from testkit.paths import REPO
from lemof.audit import AuditLog, verify_log

DOC = REPO / "docs" / "DEPLOY.md"
SITE = "/srv/lemof"
_FENCE = re.compile(r"(?:<!-- file: (?P<file>\S+) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)


def _blocks():
    text = DOC.read_text(encoding="utf-8")
    return [(m["file"], m["lang"], m["body"]) for m in _FENCE.finditer(text)]


def _commands() -> list[str]:
    return [line.strip() for _, lang, body in _blocks() if lang == "bash" for line in body.splitlines() if line.strip() and not line.strip().startswith("#")]


def _expectation(command: str) -> tuple[str, int, str | None]:
    """(the command without its comment, expected exit code or -1 for a server, text expected on stderr)."""
    if "  # " not in command:
        return command, 0, None
    cmd, comment = command.split("  # ", 1)
    if comment.startswith("runs until stopped"):
        return cmd, -1, None
    m = re.match(r'exits (\d+)(?::\s*"(.*?)(?:…)?")?', comment)
    return (cmd, int(m.group(1)), m.group(2)) if m else (cmd, 0, None)


def _serve(cmd: str, env: dict) -> str:
    port = free_port()
    cmd = re.sub(r"--port \d+", f"--port {port}", cmd)
    address = re.search(r"--address (\S+)", cmd).group(1)
    proc = subprocess.Popen(["bash", "-c", f"exec {cmd}"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
            try:
                with urllib.request.urlopen(f"http://{address}:{port}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        return address
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"the server of {cmd!r} did not answer in 90 s")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_every_command_of_the_deployment_guide_runs_as_documented(tmp_path):
    site = tmp_path / "srv-lemof"
    site.mkdir()
    for path, _, body in _blocks():
        if path:
            target = Path(path.replace(SITE, str(site)))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body.replace(SITE, str(site)), encoding="utf-8")
    assert (site / "secrets.toml").exists() and (site / "users.json").exists()
    # What the app would have written before the checks: a few views, among them one by the trainer.
    log = AuditLog(site / "audit" / "audit.jsonl")
    log.append("auth.sign_in", user="ana.costa@hospital.org", role="trainer", mode="oidc")
    log.append("stay.view", user="ana.costa@hospital.org", role="trainer", page="case review", cohort="synthetic", run="synthetic-gru+resnet1d", stay=30000001)
    log.append("stay.view", user="ben.okafor@hospital.org", role="viewer", page="case review", cohort="synthetic", run="synthetic-gru+resnet1d", stay=30000002)
    (site / "cache" / "runs").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("LEMOF_BEHIND_AUTH_PROXY", "LEMOF_PROXY_USER_HEADER", "LEMOF_AUDIT_LOG")}
    env.update(HOME=str(tmp_path / "home"), LEMOF_CACHE_DIR=str(site / "cache"), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    commands = _commands()
    assert len(commands) >= 10, commands
    served = []
    for command in commands:
        cmd, code, says = _expectation(command.replace(SITE, str(site)))
        if code == -1:
            served.append(_serve(cmd, env))
            continue
        proc = subprocess.run(["bash", "-c", cmd], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == code, f"{command}\n{proc.stdout}\n{proc.stderr}"
        if says:
            assert says in proc.stderr, (command, proc.stderr)
        if command.startswith("python -m lemof serve --check") and code == 0:
            out = json.loads(proc.stdout)
            assert out["mode"] in ("oidc", "proxy")
            if out["mode"] == "oidc":
                assert "claim 'roles'" in out["access"] and "users.json" in out["access"]
    assert served == ["127.0.0.1"]
    # What those commands left behind is what the guide says.
    november = list(csv.DictReader(io.StringIO((site / "audit-november.csv").read_text())))
    assert [r["event"] for r in november] == ["auth.sign_in", "stay.view", "stay.view"]
    assert {r["user"] for r in list(csv.DictReader(io.StringIO((site / "audit-ana.csv").read_text())))} == {"ana.costa@hospital.org"}
    rotated = sorted((site / "audit").glob("audit-*.jsonl"))
    assert len(rotated) == 1 and verify_log(rotated[0]).ok and verify_log(site / "audit" / "audit.jsonl", follows=verify_log(rotated[0])).ok
    listing = subprocess.run(["tar", "-tzf", str(site / "lemof-backup.tar.gz")], capture_output=True, text=True, check=True).stdout.split()
    assert {"secrets.toml", "users.json", "audit/audit.jsonl", "audit/audit.jsonl.head", "cache/runs/"} <= set(listing)
