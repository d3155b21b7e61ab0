"""The Windows collector: one script, one round trip, strict frames. Nothing here runs Windows: the script's syntax
is checked by a PowerShell grammar (tree-sitter-powershell), and its output is replayed from the hand-written host
profiles of tests/fixtures/windows (a fake connector; the WinRM connector's own tests use a real WS-Man responder)."""
from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
import tree_sitter
import tree_sitter_powershell

from scanner.collectors import collect as collect_any
from scanner.collectors import known_facts
from scanner.collectors import windows as wc
from scanner.connectors import CommandResult, ConnectorError
from scanner.facts import windows as wf
from scanner.model import Platform, Status, Target
from scanner.registry import Registry
from scanner.runner import evaluate
from tests.checks.windows.factories import ReplayConnector, target
from tests.fixtures.windows.replay import asked, frame, profile_output, reply_for

ALL = sorted(wc.BY_NAME)


def parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def test_the_script_and_every_fact_block_parse_as_powershell() -> None:
    p = parser()
    text = wc.script_text()
    assert not p.parse(text.encode()).root_node.has_error
    for block in wc.blocks().values():
        assert not p.parse(block.body.encode()).root_node.has_error, block.name
    assert not p.parse(wc.build_script(ALL, "0" * 32, 10).encode()).root_node.has_error
    assert not p.parse(wc.prelude().encode()).root_node.has_error
    # the grammar does catch a broken script: an unclosed block
    broken = text.replace("foreach ($name in $Wanted) {", "foreach ($name in $Wanted) {{", 1)
    assert p.parse(broken.encode()).root_node.has_error


def tokens(text: str) -> list[tuple[str, Any]]:
    """The tokens PowerShell reads in a script, comments left out; a verbatim here-string (the helpers, each fact's
    block: code run later) by the tokens of the code it holds."""
    out: list[tuple[str, Any]] = []

    def walk(node: tree_sitter.Node) -> None:
        if node.type == "comment":
            return
        if node.child_count == 0:
            text = (node.text or b"").decode()
            here = node.type == "verbatim_here_string_characters"
            out.append((node.type, tokens(text[3:-3]) if here else text))
        for child in node.children:
            walk(child)

    walk(parser().parse(text.encode()).root_node)
    return out


def test_the_script_is_sent_without_comments_blank_lines_and_indentation_as_the_same_tokens() -> None:
    original, sent = wc.script_text(), wc.sent_text()
    assert tokens(sent) == tokens(original)
    here = [t for t in tokens(original) if t[0] == "verbatim_here_string_characters"]
    assert len(here) == len(ALL) + 1 and all(len(t[1]) > 5 for t in here)  # the helpers and every block, as code
    assert len(sent) < 0.85 * len(original) and "\n#" not in sent and "\n " not in sent and "\n\n" not in sent
    script = wc.build_script(ALL, "0" * 32, 10)
    assert len(script.encode()) < 18_000  # was 26,128 with collect.ps1 base64-encoded inside
    # the grammar does see a change of what a here-string holds
    assert tokens(original.replace("$os.BuildNumber", "$os.Build Number", 1)) != tokens(original)


def test_every_fact_has_one_block_and_the_admin_marks_agree() -> None:
    assert sorted(wc.blocks()) == ALL
    assert {n: s.needs_root for n, s in wc.FACTS.items()} == {n: b.admin for n, b in wc.blocks().items()}
    assert sorted(n for n, b in wc.blocks().items() if b.admin) == [
        "windows.audit_policy", "windows.backup", "windows.bitlocker", "windows.security_log",
        "windows.smb_server", "windows.winrm_service"]
    assert set(ALL) <= set(known_facts())


#: Commands that change a host or write a file: none may appear in the collection script.
WRITERS = re.compile(r"\b(Set-\w+|New-Item|Remove-\w+|Out-File|Add-Content|Export-\w+|Add-Type|Start-Job|"
                     r"Invoke-Expression|Enable-\w+|Disable-\w+|secedit|net\s+accounts|auditpol|wbadmin|reg(\.exe)?\s"
                     r"|Start-Process|Stop-\w+|Restart-\w+|Install-\w+)\b|\s>>?\s", re.I)


def test_the_script_only_reads() -> None:
    assert WRITERS.findall(wc.script_text()) == []
    assert WRITERS.search("Set-ItemProperty HKLM:\\x") and WRITERS.search("secedit /export /cfg x")


