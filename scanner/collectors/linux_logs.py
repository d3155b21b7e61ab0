"""System logging beyond auditd: syslog daemons and their forwarding (with or without TLS), the modes log files
are created with, /var/log, and logrotate's retention."""
from __future__ import annotations

import re

from scanner.collectors.linux_common import (
    ParseError,
    Section,
    config_lines,
    fields,
    key_values,
    lines,
    processes,
    settings,
    systemd_units,
    unit_state,
)
from scanner.collectors.linux_files import dump_files, dumped
from scanner.facts.linux import FileStat, LogChannel, Logrotate, LogrotateRule, Syslog, SyslogDaemon, VarLog
from scanner.model import Location, Target

RSYSLOG_FILES = ("/etc/rsyslog.conf", "/etc/rsyslog.d/*.conf")
SYSLOG_NG_FILES = ("/etc/syslog-ng/syslog-ng.conf", "/etc/syslog-ng/conf.d/*.conf")
JOURNAL_UPLOAD_FILES = ("/etc/systemd/journal-upload.conf", "/etc/systemd/journal-upload.conf.d/*.conf")
AUDISP_FILES = ("/etc/audit/audisp-remote.conf", "/etc/audisp/audisp-remote.conf", "/etc/audit/plugins.d/*.conf",
                "/etc/audisp/plugins.d/*.conf")
SYSLOG_FILES = (*RSYSLOG_FILES, *SYSLOG_NG_FILES, *JOURNAL_UPLOAD_FILES, *AUDISP_FILES)
#: The syslog daemons by executable path (Debian/Ubuntu and RHEL install both under /usr/sbin).
SYSLOG_DAEMONS = {"rsyslog": ("/usr/sbin/rsyslogd", "/sbin/rsyslogd"),
                  "syslog-ng": ("/usr/sbin/syslog-ng", "/sbin/syslog-ng")}
SYSLOG_BINARIES_PROBE = ("for f in " + " ".join(p for ps in SYSLOG_DAEMONS.values() for p in ps)
                         + "; do if [ -x \"$f\" ]; then printf '%s\\n' \"$f\"; fi; done; true")
#: A syslog daemon counts as running when a process runs its executable as root or as a system account (Ubuntu's
#: rsyslogd drops to the ``syslog`` user); a process of an ordinary user (uid >= 1000) does not.
SYSTEM_UID_MAX = 999
#: rsyslog's default mode for the files it creates when no FileCreateMode is set (rsyslog documentation).
RSYSLOG_DEFAULT_MODE = 0o644
#: syslog-ng's default perm() for files it creates.
SYSLOG_NG_DEFAULT_MODE = 0o600
TLS_DRIVERS = ("gtls", "ossl")
#: Authentication modes that verify the server's identity, not only that it has some certificate.
RSYSLOG_AUTH_MODES = ("x509/name", "x509/fingerprint")


def _daemons(section: Section) -> tuple[SyslogDaemon, ...]:
    binaries = section.probe("binaries")
    if not binaries.ok:
        raise ParseError(binaries.reason("look for syslog daemons"))
    installed = set(lines(binaries.text()))
    found, partial = processes(section.probe("processes"))
    out = []
    for name, exes in SYSLOG_DAEMONS.items():
        runs = [p for p in found if p.exe in exes and p.uid.isdigit() and int(p.uid) <= SYSTEM_UID_MAX]
        is_installed = any(e in installed for e in exes) or bool(runs)
        if runs:
            how = f"process {runs[0].pid} runs {runs[0].exe} as uid {runs[0].uid}"
        elif partial and is_installed:
            raise ParseError(f"cannot tell whether {name} runs: some processes could not be inspected")
        else:
            how = f"no process runs {' or '.join(exes)} as root or a system account"
        out.append(SyslogDaemon(name, is_installed, bool(runs), how))
    return tuple(out)


def _uncomment(line: str) -> str:
    """The line up to a ``#`` that is not inside quotes."""
    quote = ""
    for i, c in enumerate(line):
        if quote:
            quote = "" if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c == "#":
            return line[:i]
    return line


