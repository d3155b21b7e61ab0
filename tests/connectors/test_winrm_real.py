"""Opt-in: the WinRM connector and the Windows pack against a real Windows host (none exists in this project's lab).

Enabled by environment variables (README, "Windows over WinRM"):
  GXPSCAN_WINRM_HOST           the host (required; without it every test here skips)
  GXPSCAN_WINRM_USER           DOMAIN\\user, user@domain or a local user
  GXPSCAN_WINRM_PASSWORD_ENV   the NAME of the variable that holds the password
  GXPSCAN_WINRM_CA_FILE or GXPSCAN_WINRM_FINGERPRINT   how to trust the listener (else the system store)
  GXPSCAN_WINRM_PORT, GXPSCAN_WINRM_SCHEME (http needs GXPSCAN_WINRM_ALLOW_PLAINTEXT=1), GXPSCAN_WINRM_AUTH
"""
from __future__ import annotations

import os
import re
from typing import Any

import pytest

from scanner.connectors.winrm import WinRMConnector
from scanner.model import Platform, Target, freeze

HOST = os.environ.get("GXPSCAN_WINRM_HOST")
pytestmark = pytest.mark.skipif(not HOST, reason="no real Windows host: set GXPSCAN_WINRM_HOST (see README)")


def real_options() -> dict[str, Any]:
    env = os.environ
    options: dict[str, Any] = {"host": HOST, "user": env.get("GXPSCAN_WINRM_USER"),
                               "password_env": env.get("GXPSCAN_WINRM_PASSWORD_ENV"),
                               "ca_file": env.get("GXPSCAN_WINRM_CA_FILE"),
                               "cert_fingerprint": env.get("GXPSCAN_WINRM_FINGERPRINT"),
                               "port": int(env["GXPSCAN_WINRM_PORT"]) if env.get("GXPSCAN_WINRM_PORT") else None,
                               "scheme": env.get("GXPSCAN_WINRM_SCHEME"), "auth": env.get("GXPSCAN_WINRM_AUTH"),
                               "allow_plaintext": env.get("GXPSCAN_WINRM_ALLOW_PLAINTEXT") == "1" or None}
    return {k: v for k, v in options.items() if v is not None}


def real_target() -> Target:
    return Target(name="real-windows", type=Platform.WINDOWS, options=freeze(real_options()), policy=freeze({}))


def test_a_long_multi_line_non_ascii_script_runs_whole_in_one_command() -> None:
    text = "Größe サイズ " * 2000  # far beyond the 8191-character command line
    script = f"$t = '{text}'\nif ($t.Length -gt 0) {{\n  Write-Output $t.Length\n}}\nWrite-Output 'end'\n"
    with WinRMConnector(real_target()) as conn:
        result = conn.run(script, timeout=120)
        assert conn.commands_run == 1
    assert result.exit_code == 0, result.stderr[:2000]
    assert re.split(rb"\r?\n", result.stdout.strip()) == [str(len(text)).encode(), b"end"]


def test_the_windows_pack_collects_every_fact_from_the_real_host() -> None:
    from scanner.collectors import windows

    with WinRMConnector(real_target()) as conn:
        facts = windows.collect(conn, real_target(), windows.FACTS)
    broken = {n: f.error for n, f in facts.items() if f.error and "needs local Administrators" not in f.error}
    assert broken == {}
