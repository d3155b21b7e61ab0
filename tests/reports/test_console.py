"""The console report: fits the terminal, honours NO_COLOR and TERM=dumb, quiet, warnings, locations, fixes."""
from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest

from reports.text import display_width
from scanner.model import Location, Run
from tests.factories import make_result, make_run
from tests.reports.hostile import rendered

SGR = re.compile(r"\x1b\[[0-9;]*m")
LONG_RESOURCE = "/etc/security/pwquality.conf.d/99-site-specific-overrides-for-the-validated-system-" + "x" * 90
LONG_MESSAGE = ("minlen is 8, the policy requires at least 14 characters; dcredit, ucredit, lcredit and ocredit "
                "are not set, so a password of one character class is accepted " * 3)
LONG_TARGET = "db-primary.validated-systems.eu-west-1.compute.internal.example-pharma-corp.com"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def busy_run(warnings: tuple[str, ...] = ("ldap1: plain ldap:// without TLS: bind credentials and results travel "
                                          "in clear text over the network, use ldaps:// or StartTLS",)) -> Run:
    results = [
        make_result(),
        make_result(status="fail", target=LONG_TARGET, resource=LONG_RESOURCE, message=LONG_MESSAGE,
                    check="linux.password.complexity_requirements_for_interactive_accounts",
                    location=Location("/etc/security/pwquality.conf", 12, 14),
                    remediation="Set minlen = 14 and minclass = 3 in /etc/security/pwquality.conf, then check "
                                "that pam_pwquality.so is in the password stack of /etc/pam.d/common-password."),
        make_result(status="error", target="日本語のホスト名-サーバー-" * 4, resource="資源" * 30,
                    message="取得できませんでした " * 12, check="linux.audit.rules"),
        make_result(status="waived", target="host3", resource="r" * 200, message="m" * 300,
                    clauses=("part11:" + "11.10(d)" * 20,)),
    ]
    run = make_run(results)
    info = replace(run.info, warnings=warnings, inventory="/srv/compliance/inventories/" + "site-" * 30 + ".yaml")
    return Run(info, run.results, run.evidence)


@pytest.mark.parametrize("verbose", [False, True], ids=["default", "verbose"])
@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
@pytest.mark.parametrize("width", [80, 120])
def test_no_line_is_wider_than_the_terminal(width: int, colour: bool, verbose: bool) -> None:
    text = rendered("console", busy_run(), width=width, colour=colour, verbose=verbose)
    lines = [SGR.sub("", line) for line in text.splitlines()]
    too_wide = [(display_width(line), line) for line in lines if display_width(line) > width]
    assert too_wide == []
    # wrapped, not cut away: every word of the long message is there, and the end of the long resource
    words = set(" ".join(lines).split())
    assert {w for w in LONG_MESSAGE.split() if len(w) <= 10} <= words
    assert any(line.rstrip().endswith("x" * 5) or "xxxxx  " in line for line in lines)


def test_a_terminal_width_comes_from_columns_when_the_terminal_cannot_say(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    out = FakeTerminal()
    from reports import render

    render("console", busy_run(), out)
    assert max(display_width(SGR.sub("", line)) for line in out.getvalue().splitlines()) == 100


def test_a_report_file_is_laid_out_for_120_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    text = rendered("console", busy_run())
    assert max(display_width(line) for line in text.splitlines()) == 120


@pytest.mark.parametrize(("env", "coloured"), [
    ({"NO_COLOR": "1", "TERM": "xterm-256color"}, False),
    ({"NO_COLOR": "anything", "TERM": "xterm"}, False),
    ({"NO_COLOR": "", "TERM": "xterm"}, True),  # set but empty: no effect
    ({"TERM": "dumb"}, False),
    ({"TERM": "xterm"}, True),
])
def test_colour_on_a_terminal_honours_no_color_and_dumb_terminals(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], coloured: bool) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = FakeTerminal()
    from reports import render

    render("console", busy_run(), out, width=120)
    assert ("\x1b[31mfail\x1b[0m" in out.getvalue()) is coloured
    assert ("\x1b[" in out.getvalue()) is coloured


def test_quiet_prints_only_the_summary_line() -> None:
    text = rendered("console", busy_run(), quiet=True, colour=True, width=80)
    assert text == "summary: fail 1, error 1, waived 1, pass 1; 1 warning\n"
    run = make_run([], interrupted=True)
    assert rendered("console", run, quiet=True) == "summary: no findings; INTERRUPTED\n"


def test_the_full_report_ends_with_the_summary_line() -> None:
    assert rendered("console", busy_run(), width=120).splitlines()[-1] == (
        "summary: fail 1, error 1, waived 1, pass 1; 1 warning")


def test_run_warnings_are_shown_before_the_tables() -> None:
    run = busy_run(warnings=("ldap1: plain ldap:// without TLS", "waiver for linux.ssh.root_login on host3 "
                                                                 "expired 2026-11-30, approved by qa.lead"))
    lines = rendered("console", run, width=120).splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("warning: "))
    assert lines[first - 1].startswith("  site-site-")  # the long inventory path wrapped above
    lines = lines[first - 3:]
    assert lines[3:5] == ["warning: ldap1: plain ldap:// without TLS",
                          "warning: waiver for linux.ssh.root_login on host3 expired 2026-11-30, approved by qa.lead"]
    assert lines[5] == ""


def test_verbose_shows_locations_and_each_remediation_once() -> None:
    run = make_run([
        make_result(status="fail", resource="PASS_MAX_DAYS", location=Location("/etc/login.defs", 25),
                    remediation="Set PASS_MAX_DAYS 90 in /etc/login.defs."),
        make_result(status="fail", resource="PASS_MIN_DAYS", location=Location("/etc/login.defs", 26, 27),
                    remediation="Set PASS_MAX_DAYS 90 in /etc/login.defs."),
        make_result(check="linux.audit.rules", remediation="Load the audit rules.", location=Location("/etc/x")),
    ])
    text = rendered("console", run, verbose=True, width=120)
    assert "at /etc/login.defs:25" in text and "at /etc/login.defs:26-27" in text and "at /etc/x" in text
    tail = text.split("\nremediation\n", 1)[1].splitlines()
    assert tail[:3] == ["  linux.ssh.root_login", "    Set PASS_MAX_DAYS 90 in /etc/login.defs.", ""]
    assert "Load the audit rules." not in text  # a check that passed needs no fix
    plain = rendered("console", run, width=120)
    assert "remediation" not in plain and "at /etc/login.defs" not in plain