def _strip_comments(text: str) -> str:
    """rsyslog text without ``#`` comments and ``/* */`` blocks, line numbers kept (newlines stay)."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return "\n".join(_uncomment(line) for line in lines(text))


def _params(body: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(3) for m in re.finditer(r"([\w.]+)\s*=\s*(\"|')(.*?)\2", body, re.S)}


def _blocks(text: str, keyword: str) -> list[tuple[int, str]]:
    """Every ``keyword( ... )`` with its line number; quotes are honoured when finding the closing parenthesis."""
    out = []
    for m in re.finditer(rf"\b{keyword}\s*\(", text, re.I):
        depth, i, quote = 1, m.end(), ""
        while i < len(text) and depth:
            c = text[i]
            if quote:
                quote = "" if c == quote else quote
            elif c in "\"'":
                quote = c
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            i += 1
        if depth:
            raise ParseError(f"unterminated {keyword}( at line {text.count(chr(10), 0, m.start()) + 1}")
        out.append((text.count("\n", 0, m.start()) + 1, text[m.end():i - 1]))
    return out


def _rsyslog_texts(section: Section) -> dict[str, str]:
    """rsyslog.conf and its rsyslog.d/*.conf, in the order rsyslogd reads them, comments removed."""
    paths = [p for p in ("/etc/rsyslog.conf",) if section.text(p) is not None]
    paths += sorted(p for p in section.present("/etc/rsyslog.d/") if p.endswith(".conf"))
    return {p: _strip_comments(section.text(p) or "") for p in paths}


def _rsyslog_umask(section: Section, texts: dict[str, str]) -> tuple[int, str]:
    """The umask rsyslogd runs under: ``$umask`` or ``global(umask=)`` in its configuration (several: the bits all
    of them mask, as the one applied is not certain), else the UMask= of rsyslog.service (RHEL: 0066), else 0
    (unknown: no bit masked, so the mode reported is never narrower than the one files get)."""
    found = [(_octal(words[1], path, n), f"$umask {words[1]} at {path}:{n}") for path, text in texts.items()
             for n, line in config_lines(text) if len(words := fields(line)) > 1 and words[0].lower() == "$umask"]
    found += [(_octal(given, path, n), f"global(umask={given}) at {path}:{n}") for path, text in texts.items()
              for n, body in _blocks(text, "global") if (given := _params(body).get("umask")) is not None]
    if found:
        mask = 0o7777
        for value, _ in found:
            mask &= value
        return mask, "; ".join(how for _, how in found)
    try:
        umask = systemd_units(section.probe("units")).get("rsyslog.service", {}).get("UMask", "")
        why = f"systemctl show rsyslog.service: UMask={umask or '(none)'}"
    except ParseError as exc:
        umask, why = "", str(exc)
    if re.fullmatch(r"[0-7]{1,4}", umask):
        return int(umask, 8), f"rsyslog.service UMask={umask}, systemctl show"
    return 0, f"umask unknown ({why}); taken as 0000"


def _rsyslog(section: Section) -> tuple[list[LogChannel], int | None, Location | None]:
    channels: list[LogChannel] = []
    mode: int | None = None
    mode_at: Location | None = None
    driver, legacy_tls, legacy_auth = "", False, ""
    texts = _rsyslog_texts(section)
    for text in texts.values():  # global settings first: they apply wherever they are written
        for _, line in config_lines(text):
            words = fields(line)
            if words[0].lower() == "$defaultnetstreamdriver" and len(words) > 1:
                driver = words[1].lower()
        for _, body in _blocks(text, "global"):
            driver = _params(body).get("defaultnetstreamdriver", driver).lower()
    for path, text in texts.items():
        for n, line in config_lines(text):
            words = fields(line)
            key = words[0].lower()
            if key == "$filecreatemode" and len(words) > 1:
                mode, mode_at = _octal(words[1], path, n), Location(path, n)
            elif key == "$actionsendstreamdrivermode" and len(words) > 1:
                legacy_tls = words[1] == "1"
            elif key == "$actionsendstreamdriverauthmode" and len(words) > 1:
                legacy_auth = words[1].lower()
            elif len(words) > 1 and (m := re.match(r"^@(@?)(\([^)]*\))?(\[[^\]]+\]|[^:;\s]+)", words[-1])):
                tcp = bool(m.group(1))
                tls = tcp and legacy_tls and driver in TLS_DRIVERS
                channels.append(LogChannel(
                    "rsyslog", m.group(3), "tcp" if tcp else "udp", tls, tls and legacy_auth in RSYSLOG_AUTH_MODES,
                    f"{path}:{n}: {line}", Location(path, n)))
            elif key.startswith(":omrelp:") or (len(words) > 1 and words[-1].startswith(":omrelp:")):
                channels.append(LogChannel("rsyslog", line.split(":omrelp:", 1)[1], "relp", False, False,
                                           f"{path}:{n}: {line}", Location(path, n)))
        for n, body in _blocks(text, "module"):
            p = _params(body)
            if "filecreatemode" in p and "omfile" in p.get("load", ""):
                mode, mode_at = _octal(p["filecreatemode"], path, n), Location(path, n)
        for n, body in _blocks(text, "action"):
            p = _params(body)
            kind = p.get("type", "").lower()
            summary = " ".join(body.split())[:300]
            if kind == "omfwd":
                protocol = p.get("protocol", "udp").lower()
                drv = p.get("streamdriver", p.get("streamdriver.name", driver)).lower()
                tls = protocol == "tcp" and drv in TLS_DRIVERS and \
                    p.get("streamdrivermode", p.get("streamdriver.mode", "0")) == "1"
                auth = p.get("streamdriverauthmode", p.get("streamdriver.authmode", "")).lower()
                channels.append(LogChannel("rsyslog", p.get("target", ""), protocol, tls,
                                           tls and auth in RSYSLOG_AUTH_MODES, f"{path}:{n}: action({summary})",
                                           Location(path, n)))
            elif kind == "omrelp":
                tls = p.get("tls", "off").lower() == "on"
                auth = p.get("tls.authmode", "").lower()
                channels.append(LogChannel("rsyslog", p.get("target", ""), "relp", tls,
                                           tls and auth in ("name", "fingerprint"), f"{path}:{n}: action({summary})",
                                           Location(path, n)))
    return channels, mode, mode_at


def _octal(value: str, path: str, n: int) -> int:
    if not re.fullmatch(r"0?[0-7]{3,4}", value):
        raise ParseError(f"{path}:{n}: file mode {value[:20]!r} is not an octal mode")
    return int(value, 8)


def _syslog_ng(section: Section) -> tuple[list[LogChannel], int | None, Location | None]:
    paths = [p for p in ("/etc/syslog-ng/syslog-ng.conf",) if section.text(p) is not None]
    paths += sorted(p for p in section.present("/etc/syslog-ng/conf.d/") if p.endswith(".conf"))
    channels: list[LogChannel] = []
    mode: int | None = None
    mode_at: Location | None = None
    for path in paths:
        text = _strip_comments(section.text(path) or "")
        for n, body in _blocks(text, "options"):
            if m := re.search(r"\bperm\s*\(\s*(\d+)\s*\)", body):
                mode, mode_at = _octal(m.group(1), path, n), Location(path, n)
        for m in re.finditer(r"\bdestination\s+[\w-]+\s*\{(.*?)\}\s*;", text, re.S):
            n = text.count("\n", 0, m.start()) + 1
            for driver in ("network", "syslog", "tcp6", "tcp", "udp6", "udp"):
                for _, body in _blocks(m.group(1), driver):
                    dest = re.match(r"\s*\"?([^\"\s)]+)", body)
                    transport = re.search(r"\btransport\s*\(\s*\"?(\w+)", body)
                    # network() and syslog() default to TCP; only transport("tls") encrypts (a tls() block alone
                    # only sets options)
                    proto = (transport.group(1).lower() if transport else
                             "udp" if driver.startswith("udp") else "tcp")
                    tls = proto == "tls"
                    verify = re.search(r"peer[-_]verify\s*\(\s*\"?([\w-]+)", body)
                    auth = tls and (verify is None or verify.group(1).lower() in ("required-trusted", "yes"))
                    channels.append(LogChannel("syslog-ng", dest.group(1) if dest else "", proto, tls, auth,
                                               f"{path}:{n}: {driver}({' '.join(body.split())[:300]})",
                                               Location(path, n)))
    return channels, mode, mode_at


def _journal_upload(section: Section) -> list[LogChannel]:
    if unit_state(section, "systemd-journal-upload.service")[0] != "active":
        return []
    values: dict[str, tuple[str, int]] = {}
    where: dict[str, str] = {}
    paths = [p for p in ("/etc/systemd/journal-upload.conf",) if section.text(p) is not None]
    paths += sorted(p for p in section.present("/etc/systemd/journal-upload.conf.d/") if p.endswith(".conf"))
    for path in paths:
        for key, value in settings(section.text(path) or "", sep="=").items():
            values[key], where[key] = value, path
    url, n = values.get("URL", ("", 0))
    if not url:
        return []
    trusted = values.get("TrustedCertificateFile", ("", 0))[0]
    tls = url.lower().startswith("https://")
    return [LogChannel("journal-upload", url, url.split(":", 1)[0].lower(), tls, tls and trusted.lower() != "all",
                       f"URL={url} TrustedCertificateFile={trusted or '(default)'}",
                       Location(where["URL"], n))]


def _audisp_remote(section: Section) -> list[LogChannel]:
    for conf_path in ("/etc/audit/audisp-remote.conf", "/etc/audisp/audisp-remote.conf"):
        conf = key_values(section.text(conf_path) or "", sep="=", lower=True)
        server = conf.get("remote_server", "")
        if not server:
            continue
        active = [p for p in section.present("/etc/audit/plugins.d/") + section.present("/etc/audisp/plugins.d/")
                  if key_values(section.text(p) or "", sep="=").get("active") == "yes"
                  and "audisp-remote" in key_values(section.text(p) or "", sep="=").get("path", "")]
        if not active:
            continue
        transport = conf.get("transport", "tcp").lower()
        krb = transport == "krb5"
        return [LogChannel("audisp-remote", server, transport, krb, krb,
                           f"{conf_path}: remote_server={server} transport={transport}", Location(conf_path))]
    return []


def parse_syslog(section: Section, target: Target) -> Syslog:
    section.require_readable("/etc/rsyslog", "/etc/syslog-ng", "/etc/systemd/journal-upload", "/etc/audit",
                             "/etc/audisp")
    daemons = _daemons(section)
    running = {d.name for d in daemons if d.running}
    rs_channels, rs_mode, rs_at = _rsyslog(section)
    umask, umask_how = 0, ""
    ng_channels, ng_mode, ng_at = _syslog_ng(section)
    channels = (rs_channels if "rsyslog" in running else []) + (ng_channels if "syslog-ng" in running else [])
    channels += _journal_upload(section) + _audisp_remote(section)
    if "rsyslog" in running:
        mode, at = (rs_mode, rs_at) if rs_mode is not None else (RSYSLOG_DEFAULT_MODE, None)
        umask, umask_how = _rsyslog_umask(section, _rsyslog_texts(section))
    elif "syslog-ng" in running:
        mode, at = (ng_mode, ng_at) if ng_mode is not None else (SYSLOG_NG_DEFAULT_MODE, None)
    else:
        mode, at = None, None
    return Syslog(daemons, mode, at, tuple(channels), umask, umask_how)


# ---------------------------------------------------------------- /var/log

VAR_LOG_MAX_DEPTH = 3
VAR_LOG_MAX_ENTRIES = 5000
VAR_LOG_PROBE = (f"@{{find}} /var/log -xdev -maxdepth {VAR_LOG_MAX_DEPTH} \\( -type f -o -type d \\) "
                 f"-printf '%m|%U|%G|%u|%g|%y|%p\\0' | @{{head}} -z -n {VAR_LOG_MAX_ENTRIES + 1}")
_KINDS = {"f": "regular file", "d": "directory"}


def parse_var_log(section: Section, target: Target) -> VarLog:
    probe = section.probe("find")
    if probe.rc not in (0, 1):
        raise ParseError(probe.reason("find /var/log"))
    entries = []
    for record in probe.out.split(b"\0"):
        text = record.decode("utf-8", "surrogateescape")
        if not text:
            continue
        parts = text.split("|", 6)
        if len(parts) != 7 or parts[5] not in _KINDS or not parts[6].startswith("/var/log"):
            raise ParseError(f"unexpected find output: {text[:80]!r}")
        try:
            entries.append(FileStat(parts[6], int(parts[0], 8), int(parts[1]), int(parts[2]), parts[3], parts[4],
                                    _KINDS[parts[5]]))
        except ValueError:
            raise ParseError(f"unexpected find output: {text[:80]!r}") from None
    if not entries:
        raise ParseError("find printed nothing for /var/log")
    why = ""
    if len(entries) > VAR_LOG_MAX_ENTRIES:
        entries, why = entries[:VAR_LOG_MAX_ENTRIES], f"more than {VAR_LOG_MAX_ENTRIES} entries (cap)"
    elif probe.rc == 1:
        why = "find could not read some directories under /var/log"
    return VarLog(tuple(entries), not why, why)


# ---------------------------------------------------------------- logrotate

LOGROTATE_FILES = ("/etc/logrotate.conf", "/etc/logrotate.d/*")
#: logrotate.conf and its drop-ins in one ``dump_files`` probe (a package installs one drop-in per log).
LOGROTATE_PROBE = dump_files(LOGROTATE_FILES)
PERIODS = ("hourly", "daily", "weekly", "monthly", "yearly")


def _logrotate_file(path: str, text: str, defaults: dict[str, object], rules: list[LogrotateRule]) -> None:
    pending: list[str] = []
    block: dict[str, object] | None = None
    start = 0
    for n, raw in config_lines(text):
        line = raw
        if block is None:
            if "{" in line:
                head, _, rest = line.partition("{")
                pending += [w.strip("\"'") for w in fields(head)]
                if not pending:
                    raise ParseError(f"{path}:{n}: '{{' without a log path")
                block, start = dict(defaults), n
                if rest.strip(" \t"):
                    raise ParseError(f"{path}:{n}: text after '{{'")
                continue
            words = fields(line)
            if words[0].startswith("/") or words[0].startswith('"/'):
                pending += [w.strip("\"'") for w in words]
                continue
            _directive(words, defaults, path, n)
            continue
        if line.startswith("}"):
            for p in pending:
                rules.append(LogrotateRule(p, block.get("rotate"), str(block.get("period", "")),  # type: ignore[arg-type]
                                           block.get("maxage"), Location(path, start)))  # type: ignore[arg-type]
            pending, block = [], None
            continue
        words = fields(line)
        if words[0] in ("postrotate", "prerotate", "firstaction", "lastaction", "preremove"):
            block["_script"] = True
            continue
        if words[0] == "endscript":
            block.pop("_script", None)
            continue
        if block.get("_script"):
            continue
        _directive(words, block, path, n)
    if block is not None:
        raise ParseError(f"{path}: block opened at line {start} is not closed")


def _directive(words: list[str], into: dict[str, object], path: str, n: int) -> None:
    key = words[0].lower()
    try:
        if key == "rotate" and len(words) > 1:
            into["rotate"] = int(words[1])
        elif key == "maxage" and len(words) > 1:
            into["maxage"] = int(words[1])
        elif key in PERIODS:
            into["period"] = key
        elif key == "size" and len(words) > 1:
            into["period"] = "size"
    except ValueError:
        raise ParseError(f"{path}:{n}: {key} needs a number, got {words[1][:20]!r}") from None


def parse_logrotate(section: Section, target: Target) -> Logrotate:
    installed = section.probe("logrotate_binary").ok
    section = dumped(section.probe("files"), "logrotate configuration")
    section.require_readable("/etc/logrotate")
    main = section.text("/etc/logrotate.conf")
    if not installed and main is None:
        return Logrotate(False, ())
    rules: list[LogrotateRule] = []
    defaults: dict[str, object] = {}
    # logrotate.conf sets the defaults and includes /etc/logrotate.d where it says so; the drop-ins see the
    # defaults set before the include line.
    include_at = None
    for n, line in config_lines(main or ""):
        if fields(line)[:2] == ["include", "/etc/logrotate.d"]:
            include_at = n
            break
    main_lines = lines(main or "")
    before = "\n".join(main_lines[:include_at - 1]) if include_at else main or ""
    after = "\n".join("" for _ in main_lines[:include_at]) + "\n" + "\n".join(main_lines[include_at:]) \
        if include_at else ""
    _logrotate_file("/etc/logrotate.conf", before, defaults, rules)
    if include_at:
        for path in sorted(p for p in section.present("/etc/logrotate.d/")):
            name = path.rsplit("/", 1)[-1]
            if name.startswith(".") or name.endswith(("~", ".dpkg-old", ".dpkg-dist", ".rpmsave", ".rpmnew")):
                continue
            _logrotate_file(path, section.text(path) or "", dict(defaults), rules)
        _logrotate_file("/etc/logrotate.conf", after, defaults, rules)
    return Logrotate(True, tuple(rules))
