"""Notifications (issue 13): what is told, the webhook payloads (JSON, Slack, Teams), email over STARTTLS, against
a real SMTP server and HTTP(S) receiver started here; a failed notification keeps the scan (exit 7); planted
secrets (SMTP password, webhook token) never reach any output."""
from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from scanner import notify
from scanner.model import Waiver
from scanner.notify import Config, Email, Kind, NotifyError, Style, Webhook
from scanner.seal import verify_run
from tests.engine.notifylab import HTTPReceiver, SMTPServer, make_ca
from tests.factories import make_result, make_run

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Sm7p-PLANTED-secret-9q"
TOKEN = "tok-PLANTED-4b9e1d"
TODAY = date(2026, 12, 1)
HOSTILE = "<b>@channel</b> & <!here>\x1b[31m"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("ca"))


def _run(statuses: dict[str, str], **kw):
    return make_run([make_result(resource=name, status=status, **kw) for name, status in statuses.items()])


@pytest.mark.parametrize("before, after, kind", [
    ("pass", "fail", Kind.NEW_FAILURES),
    (None, "fail", Kind.NEW_FAILURES),  # no previous run: every failure is new
    ("pass", "error", Kind.NEW_ERRORS),
    ("fail", "pass", Kind.FIXED),
    ("fail", "fail", None),  # still failing: nothing new to tell
    ("error", "error", None),
    ("pass", "pass", None),
])
def test_changes_tell_only_what_changed(before, after, kind):
    previous = _run({"r": before}) if before else None
    c = notify.changes(_run({"r": after}), previous, within_days=14, today=TODAY)
    told = {k for k in Kind if c.items[k]}
    assert told == ({kind} if kind else set()) and c.empty is (kind is None)
    assert c.previous_id == (previous.info.id if previous else None)


@pytest.mark.parametrize("expires, within, told", [
    ("2026-12-10", 14, "waiver expires 2026-12-10 (9 days), approved by qa"),
    ("2026-12-16", 14, None),
    ("2026-12-15", 14, "waiver expires 2026-12-15 (14 days), approved by qa"),
    ("not-a-date", 14, "waiver expires not-a-date (-1 days), approved by qa"),  # told, never hidden
])
def test_waivers_expiring_within_n_days_are_told(expires, within, told):
    w = Waiver(check="linux.ssh.root_login", target="host1", reason="r", approved_by="qa", expires=expires)
    c = notify.changes(_run({"r": "waived"}, waiver=w), _run({"r": "waived"}, waiver=w), within_days=within,
                       today=TODAY)
    assert [i.message for i in c.items[Kind.EXPIRING_WAIVERS]] == ([told] if told else [])


def _hostile_changes():
    return notify.changes(make_run([make_result(status="fail", target=HOSTILE, resource=HOSTILE,
                                                message=HOSTILE)]), None, within_days=14, today=TODAY)


def test_payloads_escape_target_text_for_slack_and_teams():
    c = _hostile_changes()
    generic = notify.payload(c, Style.JSON)
    assert generic["format"] == "gxpscan-notify/1" and generic["new_failures"][0]["target"] == HOSTILE
    slack = notify.payload(c, Style.SLACK)["text"]
    assert "<!here>" not in slack and "<b>" not in slack and "&lt;!here&gt;" in slack and "&amp;" in slack
    teams = notify.payload(c, Style.TEAMS)
    assert teams["@type"] == "MessageCard" and "<b>" not in json.dumps(teams)
    assert "&lt;b&gt;@channel&lt;/b&gt;" in teams["sections"][0]["text"]


def test_long_lists_are_cut_and_say_how_many_more():
    run = make_run([make_result(status="fail", resource=f"r{i}") for i in range(notify.MAX_ITEMS + 7)])
    c = notify.changes(run, None, within_days=14, today=TODAY)
    body = notify.payload(c, Style.JSON)
    assert len(body["new_failures"]) == notify.MAX_ITEMS and body["truncated"]["new_failures"] == 7
    assert "... and 7 more" in notify.payload(c, Style.SLACK)["text"]


