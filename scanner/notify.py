"""Notifications after a scan, on change: new failures, new errors, fixed, waivers expiring within N days.

Configured by a YAML file (``--notify FILE``)::

    expiring_within_days: 14          # default 14
    channels:
      - type: webhook
        url_env: GXPSCAN_WEBHOOK_URL  # or url: https://... (the URL is a secret: never printed or recorded)
        style: json                   # json (default), slack or teams
        ca_file: /etc/ssl/site-ca.pem # optional: trust this CA instead of the system's
      - type: email
        host: smtp.example.com
        port: 587
        from: gxpscan@example.com
        to: [security@example.com]
        username: gxpscan             # optional; the password only ever comes from password_env
        password_env: GXPSCAN_SMTP_PASSWORD
        ca_file: /etc/ssl/site-ca.pem

Email always goes over STARTTLS with a validated certificate; ``starttls: false`` is accepted only without
credentials (credentials are never sent in clear). Secrets (the SMTP password, a webhook URL and its token) never
appear in a message, an exception, a log line or the run directory: channels are described by scheme and host.
"""
from __future__ import annotations

import base64
import enum
import json
import os
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from html import escape as html_escape
from typing import Any

from scanner.model import Result, Run, Status

FORMAT = "gxpscan-notify/1"
#: Findings listed per kind in a message (the counts are always complete).
MAX_ITEMS = 50
#: Longest text of one finding field in a message.
MAX_FIELD = 300
#: Largest notification configuration file.
MAX_CONFIG_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = 20.0


class NotifyError(Exception):
    """A configuration that cannot be used, or a channel that failed. The message never holds a secret."""


class Style(str, enum.Enum):
    JSON = "json"
    SLACK = "slack"
    TEAMS = "teams"


class Kind(str, enum.Enum):
    NEW_FAILURES = "new_failures"
    NEW_ERRORS = "new_errors"
    FIXED = "fixed"
    EXPIRING_WAIVERS = "expiring_waivers"


TITLES = {Kind.NEW_FAILURES: "New failures", Kind.NEW_ERRORS: "New errors", Kind.FIXED: "Fixed",
          Kind.EXPIRING_WAIVERS: "Waivers expiring"}


# --- what changed ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Item:
    target: str
    check: str
    resource: str
    severity: str
    message: str  # the finding's message, or for a waiver: its expiry and approver


@dataclass(frozen=True)
class Changes:
    run_id: str
    previous_id: str | None  # None: no previous run to compare with (every failure and error is new)
    counts: Mapping[str, int]
    items: Mapping[Kind, tuple[Item, ...]]
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(self.items.values())


def _item(r: Result, message: str | None = None) -> Item:
    return Item(r.target, r.check, r.resource, r.severity.value, r.message if message is None else message)


def _key(r: Result) -> tuple[str, str, str]:
    return (r.target, r.check, r.resource)


def changes(run: Run, previous: Run | None, *, within_days: int, today: date,
            notes: Sequence[str] = ()) -> Changes:
    """What to tell: results failing (erroring) now that did not before, results failing before and passing now,
    and waivers of this run expiring within ``within_days`` of ``today`` (expired ones are failures already)."""
    before = {_key(r): r.status for r in previous.results} if previous else {}
    new_fail = [_item(r) for r in run.results if r.status is Status.FAIL and before.get(_key(r)) is not Status.FAIL]
    new_err = [_item(r) for r in run.results if r.status is Status.ERROR and before.get(_key(r)) is not Status.ERROR]
    fixed = [_item(r) for r in run.results if r.status is Status.PASS and before.get(_key(r)) is Status.FAIL]
    expiring: dict[tuple[str, str, str, str], Item] = {}
    for r in run.results:
        w = r.waiver
        if w is None:
            continue
        try:
            left = (date.fromisoformat(w.expires[:10]) - today).days
        except ValueError:
            left = -1  # an expiry that does not parse is told, not hidden
        if left <= within_days:
            expiring[(r.target, r.check, r.resource, w.expires)] = _item(
                r, f"waiver expires {w.expires} ({left} days), approved by {w.approved_by}")
    return Changes(run.info.id, previous.info.id if previous else None, run.counts(),
                   {Kind.NEW_FAILURES: tuple(new_fail), Kind.NEW_ERRORS: tuple(new_err), Kind.FIXED: tuple(fixed),
                    Kind.EXPIRING_WAIVERS: tuple(expiring.values())}, tuple(notes))