def test_one_round_trip_per_host_carrying_every_fact_with_a_fresh_nonce() -> None:
    first, second = ReplayConnector("hardened-2022"), ReplayConnector("hardened-2022")
    facts = wc.collect(first, target(), ALL)
    wc.collect(second, target(), ALL)
    assert len(first.scripts) == len(second.scripts) == 1
    assert all(f.ok for f in facts.values()), {n: f.error for n, f in facts.items() if not f.ok}
    (n1, names), (n2, _) = asked(first.scripts[0]), asked(second.scripts[0])
    assert names == ALL and n1 != n2 and re.fullmatch(r"[0-9a-f]{32}", n1)
    assert first.scripts[0].endswith("\n" + wc.sent_text() + "\n") and "FromBase64String" not in first.scripts[0]


def test_the_evidence_of_a_fact_is_its_block_its_frame_and_its_time_on_the_host() -> None:
    facts = wc.collect(ReplayConnector("hardened-2022"), target(), ["windows.registry"])
    ev = facts["windows.registry"].evidence[0]
    assert ev.source.startswith("collect.ps1 fact windows.registry (PowerShell, ran 12 ms on the host):\n")
    assert "Get-ItemProperty -LiteralPath $pair[0]" in ev.source
    assert " FACT windows.registry 12 ok\n" in ev.raw and ev.raw.endswith(" END windows.registry\n")


def test_an_unknown_fact_and_a_platform_dispatch() -> None:
    t = Target("w", Platform.WINDOWS, {}, {})
    got = collect_any(ReplayConnector("hardened-2022"), t, ["windows.system", "windows.nope"])
    assert got["windows.nope"].error == "unknown Windows fact"
    assert dict(got["windows.system"].value.fields)["os"] == "Microsoft Windows Server 2022 Standard"


@pytest.mark.parametrize(("protection", "recorded"), [
    ("https+ntlm", "https+ntlm"), ("http+ntlm-sealed", "http+ntlm-sealed"), (None, "unknown"),
    ("https\x1b[31m+ntlm", "https [31m+ntlm"),
])
def test_the_system_fact_records_the_protection_the_connection_used(protection: str | None, recorded: str) -> None:
    connector = ReplayConnector("hardened-2022")
    if protection is not None:
        connector.protection = protection  # type: ignore[attr-defined]
    fields = dict(wc.collect(connector, target(), ["windows.system"])["windows.system"].value.fields)
    assert fields["protection"] == recorded and fields["hostname"]


# ---------------------------------------------------------------- hostile output


def _swap(name: str, payload: str | None = None, *, ok: bool = True, extra: str = "",
          nonce_of: Callable[[str], str] | None = None) -> Callable[[str], bytes]:
    """A reply of the hardened host with one fact's frame replaced (None: dropped) and ``extra`` appended."""
    def reply(script: str) -> bytes:
        nonce, names = asked(script)
        out = profile_output("hardened-2022", nonce, [n for n in names if n != name])
        if payload is not None:
            out += frame(nonce_of(nonce) if nonce_of else nonce, name, payload, ok=ok)
        return (out + extra.replace("{N}", nonce)).encode("utf-8", "surrogateescape")
    return reply


def _weak(name: str) -> str:
    return profile_output("weak", "n" * 32, [name]).split("\n")[2]


def _good(name: str) -> str:
    return profile_output("hardened-2022", "n" * 32, [name]).split("\n")[2]