@pytest.mark.parametrize("channel, message", [
    ({"type": "email", "host": "h", "from": "a@b", "to": "c@d", "username": "u", "password": "x"},
     "the password only comes from password_env"),
    ({"type": "email", "host": "h", "from": "a@b", "to": "c@d", "username": "u", "password_env": "P",
      "starttls": False}, "credentials are never sent without TLS"),
    ({"type": "email", "host": "h", "from": "a@b", "to": "c@d", "username": "u"}, "go together"),
    ({"type": "email", "host": "h", "from": "a@b\r\nBcc: x@y", "to": "c@d"}, "line break"),
    ({"type": "webhook", "url": "file:///etc/passwd"}, "not http or https"),
    ({"type": "webhook", "url": "https://x", "url_env": "U"}, "exactly one of url and url_env"),
    ({"type": "webhook", "url_env": "U", "style": "irc"}, "json, slack or teams"),
    ({"type": "pager"}, "webhook or email"),
])
def test_bad_configurations_are_refused_with_the_path(channel, message):
    with pytest.raises(NotifyError, match=message) as err:
        notify.config_from({"channels": [channel]}, "notify.yaml")
    assert str(err.value).startswith("notify.yaml.channels[0]")


@pytest.mark.lab  # starts a local SMTP server or HTTP(S) receiver
@pytest.mark.parametrize("style", list(Style))
def test_webhook_over_https_with_the_site_ca(ca, style):
    url = f"/hook?token={TOKEN}"
    with HTTPReceiver(ca=ca) as rx:
        hook = Webhook(url_env="HOOK", style=style, ca_file=str(ca.ca_file))
        (d,) = notify.send(Config((hook,)), _hostile_changes(), {"HOOK": rx.url + url})
    assert d.ok and d.channel == f"webhook https://127.0.0.1:{rx.port} ({style.value})"
    (req,) = rx.requests
    assert req.path == url and req.headers["Content-Type"] == "application/json"
    assert json.loads(req.body) == notify.payload(_hostile_changes(), style)


@pytest.mark.lab  # starts a local SMTP server or HTTP(S) receiver
@pytest.mark.parametrize("trusted, status, detail", [
    (False, 200, "CERTIFICATE_VERIFY_FAILED"),  # the system's CAs do not know the test CA
    (True, 500, "HTTP status 500"),
    (True, 302, "HTTP status 302"),  # a redirect is not followed (the body would go elsewhere)
])
def test_a_failing_webhook_says_why_without_its_url(ca, trusted, status, detail):
    with HTTPReceiver(ca=ca, status=status) as rx:
        hook = Webhook(url=f"{rx.url}/h/{TOKEN}?token={TOKEN}", ca_file=str(ca.ca_file) if trusted else "")
        (d,) = notify.send(Config((hook,)), _hostile_changes(), {})
    assert not d.ok and detail in d.detail
    assert TOKEN not in d.detail + d.channel and "/h/" not in d.channel


def _mail(ca, **kw) -> Email:
    return Email(host="127.0.0.1", sender="gxpscan@example.test", to=("sec@example.test",), port=kw.pop("port"),
                 username="scanner", password_env="SMTP_PW", ca_file=str(ca.ca_file), **kw)


@pytest.mark.lab  # starts a local SMTP server or HTTP(S) receiver
def test_email_goes_over_starttls_and_authenticates_inside_tls(ca):
    with SMTPServer(ca, user="scanner", password=PASSWORD) as smtp:
        (d,) = notify.send(Config((_mail(ca, port=smtp.port),)), _hostile_changes(), {"SMTP_PW": PASSWORD})
    assert d.ok, d.detail
    (mail,) = smtp.mails
    assert mail.tls and mail.auth == ("scanner", PASSWORD) and mail.recipients == ["sec@example.test"]
    msg = email.message_from_bytes(mail.data)
    assert msg["Subject"] == f"gxpscan run {_hostile_changes().run_id}: 1 new failures"
    body = msg.get_payload(decode=True).decode()
    assert "\x1b" not in body and "\\x1b" in body  # the terminal escape from the target is shown, not sent
    cleartext = b"".join(smtp.transcript[:smtp.transcript.index(b"STARTTLS\r\n") + 1])
    assert b"AUTH" not in cleartext


