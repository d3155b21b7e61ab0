"""contrib/ (issue 13): the systemd unit, the cron line and the example notification file are ones gxpscan takes,
and the exit codes the unit treats as success are the documented ones."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

from scanner import cli
from scanner.notify import Email, Style, Webhook, load_config

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"


def _argv(command: str) -> list[str]:
    words = shlex.split(command)
    return words[words.index("/usr/local/bin/gxpscan") + 1:]


def test_the_service_and_cron_commands_parse_and_run_unattended():
    unit = (CONTRIB / "systemd/gxpscan.service").read_text().replace("\\\n", " ")
    cron = (CONTRIB / "cron/gxpscan").read_text()
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
    cron_line = next(ln for ln in cron.splitlines() if ln and not ln.startswith("#"))
    for command in (exec_start, cron_line):
        args = cli.build_parser().parse_args(_argv(command))
        assert args.command == "scan" and args.quiet and args.lock and args.keep_days == 365
        assert args.notify and "dashboard" in args.format


def test_the_unit_succeeds_on_findings_and_a_skipped_run_and_fails_for_an_operator_otherwise():
    unit = (CONTRIB / "systemd/gxpscan.service").read_text()
    ok = {int(x) for x in re.search(r"^SuccessExitStatus=(.*)$", unit, re.M).group(1).split()}
    assert ok == {cli.EXIT_FAILURES, cli.EXIT_ERRORS, cli.EXIT_NOTHING, cli.EXIT_LOCKED}
    assert cli.EXIT_NOTIFY not in ok and cli.EXIT_WRITE not in ok


def test_the_example_notification_file_loads():
    config = load_config(str(CONTRIB / "notify.example.yaml"))
    hook, mail = config.channels
    assert isinstance(hook, Webhook) and hook.style is Style.SLACK and hook.url_env == "GXPSCAN_WEBHOOK_URL"
    assert isinstance(mail, Email) and mail.starttls and mail.password_env == "GXPSCAN_SMTP_PASSWORD"
    assert config.within_days == 14
