"""Local accounts: /etc/passwd, /etc/group and /etc/shadow (hashes redacted on the host); home directories and
their dot files; the umask and PATH of the shell start-up files; /etc/securetty; the host's clock."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from scanner.collectors.linux_common import ParseError, Section, config_lines, fields, lines, to_int
from scanner.collectors.linux_files import dump_files, dumped, stat_lines, with_files
from scanner.facts.linux import (
    DotFile,
    FileStat,
    GroupEntry,
    Groups,
    HomeDir,
    Homes,
    HostClock,
    LoginEnv,
    Passwd,
    PasswdEntry,
    PathSetting,
    Shadow,
    ShadowEntry,
    UmaskSetting,
)
from scanner.model import Target, freeze

#: crypt(3) prefix -> scheme name. No prefix (13 characters) is traditional DES.
HASH_SCHEMES = {"1": "md5", "2a": "bcrypt", "2b": "bcrypt", "2y": "bcrypt", "5": "sha256", "6": "sha512",
                "7": "scrypt", "y": "yescrypt", "gy": "gost-yescrypt", "sha1": "sha1crypt", "md5": "sunmd5"}

#: Prints /etc/shadow with every hash replaced by its crypt prefix and the word HASH: no hash leaves the host.
SHADOW_REDACTED = (
    "@{awk} -F: 'BEGIN { OFS = \":\" } { h = $2; l = \"\"; "
    "while (substr(h, 1, 1) == \"!\") { l = l \"!\"; h = substr(h, 2) } "
    "if (h == \"\") r = \"\"; else if (substr(h, 1, 1) == \"*\") r = \"*\"; "
    "else if (match(h, /^[$][^$]*[$]/)) r = substr(h, 1, RLENGTH) \"HASH\"; else r = \"HASH\"; "
    "$2 = l r; print }' /etc/shadow"
)


def colon_rows(text: str, fields: int, what: str) -> list[list[str]]:
    rows = []
    for n, line in enumerate(lines(text), 1):
        if not line.strip() or line.startswith("#") or line[:1] in "+-":
            continue  # NIS compat lines are not local accounts
        parts = line.split(":")
        if len(parts) != fields:
            raise ParseError(f"{what} line {n}: expected {fields} colon-separated fields, got {len(parts)}")
        rows.append(parts)
    return rows


def parse_passwd(section: Section, target: Target) -> Passwd:
    rows = colon_rows(section.file("/etc/passwd"), 7, "/etc/passwd")
    try:
        return Passwd(tuple(PasswdEntry(r[0], r[1], int(r[2]), int(r[3]), r[5], r[6]) for r in rows))
    except ValueError as exc:
        raise ParseError(f"/etc/passwd: bad uid or gid ({exc})") from None


def parse_group(section: Section, target: Target) -> Groups:
    rows = colon_rows(section.file("/etc/group"), 4, "/etc/group")
    try:
        return Groups(tuple(GroupEntry(r[0], int(r[2]), tuple(m for m in r[3].split(",") if m)) for r in rows))
    except ValueError as exc:
        raise ParseError(f"/etc/group: bad gid ({exc})") from None


def hash_state(field_: str) -> tuple[str, str | None]:
    """The collector redacts hashes on the target: '$6$HASH', '!$y$HASH', 'HASH', '*', '!', ''."""
    locked = field_.startswith("!")
    body = field_.lstrip("!")
    if body == "":
        return ("disabled" if locked else "empty"), None
    if body.startswith("*"):
        return "disabled", None
    m = re.fullmatch(r"\$([^$]+)\$HASH", body)
    if m:
        scheme = HASH_SCHEMES.get(m.group(1), f"unknown(${m.group(1)}$)")
    elif body == "HASH":
        scheme = "des"
    else:
        raise ParseError("shadow password field is not in the redacted form the collector produces")
    return ("locked" if locked else "hash"), scheme


def parse_shadow(section: Section, target: Target) -> Shadow:
    probe = section.probe("shadow")
    if not probe.ok:
        raise ParseError(probe.reason("read /etc/shadow"))
    entries = []
    for r in colon_rows(probe.text(), 9, "/etc/shadow"):
        state, scheme = hash_state(r[1])
        ages = [to_int(v) for v in r[2:8]]
        entries.append(ShadowEntry(r[0], state, scheme, *ages))
    if not entries:
        raise ParseError("/etc/shadow is empty")
    return Shadow(tuple(entries))


# ---------------------------------------------------------------- home directories and their dot files

#: At most this many /etc/passwd accounts get their home examined, and at most this many dot files are listed
#: per home: a host with a huge directory cannot make the scan slow or its output unbounded. A host with more
#: accounts than HOME_CAP gets an ``error`` finding naming the cap.
HOME_CAP = 500
DOT_FILE_CAP = 200
#: ``U|user|uid|home`` for the first HOME_CAP accounts and ``T|n`` (the number of /etc/passwd lines); then, in one
#: ``stat`` for all those homes, ``H|<stat>`` of each (a symlinked home is shown as a symlink, never followed), and in
#: one ``find -P`` the entries named ``.*`` directly in each home as ``F|mode|owner|type|home|name`` (find does not
#: descend into a symlinked home nor follow symlinks in it; a name holding a newline is left out, so no name can
#: forge a line; at most DOT_FILE_CAP per home). Word splitting on newlines only, no globbing. Read only.
HOMES_PROBE = (
    "set -f; IFS='\n'; "
    f"u=$(@{{awk}} -F: 'NF == 7 && substr($6, 1, 1) == \"/\" && n++ < {HOME_CAP} "
    "{ print \"U|\" $1 \"|\" $3 \"|\" $6 } END { print \"T|\" NR }' /etc/passwd); printf '%s\\n' \"$u\"; "
    "set --; for l in $u; do case $l in U\\|*) h=${l#U|*|*|}; "
    "if [ -e \"$h\" ] || [ -L \"$h\" ]; then set -- \"$@\" \"$h\"; fi;; esac; done; "
    "if [ $# -gt 0 ]; then @{stat} -c 'H|%a|%u|%g|%U|%G|%F|%n' -- \"$@\"; "
    "@{find} -P \"$@\" -maxdepth 1 -mindepth 1 -name '.*' ! -name '*\n*' -printf 'F|%m|%u|%y|%H|%P\\n' "
    f"2>/dev/null | @{{awk}} -F'|' '!s[$0]++ && c[$5]++ < {DOT_FILE_CAP}'; fi"
)
_KINDS = {"f": "file", "d": "directory", "l": "symlink", "p": "fifo", "s": "socket", "c": "character device",
          "b": "block device"}


def _dot_file(rest: str, homes: list[str]) -> tuple[str, DotFile]:
    """``mode|owner|type|home|name``: the home is the longest known home the rest starts with."""
    parts = rest.split("|", 3)
    if len(parts) != 4:
        raise ParseError(f"unexpected find output: {rest[:80]!r}")
    home = max((h for h in homes if parts[3].startswith(h + "|")), key=len, default=None)
    if home is None:
        raise ParseError(f"find listed an entry of no known home: {rest[:80]!r}")
    name = parts[3][len(home) + 1:]
    try:
        mode = int(parts[0], 8)
    except ValueError:
        raise ParseError(f"unexpected find output: {rest[:80]!r}") from None
    return home, DotFile(home.rstrip("/") + "/" + name, name, mode, parts[1], _KINDS.get(parts[2], parts[2]))


def parse_homes(section: Section, target: Target) -> Homes:
    probe = section.probe("homes")
    if not probe.ok:
        raise ParseError(probe.reason("list home directories"))
    accounts: list[tuple[str, int, str]] = []
    stats: dict[str, FileStat | None] = {}
    dots: dict[str, list[DotFile]] = {}
    total: int | None = None
    for line in lines(probe.text()):
        kind, _, rest = line.partition("|")
        if kind == "U":
            user, uid, home = rest.split("|", 2)
            accounts.append((user, to_int(uid) or 0, home))
        elif kind == "H":
            stats.update(stat_lines(rest + "\n"))
        elif kind == "F":
            home, dot = _dot_file(rest, [h for _, _, h in accounts])
            dots.setdefault(home, []).append(dot)
        elif kind == "T":
            total = to_int(rest)
        elif line:
            raise ParseError(f"unexpected home directory listing line: {line[:80]!r}")
    if total is None:
        raise ParseError("the home directory listing is incomplete (no account count)")
    homes = tuple(HomeDir(user, uid, home, stats.get(home), tuple(dots.get(home, ())))
                  for user, uid, home in accounts)
    return Homes(homes, total, HOME_CAP, DOT_FILE_CAP)


# ---------------------------------------------------------------- shell start-up files: umask, PATH; securetty

#: System-wide and root's shell start-up files (Debian/Ubuntu and RHEL names).
STARTUP_FILES = ("/etc/profile", "/etc/profile.d/*.sh", "/etc/bash.bashrc", "/etc/bashrc", "/etc/environment",
                 "/root/.profile", "/root/.bashrc", "/root/.bash_profile")
#: Where root's PATH is also set: login.defs ENV_SUPATH and sudo's secure_path.
PATH_SOURCES = ("/etc/login.defs", "/etc/sudoers", "/etc/sudoers.d/*")
_PATH_AWK = (
    r"""{ l = $0; sub(/^[ \t]+/, "", l); if (substr(l, 1, 1) == "#") next; """
    r"""if (match(l, /(PATH|secure_path)[ \t]*=[ \t]*/)) { v = substr(l, RSTART + RLENGTH); """
    r"""gsub(/\\:/, ":", v); gsub(/"/, "", v); gsub(sprintf("%c", 39), "", v); sub(/[ \t;].*$/, "", v); """
    r"""n = split(v, a, ":"); for (i = 1; i <= n; i++) { sub(/^(\$HOME|\$\{HOME\}|~)/, "/root", a[i]); """
    r"""if (substr(a[i], 1, 1) == "/" && !seen[a[i]]++) print a[i] } } }"""
)
#: Every absolute directory named in a PATH setting of the start-up files, ENV_SUPATH or secure_path, with
#: ``stat -L`` (the directory a symlink such as /bin -> usr/bin leads to is the one that matters); ``missing|dir``
#: when it does not exist.
PATH_DIRS_PROBE = with_files(
    " ".join(STARTUP_FILES + PATH_SOURCES),
    f"set -f; IFS='\n'; d=$(@{{awk}} '{_PATH_AWK}' \"$@\"); set --; for x in $d; do "
    "if [ -e \"$x\" ]; then set -- \"$@\" \"$x\"; else printf 'missing|%s\\n' \"$x\"; fi; done; "
    "if [ $# -gt 0 ]; then @{stat} -L -c '%a|%u|%g|%U|%G|%F|%n' -- \"$@\"; fi") + "; true"
_UMASK = re.compile(r"(?:^|[;&|{(]|\bthen\b|\belse\b|\bdo\b)[ \t]*umask\b[ \t]*([^;&|)}#]*)")
_PATH_SET = re.compile(r"(PATH|secure_path)[ \t]*=[ \t]*(.*)$")


def umask_value(text: str) -> int:
    """An octal umask, or a symbolic one (``u=rwx,g=rx,o=``: the permissions *kept*) as the mask it means."""
    if re.fullmatch(r"[0-7]{1,4}", text):
        return int(text, 8)
    kept = {"u": 0, "g": 0, "o": 0}
    for clause in text.split(","):
        m = re.fullmatch(r"([ugoa]*)=([rwx]*)", clause)
        if not m:
            raise ParseError(f"umask {text!r}: only octal or 'who=perms' clauses are understood")
        bits = sum({"r": 4, "w": 2, "x": 1}[c] for c in set(m.group(2)))
        for who in m.group(1).replace("a", "ugo") or "ugo":
            kept[who] = bits
    return 0o777 & ~((kept["u"] << 6) | (kept["g"] << 3) | kept["o"])


def _umask_args(line: str, path: str, n: int) -> list[str]:
    """The mask of every ``umask`` command on the line (none for a bare ``umask``, which only prints it)."""
    out = []
    for m in _UMASK.finditer(line):
        words = [w for w in fields(m.group(1)) if w not in ("-S", "-p")]
        if not words:
            continue
        if not re.fullmatch(r"[0-7]{1,4}|[ugoa]*=[rwx]*(,[ugoa]*=[rwx]*)*", words[0]):
            raise ParseError(f"{path} line {n}: umask {words[0][:40]!r}: only octal or 'who=perms' masks are "
                             "understood")
        out.append(words[0])
    return out


def path_elements(value: str) -> tuple[str, ...]:
    """The directories of a PATH value, read the way the collector's probe reads them (quotes dropped, the value
    ends at a blank or ``;``, ``\\:`` is a colon); ``$HOME``/``~`` is root's home, ``$PATH`` the earlier value."""
    value = re.split(r"[ \t;]", value.replace("\\:", ":").replace('"', "").replace("'", ""), maxsplit=1)[0]
    out = []
    for element in value.split(":"):
        element = re.sub(r"^(\$HOME|\$\{HOME\}|~)", "/root", element)
        out.append("$PATH" if element in ("$PATH", "${PATH}") else element)
    return tuple(out)


#: Every file the login environment is read from, in one ``dump_files`` probe.
LOGIN_ENV_FILES = (*STARTUP_FILES, *PATH_SOURCES, "/etc/securetty")
#: Only the lines that can set a umask or a PATH (and all of /etc/securetty) leave the host: start-up files may
#: hold tokens and passwords, which must not reach the evidence.
LOGIN_ENV_LINES = "FILENAME == \"/etc/securetty\" || /umask|PATH|secure_path/"
LOGIN_ENV_PROBE = dump_files(LOGIN_ENV_FILES, only=LOGIN_ENV_LINES)


def parse_login_env(section: Section, target: Target) -> LoginEnv:
    probes = section.probes
    section = dumped(section.probe("files"), "start-up files", sparse=True)
    section.require_readable("/etc/profile", "/etc/bash", "/root", "/etc/environment", "/etc/securetty",
                             "/etc/login.defs", "/etc/sudoers")
    files = [p for p in section.present() if p != "/etc/securetty"]
    umasks, paths = [], []
    for path in files:
        startup = not path.startswith(("/etc/login.defs", "/etc/sudoers"))
        for n, line in config_lines(section.text(path) or ""):
            if startup:
                umasks += [UmaskSetting(path, n, umask_value(v)) for v in _umask_args(line, path, n)]
            m = _PATH_SET.search(line)
            if m and (startup or "ENV_SUPATH" in line or "secure_path" in line):
                paths.append(PathSetting(path, n, path_elements(m.group(2))))
    probe = probes.get("path_dirs")
    if probe is None or not probe.ok:
        raise ParseError(probe.reason("stat of the PATH directories") if probe else "no PATH directory listing")
    securetty_text = section.text("/etc/securetty")
    securetty = None if securetty_text is None else tuple(
        (n, fields(line)[0]) for n, line in config_lines(securetty_text))
    return LoginEnv(tuple(umasks), tuple(paths), freeze(stat_lines(probe.text())),
                    tuple(f for f in files if not f.startswith(("/etc/login.defs", "/etc/sudoers"))), securetty)


def parse_clock(section: Section, target: Target) -> HostClock:
    probe = section.probe("now")
    if not probe.ok:
        raise ParseError(probe.reason("date"))
    text = probe.text().strip()
    if not re.fullmatch(r"[0-9]{9,11}", text):
        raise ParseError(f"date +%s printed {text[:40]!r}, not a number of seconds")
    return HostClock(datetime.fromtimestamp(int(text), timezone.utc))