@pytest.mark.lab  # starts a local SMTP server or HTTP(S) receiver
@pytest.mark.parametrize("server, detail", [
    (dict(offer_starttls=False), "does not offer STARTTLS; nothing was sent (credentials are never sent without"),
    (dict(reject_auth=True), "SMTP 535"),
])
def test_email_refuses_cleartext_and_reports_a_failed_login_without_the_password(ca, server, detail):
    with SMTPServer(ca, user="scanner", password=PASSWORD, **server) as smtp:
        (d,) = notify.send(Config((_mail(ca, port=smtp.port),)), _hostile_changes(), {"SMTP_PW": PASSWORD})
    assert not d.ok and detail in d.detail and PASSWORD not in d.detail and smtp.mails == []
    if not server.get("reject_auth"):
        assert not any(line.startswith(b"AUTH") for line in smtp.transcript)


# --- end to end: gxpscan scan --notify ------------------------------------------------------------------------------

BUCKET_TF = 'resource "aws_s3_bucket" "data" {\n  bucket = "data"\n}\n'


def _scan(tmp_path: Path, config: dict, env: dict[str, str], out: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "notify.yaml").write_text(json.dumps(config))  # JSON is YAML
    (tmp_path / "b.tf").write_text(BUCKET_TF)
    return subprocess.run([sys.executable, "-m", "scanner", "scan", "--iac", "b.tf", "--notify", "notify.yaml",
                           "-o", out, "--format", "json", "--format", "dashboard"],
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT), **env}, capture_output=True,
                          text=True, timeout=120)


def _no_secret_anywhere(tmp_path: Path, proc: subprocess.CompletedProcess[str]) -> None:
    for secret in (PASSWORD, TOKEN):
        assert secret not in proc.stdout + proc.stderr
        for path in (tmp_path / "results").rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


@pytest.mark.lab  # starts a local SMTP server or HTTP(S) receiver
def test_a_scan_notifies_by_webhook_and_email_and_records_it(tmp_path, ca):
    with HTTPReceiver(ca=ca) as rx, SMTPServer(ca, user="scanner", password=PASSWORD) as smtp:
        config = {"expiring_within_days": 30, "channels": [
            {"type": "webhook", "url_env": "HOOK_URL", "style": "slack", "ca_file": str(ca.ca_file)},
            {"type": "email", "host": "127.0.0.1", "port": smtp.port, "from": "g@example.test",
             "to": ["sec@example.test"], "username": "scanner", "password_env": "SMTP_PW",
             "ca_file": str(ca.ca_file)}]}
        proc = _scan(tmp_path, config, {"HOOK_URL": f"{rx.url}/services/{TOKEN}", "SMTP_PW": PASSWORD},
                     "results/run1")
    assert proc.returncode == 1, proc.stderr  # the scan's own exit code: failures found
    assert len(rx.requests) == 1 and len(smtp.mails) == 1 and smtp.mails[0].tls
    assert "new failures" in json.loads(rx.requests[0].body)["text"]
    run_dir = tmp_path / "results/run1"
    told = json.loads((run_dir / "notifications.json").read_text())
    assert [d["ok"] for d in told["deliveries"]] == [True, True] and told["counts"]["new_failures"] == 12
    assert verify_run(run_dir).intact  # the outcome is sealed with the run (manifest version 2)
    assert (run_dir / "manifest-002.json").is_file()
    _no_secret_anywhere(tmp_path, proc)