HOSTILE: list[tuple[str, str, Callable[[str], bytes], str]] = [
    ("forged frame with another nonce", "windows.password_policy",
     _swap("windows.password_policy", _good("windows.password_policy"), nonce_of=lambda n: "f" * 32),
     "no output for this fact"),
    ("a second frame with the run's nonce", "windows.password_policy",
     _swap("windows.password_policy", _weak("windows.password_policy"),
           extra="\n{N} FACT windows.password_policy 1 ok\n" + _good("windows.password_policy")
                 + "\n{N} END windows.password_policy\n"), "framed more than once"),
    ("truncated JSON", "windows.registry", _swap("windows.registry", _good("windows.registry")[:500]),
     "not JSON"),
    ("a fact that throws", "windows.registry",
     _swap("windows.registry", json.dumps({"error": "Requested registry access is not allowed."}), ok=False),
     "the fact block failed: Requested registry access is not allowed."),
    ("needs Administrators", "windows.audit_policy",
     _swap("windows.audit_policy", json.dumps({"error": "needs local Administrators"}), ok=False),
     "needs local Administrators"),
    ("flood", "windows.services",
     _swap("windows.services", '{"services": [' + ",".join(['{"name":"x","start_mode":"Auto","state":"Running"}']
                                                         * 50000) + "]}"), "larger than"),
    ("non-UTF-8", "windows.local_accounts",
     _swap("windows.local_accounts", _good("windows.local_accounts").replace("svc-backup", "svc-\udcff")),
     "not UTF-8"),
    ("a string for a flag", "windows.smb_server",
     _swap("windows.smb_server", _weak("windows.smb_server").replace("true", '"false"')), "expected true or false"),
    ("a number for a flag", "windows.local_accounts",
     _swap("windows.local_accounts", _weak("windows.local_accounts").replace('"enabled":true', '"enabled":0')),
     "expected true or false"),
    ("a relative time", "windows.backup",
     _swap("windows.backup", _weak("windows.backup").replace('"last_success":"', '"last_success":"now-1h", "x":"')),
     "not a time or value a host sends"),
    ("a relative time written with JSON escapes", "windows.backup",
     _swap("windows.backup", _weak("windows.backup").replace('"last_success":"',
                                                             '"last_success":"\\u006e\\u006fw-1h", "x":"')),
     "not a time or value a host sends"),
    ("a relative time in a nested value", "windows.local_accounts",
     _swap("windows.local_accounts", _good("windows.local_accounts").replace('"last_logon":null',
                                                                             '"last_logon":"now"', 1)),
     "not a time or value a host sends"),
    ("an unknown field", "windows.winrm_service",
     _swap("windows.winrm_service", _weak("windows.winrm_service")[:-1] + ',"secure":true}'), "unknown field"),
    ("a registry value missing", "windows.registry",
     _swap("windows.registry", json.dumps({"values": json.loads(_weak("windows.registry"))["values"][1:]})),
     "not exactly the ones asked for"),
    ("a positive SAM interval", "windows.password_policy",
     _swap("windows.password_policy", _good("windows.password_policy").replace("-77760000000000", "77760000000000")),
     "expected a SAM interval"),
    ("w32tm cut short", "windows.time",
     _swap("windows.time", json.dumps({**json.loads(_good("windows.time")),
                                       "status": json.loads(_good("windows.time"))["status"][:9]})),
     "printed 9 lines, expected 16"),
    ("nesting bomb", "windows.firewall", _swap("windows.firewall", "[" * 100000 + "]" * 100000), "not JSON"),
    ("frame cut off", "windows.firewall", _swap("windows.firewall", None, extra="\n{N} FACT windows.firewall 3 ok\n"
                                                                               '{"profiles": ['), "frame incomplete"),
]