# --- configuration ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Webhook:
    url_env: str = ""
    url: str = field(default="", repr=False)
    style: Style = Style.JSON
    ca_file: str = ""
    timeout: float = DEFAULT_TIMEOUT

    def resolve_url(self, environ: Mapping[str, str]) -> str:
        url = environ.get(self.url_env, "") if self.url_env else self.url
        if not url:
            raise NotifyError(f"webhook: environment variable {self.url_env} is not set or empty")
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise NotifyError("webhook: the URL is not http or https")
        return url


@dataclass(frozen=True)
class Email:
    host: str
    sender: str
    to: tuple[str, ...]
    port: int = 587
    username: str = ""
    password_env: str = ""
    starttls: bool = True
    ca_file: str = ""
    timeout: float = DEFAULT_TIMEOUT


Channel = Webhook | Email


@dataclass(frozen=True)
class Config:
    channels: tuple[Channel, ...]
    within_days: int = 14


def _text(d: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = d.get(key, default)
    if not isinstance(value, str) or (default is None and not value):
        raise NotifyError(f"{where}.{key}: a non-empty string is required")
    return value


def _channel(d: Any, where: str) -> Channel:
    if not isinstance(d, Mapping):
        raise NotifyError(f"{where}: a mapping is required")
    kind = d.get("type")
    known = {"webhook": {"type", "url", "url_env", "style", "ca_file", "timeout"},
             "email": {"type", "host", "port", "from", "to", "username", "password_env", "starttls", "ca_file",
                       "timeout"}}
    if kind not in known:
        raise NotifyError(f"{where}.type: webhook or email")
    unknown = sorted(set(map(str, d)) - known[kind])
    if unknown:
        raise NotifyError(f"{where}: unknown key(s) {', '.join(unknown)}" +
                          ("; the password only comes from password_env" if "password" in unknown else ""))
    timeout = d.get("timeout", DEFAULT_TIMEOUT)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0 < timeout <= 300:
        raise NotifyError(f"{where}.timeout: seconds between 0 and 300")
    if kind == "webhook":
        if ("url" in d) == ("url_env" in d):
            raise NotifyError(f"{where}: give exactly one of url and url_env")
        try:
            style = Style(d.get("style", "json"))
        except ValueError:
            raise NotifyError(f"{where}.style: json, slack or teams") from None
        hook = Webhook(url_env=_text(d, "url_env", where, ""), url=_text(d, "url", where, ""), style=style,
                       ca_file=_text(d, "ca_file", where, ""), timeout=float(timeout))
        if hook.url:
            try:
                hook.resolve_url({})
            except NotifyError as exc:
                raise NotifyError(f"{where}.url: {str(exc).removeprefix('webhook: ')}") from None
        return hook
    to = d.get("to")
    to = [to] if isinstance(to, str) else to
    if not isinstance(to, (list, tuple)) or not to or not all(isinstance(x, str) and x for x in to):
        raise NotifyError(f"{where}.to: one or more addresses")
    port = d.get("port", 587)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise NotifyError(f"{where}.port: a TCP port")
    starttls = d.get("starttls", True)
    if not isinstance(starttls, bool):
        raise NotifyError(f"{where}.starttls: true or false")
    mail = Email(host=_text(d, "host", where), sender=_text(d, "from", where), to=tuple(to), port=port,
                 username=_text(d, "username", where, ""), password_env=_text(d, "password_env", where, ""),
                 starttls=starttls, ca_file=_text(d, "ca_file", where, ""), timeout=float(timeout))
    if bool(mail.username) != bool(mail.password_env):
        raise NotifyError(f"{where}: username and password_env go together")
    if mail.username and not mail.starttls:
        raise NotifyError(f"{where}: credentials are never sent without TLS: starttls: false needs no username")
    if any(ch in x for x in (mail.sender, *mail.to) for ch in "\r\n"):
        raise NotifyError(f"{where}: an address holds a line break")
    return mail


def config_from(data: Any, where: str) -> Config:
    if not isinstance(data, Mapping):
        raise NotifyError(f"{where}: a mapping with 'channels' is required")
    unknown = sorted(set(map(str, data)) - {"channels", "expiring_within_days"})
    if unknown:
        raise NotifyError(f"{where}: unknown key(s) {', '.join(unknown)}")
    days = data.get("expiring_within_days", 14)
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 3650:
        raise NotifyError(f"{where}.expiring_within_days: days between 0 and 3650")
    raw = data.get("channels")
    if not isinstance(raw, (list, tuple)) or not raw:
        raise NotifyError(f"{where}.channels: one or more channels")
    return Config(tuple(_channel(c, f"{where}.channels[{i}]") for i, c in enumerate(raw)), days)


def load_config(path: str) -> Config:
    from scanner.yamlload import YamlError, load_yaml

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise NotifyError(f"cannot read notification file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise NotifyError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        doc = load_yaml(data.decode("utf-8"))
    except (YamlError, UnicodeDecodeError) as exc:
        raise NotifyError(f"{path}: not valid YAML: {exc}") from None
    return config_from(doc, path)


# --- messages --------------------------------------------------------------------------------------------------

def _clip(text: str) -> str:
    return text if len(text) <= MAX_FIELD else text[:MAX_FIELD] + "..."


def _item_json(i: Item) -> dict[str, str]:
    return {"target": _clip(i.target), "check": _clip(i.check), "resource": _clip(i.resource),
            "severity": i.severity, "message": _clip(i.message)}


def summary(c: Changes) -> str:
    parts = [f"{len(c.items[k])} {TITLES[k].lower()}" for k in Kind if c.items[k]]
    return f"gxpscan run {c.run_id}: " + (", ".join(parts) if parts else "no change")


def _lines(c: Changes, line: Callable[[Item], str]) -> list[tuple[str, list[str]]]:
    out = []
    for kind in Kind:
        items = c.items[kind]
        if items:
            shown = [line(i) for i in items[:MAX_ITEMS]]
            if len(items) > MAX_ITEMS:
                shown.append(f"... and {len(items) - MAX_ITEMS} more")
            out.append((f"{TITLES[kind]} ({len(items)})", shown))
    return out


def _plain(i: Item) -> str:
    """One finding as a line of text; control and format characters from the target shown escaped."""
    from reports.text import for_terminal

    return for_terminal(f"[{i.severity}] {_clip(i.target)} {_clip(i.check)} {_clip(i.resource)}: {_clip(i.message)}")


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(c: Changes, style: Style) -> dict[str, Any]:
    """The JSON body of a webhook. Slack's ``text`` is escaped for its mrkdwn (``& < >``, so no link or mention
    can be injected); Teams' MessageCard text for HTML."""
    if style is Style.JSON:
        return {"format": FORMAT, "run": c.run_id, "previous_run": c.previous_id, "summary": summary(c),
                "counts": dict(c.counts), "notes": list(c.notes),
                **{k.value: [_item_json(i) for i in c.items[k][:MAX_ITEMS]] for k in Kind},
                "truncated": {k.value: max(0, len(c.items[k]) - MAX_ITEMS) for k in Kind}}
    if style is Style.SLACK:
        body = [f"*{_slack_escape(t)}*\n" + "\n".join("• " + _slack_escape(x) for x in xs)
                for t, xs in _lines(c, _plain)]
        return {"text": "\n\n".join([_slack_escape(summary(c)), *body, *map(_slack_escape, c.notes)])}
    sections = [{"activityTitle": html_escape(t), "text": "<br>".join(html_escape(x) for x in xs)}
                for t, xs in _lines(c, _plain)]
    return {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": html_escape(summary(c)),
            "title": html_escape(summary(c)), "text": "<br>".join(map(html_escape, c.notes)) or " ",
            "sections": sections}


def email_message(c: Changes, mail: Email) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = summary(c).replace("\r", " ").replace("\n", " ")[:200]
    msg["From"] = mail.sender
    msg["To"] = ", ".join(mail.to)
    body = [summary(c), ""]
    for title, lines in _lines(c, _plain):
        body += [title, *("  " + x.replace("\r", " ").replace("\n", " ") for x in lines), ""]
    body += list(c.notes)
    msg.set_content("\n".join(body) + "\n")
    return msg


# --- sending ---------------------------------------------------------------------------------------------------

def _tls(ca_file: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise NotifyError(f"cannot read CA file {ca_file}: {getattr(exc, 'strerror', None) or exc}") from None


def describe(channel: Channel, environ: Mapping[str, str] | None = None) -> str:
    """A channel as it may be printed: type, scheme and host, never a path, query, user or password."""
    if isinstance(channel, Email):
        return f"email smtp://{channel.host}:{channel.port}"
    try:
        parts = urllib.parse.urlsplit(channel.resolve_url(os.environ if environ is None else environ))
        where = f"{parts.scheme}://{parts.hostname or '?'}" + (f":{parts.port}" if parts.port else "")
    except (NotifyError, ValueError):
        where = f"${channel.url_env}" if channel.url_env else "(url)"
    return f"webhook {where} ({channel.style.value})"


def _redact(text: str, secrets: Iterable[str]) -> str:
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    return text


def _why(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP status {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP {exc.smtp_code}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: the notification is not sent elsewhere (and fails)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def send_webhook(hook: Webhook, c: Changes, environ: Mapping[str, str]) -> None:
    url = hook.resolve_url(environ)
    data = json.dumps(payload(c, hook.style), ensure_ascii=True).encode("ascii")
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "gxpscan-notify"})
    secrets = [url, urllib.parse.urlsplit(url).query, urllib.parse.urlsplit(url).path]
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=_tls(hook.ca_file)), _NoRedirect)
    opener.addheaders = []
    try:
        with opener.open(request, timeout=hook.timeout) as response:
            response.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise NotifyError(_redact(_why(exc), secrets)) from None
    except (OSError, ValueError) as exc:  # URLError, timeouts, TLS errors
        raise NotifyError(_redact(_why(exc), secrets)) from None


def send_email(mail: Email, c: Changes, environ: Mapping[str, str]) -> None:
    password = ""
    if mail.password_env:
        password = environ.get(mail.password_env, "")
        if not password:
            raise NotifyError(f"environment variable {mail.password_env} is not set or empty")
    plain = base64.b64encode(f"\0{mail.username}\0{password}".encode()).decode() if password else ""
    secrets = [password, plain, base64.b64encode(password.encode()).decode() if password else ""]
    try:
        with smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout) as smtp:
            smtp.ehlo()
            if mail.starttls:
                if not smtp.has_extn("starttls"):
                    raise NotifyError("the server does not offer STARTTLS; nothing was sent"
                                      + (" (credentials are never sent without TLS)" if password else ""))
                smtp.starttls(context=_tls(mail.ca_file))
                smtp.ehlo()
            if password:
                smtp.login(mail.username, password)
            smtp.send_message(email_message(c, mail))
    except NotifyError:
        raise
    except (smtplib.SMTPException, OSError) as exc:  # timeouts are OSErrors
        raise NotifyError(_redact(_why(exc), secrets)) from None


@dataclass(frozen=True)
class Delivery:
    channel: str  # as described by :func:`describe`
    ok: bool
    detail: str  # "sent", or why it failed (no secret)


def send(config: Config, c: Changes, environ: Mapping[str, str] | None = None) -> tuple[Delivery, ...]:
    """Send to every channel; a failing channel does not stop the others."""
    env = os.environ if environ is None else environ
    out = []
    for channel in config.channels:
        try:
            if isinstance(channel, Webhook):
                send_webhook(channel, c, env)
            else:
                send_email(channel, c, env)
            out.append(Delivery(describe(channel, env), True, "sent"))
        except NotifyError as exc:
            out.append(Delivery(describe(channel, env), False, str(exc)))
    return tuple(out)


def record(c: Changes, deliveries: Sequence[Delivery]) -> dict[str, Any]:
    """What goes into the run directory (``notifications.json``): what was told, and to which channel how."""
    return {"format": FORMAT, "run": c.run_id, "previous_run": c.previous_id, "summary": summary(c),
            "counts": {k.value: len(c.items[k]) for k in Kind}, "notes": list(c.notes),
            "deliveries": [{"channel": d.channel, "ok": d.ok, "detail": d.detail} for d in deliveries]}