@pytest.mark.lab  # starts a local SMTP server or HTTP(S) receiver
def test_a_failed_notification_keeps_the_scan_and_exits_7(tmp_path, ca):
    with HTTPReceiver(ca=ca, status=503) as rx:
        config = {"channels": [{"type": "webhook", "url": f"{rx.url}/h?token={TOKEN}", "ca_file": str(ca.ca_file)},
                               {"type": "email", "host": "127.0.0.1", "port": 9, "from": "g@example.test",
                                "to": "sec@example.test", "username": "scanner", "password_env": "SMTP_PW"}]}
        proc = _scan(tmp_path, config, {"SMTP_PW": PASSWORD}, "results/run1")
    assert proc.returncode == 7, proc.stderr
    assert f"notification failed: webhook https://127.0.0.1:{rx.port} (json): HTTP status 503" in proc.stderr
    assert "notification failed: email smtp://127.0.0.1:9: Connection refused" in proc.stderr
    run_dir = tmp_path / "results/run1"
    told = json.loads((run_dir / "notifications.json").read_text())
    assert [(d["ok"], d["detail"]) for d in told["deliveries"]] == [(False, "HTTP status 503"),
                                                                     (False, "Connection refused")]
    assert verify_run(run_dir).intact and (run_dir / "report.json").is_file() and (run_dir / "dashboard.html").is_file()
    _no_secret_anywhere(tmp_path, proc)


@pytest.mark.lab  # starts a local SMTP server or HTTP(S) receiver
def test_a_second_scan_without_change_tells_nothing(tmp_path):
    with HTTPReceiver() as rx:
        config = {"channels": [{"type": "webhook", "url": f"{rx.url}/h"}]}
        first = _scan(tmp_path, config, {}, "results/run1")
        second = _scan(tmp_path, config, {}, "results/run2")
    assert (first.returncode, second.returncode) == (1, 1) and len(rx.requests) == 1
    assert not (tmp_path / "results/run2/notifications.json").exists()


def test_a_broken_notification_file_stops_before_scanning(tmp_path):
    proc = _scan(tmp_path, {"channels": [{"type": "email", "host": "h", "from": "a@b", "to": "c@d",
                                          "password": PASSWORD}]}, {}, "results/run1")
    assert proc.returncode == 2 and "the password only comes from password_env" in proc.stderr
    assert PASSWORD not in proc.stderr and not (tmp_path / "results").exists()


@pytest.mark.lab  # starts a local HTTP receiver
def test_the_inventory_can_name_the_channels(tmp_path):
    (tmp_path / "b.tf").write_text(BUCKET_TF)
    with HTTPReceiver() as rx:
        (tmp_path / "inv.yaml").write_text(
            "version: 1\ntargets:\n  - {name: code, type: iac, path: b.tf}\n"
            f"notifications:\n  channels:\n    - {{type: webhook, url: '{rx.url}/inv', style: teams}}\n")
        proc = subprocess.run([sys.executable, "-m", "scanner", "scan", "-i", "inv.yaml", "-q", "-o", "results/r1"],
                              cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                              text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    (req,) = rx.requests
    assert req.path == "/inv" and json.loads(req.body)["@type"] == "MessageCard"


def test_a_bad_inventory_notifications_section_stops_before_scanning(tmp_path):
    (tmp_path / "b.tf").write_text(BUCKET_TF)
    (tmp_path / "inv.yaml").write_text("version: 1\ntargets:\n  - {name: code, type: iac, path: b.tf}\n"
                                       "notifications:\n  channels:\n    - {type: webhook, url_env: U, style: irc}\n")
    proc = subprocess.run([sys.executable, "-m", "scanner", "scan", "-i", "inv.yaml", "-o", "results/r1"],
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "inv.yaml: notifications.channels[0].style: json, slack or teams" in proc.stderr
    assert not (tmp_path / "results").exists()