@pytest.mark.parametrize(("fact", "reply", "problem"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_output_fails_that_fact_closed_and_spares_the_others(fact: str, reply: Any, problem: str) -> None:
    facts = wc.collect(ReplayConnector("hardened-2022", reply), target(), ALL)
    assert not facts[fact].ok and problem in str(facts[fact].error), facts[fact].error
    assert [n for n, f in facts.items() if not f.ok] == [fact]
    registry = Registry.load(["checks.windows"])
    for spec in registry.checks.values():
        if fact in spec.facts:
            assert {f.status for f in evaluate(spec, facts, target())} == {Status.ERROR}, spec.id


@pytest.mark.parametrize(("max_age_100ns", "days", "status"), [
    (-77760000000000, 90.0, Status.PASS), (-9223372036854775808, None, Status.FAIL), (0, None, Status.FAIL)])
def test_a_zero_maximum_password_age_is_never_not_zero_days(max_age_100ns: int, days: float | None,
                                                             status: Status) -> None:
    """The SAM reads a maximum password age of 0 as "passwords never expire" ([MS-SAMR] 3.1.5.14.4); read as 0 days
    it passed windows.password.max_age on a host whose passwords never expire."""
    policy = json.loads(_good("windows.password_policy"))
    facts = wc.collect(ReplayConnector("hardened-2022", _swap(
        "windows.password_policy", json.dumps({**policy, "max_age_100ns": max_age_100ns}))), target(), ALL)
    assert facts["windows.password_policy"].value.max_age_days == days
    spec = Registry.load(["checks.windows"]).checks["windows.password.max_age"]
    assert [f.status for f in evaluate(spec, facts, target())] == [status]


def test_non_utf8_bytes_between_frames_change_nothing() -> None:
    def reply(script: str) -> bytes:
        return b"\xff\xfe garbage\n\x00" + reply_for("hardened-2022")(script) + b"\n\xc3\x28 trailing"
    facts = wc.collect(ReplayConnector("hardened-2022", reply), target(), ALL)
    assert all(f.ok for f in facts.values())


@pytest.mark.parametrize(("result", "problem"), [
    (CommandResult(None, b"", b"", timed_out=True), "timed out before this fact's section ran"),
    (CommandResult(None, b"", b"", truncated=True), "output bound reached"),
    (CommandResult(1, b"", b"powershell: access denied\n"), "no output for this fact (shell exit 1: powershell: "
                                                             "access denied)"),
])
def test_a_failed_round_trip_fails_every_fact(result: CommandResult, problem: str) -> None:
    facts = wc.collect(ReplayConnector("hardened-2022", lambda s: result), target(), ALL)
    assert all(problem in str(f.error) for f in facts.values()), {f.error for f in facts.values()}


def test_a_connector_error_fails_every_fact() -> None:
    class Refusing:
        def run(self, script: str, *, timeout: float, limit: int) -> CommandResult:
            raise ConnectorError("certificate of w1 does not verify")
    facts = wc.collect(Refusing(), target(), ALL)
    assert {f.error for f in facts.values()} == {"connector error: certificate of w1 does not verify"}


def test_timeouts_and_bound_reach_the_connector_and_the_script(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Recording(ReplayConnector):
        def run(self, script: str, *, timeout: float, limit: int) -> CommandResult:
            seen.update(timeout=timeout, limit=limit)
            return super().run(script, timeout=timeout, limit=limit)
    conn = Recording("hardened-2022")
    wc.collect(conn, Target("w", Platform.WINDOWS, {"fact_timeout": 3}, {}), ALL)
    assert seen == {"timeout": len(ALL) * 5 + 30, "limit": wc.OUTPUT_LIMIT}
    assert "$FactTimeoutMs = 3000" in conn.scripts[0]


def test_a_planted_secret_reaches_neither_the_script_nor_a_fact(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "S3cr3t-Wind0ws-Passw0rd-planted"
    monkeypatch.setenv("GXP_WIN_PW", secret)
    t = Target("w", Platform.WINDOWS, {"user": "EX\\scanner", "password_env": "GXP_WIN_PW"}, {})
    conn = ReplayConnector("weak")
    facts = wc.collect(conn, t, ALL)
    assert secret not in conn.scripts[0] and "GXP_WIN_PW" not in conn.scripts[0]
    assert secret not in repr(facts)


def test_the_oq_protocol_says_how_each_windows_fact_is_read() -> None:
    from scanner.protocol import fact_method

    admin, plain = fact_method("windows.audit_policy", target()), fact_method("windows.registry", target())
    assert admin.needs_root and not plain.needs_root
    assert admin.how.startswith("runs the PowerShell block windows.audit_policy of collect.ps1 (read-only) in the "
                                "host's one WinRM round trip: effective advanced audit policy")
    assert admin.how.endswith("; needs local Administrators") and "Administrators" not in plain.how


# ---------------------------------------------------------------- a declared backup status file


def _with_status(status: dict[str, Any] | None) -> Callable[[str], bytes]:
    """default-2019 (no Windows Server Backup) whose backup block read ``status`` as the declared file."""
    def reply(script: str) -> bytes:
        nonce, names = asked(script)
        out = profile_output("default-2019", nonce, [n for n in names if n != "windows.backup"])
        backup = json.loads(profile_output("default-2019", nonce, ["windows.backup"]).split("\n")[2])
        return (out + frame(nonce, "windows.backup", json.dumps({**backup, "status": status}))).encode()
    return reply


def _ago(hours: float) -> str:
    from datetime import datetime, timedelta, timezone

    return (datetime.now(timezone.utc) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


STATUS_FILE = "C:\\Backup\\last-success.txt"
STATUS = [
    ("iso8601 two hours ago", {"backup_status_format": "iso8601"},
     {"path": STATUS_FILE, "exists": True, "mtime": _ago(1), "text": _ago(2) + "\r\n"}, Status.PASS, ""),
    ("mtime three days ago", {},
     {"path": STATUS_FILE, "exists": True, "mtime": _ago(72), "text": ""}, Status.FAIL, ""),
    ("a regex matching two times", {"backup_status_format": "regex:OK (?P<ts>\\S+)"},
     {"path": STATUS_FILE, "exists": True, "mtime": _ago(1), "text": f"OK {_ago(1)}\nOK {_ago(30)}\n"},
     Status.ERROR, "ambiguous"),
    ("the file is missing", {}, {"path": STATUS_FILE, "exists": False, "mtime": None, "text": ""}, Status.ERROR,
     "does not exist"),
    ("declared but not read", {}, None, Status.ERROR, "expected a JSON object"),
    ("another file read", {}, {"path": "C:\\elsewhere.txt", "exists": True, "mtime": _ago(1), "text": ""},
     Status.ERROR, "is not the declared file's"),
]


@pytest.mark.parametrize(("policy", "status", "verdict", "problem"), [s[1:] for s in STATUS],
                         ids=[s[0] for s in STATUS])
def test_a_declared_backup_status_file_is_read_by_the_linux_format_rule(policy: dict[str, str], status: Any,
                                                                          verdict: Status, problem: str) -> None:
    t = target("default-2019", backup_status_file=STATUS_FILE, **policy)
    conn = ReplayConnector("default-2019", _with_status(status))
    facts = wc.collect(conn, t, ALL)
    assert "$BackupStatusFile = ''C:\\Backup\\last-success.txt''" in conn.scripts[0]  # inside $Prelude's quotes
    assert problem in str(facts["windows.backup"].error or ""), facts["windows.backup"].error
    spec = Registry.load(["checks.windows"]).checks["windows.backup.recent"]
    assert {f.status for f in evaluate(spec, facts, t)} == {verdict}


def test_a_status_the_policy_does_not_declare_is_refused_and_a_quote_in_the_path_stays_data() -> None:
    facts = wc.collect(ReplayConnector("default-2019", _with_status(
        {"path": STATUS_FILE, "exists": True, "mtime": _ago(1), "text": ""})), target("default-2019"), ALL)
    assert "the host read a backup status file the policy does not declare" in str(facts["windows.backup"].error)
    hostile = wc.prelude(target(backup_status_file="C:\\x'; Remove-Item C:\\ -Recurse; '"))
    assert hostile.endswith("$BackupStatusFile = 'C:\\x''; Remove-Item C:\\ -Recurse; '''")
    assert not parser().parse(hostile.encode()).root_node.has_error


def test_a_windows_scan_does_not_load_the_linux_collector_or_facts() -> None:
    """Start-up of a Windows scan: the collector shares the batch-failure text through scanner.collectors, reads a
    declared backup status file with the Linux rule (and the check judges it with the Linux check) only when one is
    declared, and the backup status type lives in scanner.facts.backup (scanner.facts.linux re-exports it)."""
    import subprocess
    import sys

    code = ("import sys; from scanner.registry import Registry; from scanner.model import Platform; "
            "import scanner.collectors.windows; Registry.load(['checks.windows'], platforms=[Platform.WINDOWS]); "
            "print(sorted(m for m in sys.modules "
            "if m.startswith(('scanner.collectors.linux', 'scanner.facts.linux', 'checks.linux'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_replay_reads_each_profile_file_once_and_answers_the_same_bytes() -> None:
    """The responder stands for a host that runs the script on its own CPU: the profile files are read once per
    process, and every reply is still framed with the nonce and the facts of the script it answers."""
    from datetime import datetime, timezone

    from tests.fixtures.windows.replay import recorded

    recorded.cache_clear()
    now = datetime(2026, 12, 2, 1, 0, tzinfo=timezone.utc)
    first, second = (profile_output("hardened-2022", *asked(wc.build_script(ALL, nonce, 10)), now=now)
                     for nonce in ("1" * 32, "2" * 32))
    assert (recorded.cache_info().misses, recorded.cache_info().hits) == (len(ALL), len(ALL))
    assert first.replace("1" * 32, "2" * 32) == second and first.count("1" * 32) == 2 * len(ALL)
    assert '"last_logon":"2026-11-' in first  # @now-Nd times still made from the reply's own now


def test_frames_are_found_without_compiling_a_pattern_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """One frame pattern for every run (a pattern per nonce cost a compile per host); a line of another nonce just
    before the run's own line neither hides nor forges it."""
    nonce, other = "ab" * 16, "cd" * 16
    good = _good("windows.firewall")
    out = (f"\n{other} FACT windows.firewall 1 ok\n{nonce} FACT windows.firewall 3 ok\n{good}\n"
           f"{other} END windows.firewall\n{nonce} END windows.firewall\n").encode()

    def no_compile(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a pattern compiled while reading frames")

    monkeypatch.setattr(re, "compile", no_compile)
    frames = wc.split_frames(out, nonce)
    got = frames["windows.firewall"]
    assert isinstance(got, wc.Frame) and got.complete and got.millis == 3
    assert got.payload == f"{good}\n{other} END windows.firewall".encode()  # the foreign END line is data


def test_only_a_fact_text_that_can_hold_a_relative_time_is_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[str] = []
    real = wc._reject_relative_times

    def spy(data: Any, path: str) -> None:
        if path == "value":  # the walk of one fact's value (not its own recursion)
            walked.append(json.dumps(data))
        real(data, path)

    monkeypatch.setattr(wc, "_reject_relative_times", spy)
    facts = wc.collect(ReplayConnector("hardened-2022"), target(), ALL)
    assert all(f.ok for f in facts.values())
    texts = [profile_output("hardened-2022", "n" * 32, [name]).split("\n")[2].encode() for name in ALL]
    assert len(walked) == sum(b'"now' in t or b"\\u" in t for t in texts) < len(ALL)


def test_decoding_a_host_works_out_each_type_once_for_the_whole_run() -> None:
    """A host's facts hold some 500 values of about 30 types (registry values, audit subcategories, ...): what
    each type asks for, and the fields of each fact class, are worked out once per process, not once per value;
    the values decoded are the same whether worked out or remembered."""
    from scanner.selftest import decode as dec

    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=timezone.utc)  # both replies at one instant (their "@now" times)

    def reply(script: str) -> bytes:
        return profile_output("hardened-2022", *asked(script), now=now).encode("utf-8")

    dec._classified.cache_clear()
    dec._plan.cache_clear()
    first = wc.collect(ReplayConnector("hardened-2022", reply), target(), ALL)
    kinds, plans = dec._classified.cache_info(), dec._plan.cache_info()
    assert (kinds.misses, plans.misses) == (33, 19) and (kinds.hits, plans.hits) == (171, 91)
    second = wc.collect(ReplayConnector("hardened-2022", reply), target(), ALL)
    assert (dec._classified.cache_info().misses, dec._plan.cache_info().misses) == (kinds.misses, plans.misses)
    volatile = ("windows.backup",)  # its "now" is the host's clock at each reply
    assert {n: f.value for n, f in first.items() if n not in volatile} == \
        {n: f.value for n, f in second.items() if n not in volatile}
    assert len(first["windows.audit_policy"].value.settings) > 50


def test_a_field_of_exactly_its_simple_type_is_taken_without_a_decode_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """A str, bool or int field whose value has exactly that type is the value itself: a host's facts need some
    200 calls of decode, not 500, and decode the same values as when every field goes through decode (the values
    that are not exactly their type still do: a bool for an int field is refused, named by its path)."""
    from scanner.selftest import decode as dec
    from scanner.selftest.decode import DecodeError

    calls = []
    real = dec.decode

    def counted(*args: Any) -> Any:
        calls.append(args[2])
        return real(*args)

    monkeypatch.setattr(dec, "decode", counted)
    dec._plan.cache_clear()
    fast = wc.collect(ReplayConnector("hardened-2022"), target(), ALL)
    assert all(f.ok for f in fast.values())
    assert 150 < len(calls) < 250, len(calls)
    calls.clear()
    monkeypatch.setattr(dec, "_AS_IS", ())
    dec._plan.cache_clear()
    slow = wc.collect(ReplayConnector("hardened-2022"), target(), ALL)
    assert len(calls) > 450
    volatile = ("windows.backup",)  # its "now" is the host's clock at each reply
    assert {n: f.value for n, f in fast.items() if n not in volatile} == \
        {n: f.value for n, f in slow.items() if n not in volatile}
    monkeypatch.undo()
    dec._plan.cache_clear()
    with pytest.raises(DecodeError, match=r"^value\.settings\[0\]\.success: expected true or false, got int$"):
        dec.decode({"settings": [{"guid": "G", "success": 1, "failure": False}]}, wf.AuditPolicy, "value",
                   datetime.now(timezone.utc))
    with pytest.raises(DecodeError, match=r"^value\.history: expected an integer, got bool$"):
        dec.decode({"min_length": 14, "history": True}, _Counts, "value", datetime.now(timezone.utc))


@dataclasses.dataclass(frozen=True)
class _Counts:
    min_length: int
    history: int
