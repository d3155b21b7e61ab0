"""The Linux collector's pure parts: output framing and the small parsers, on literal inputs."""
from __future__ import annotations

import shlex

import pytest

from scanner.collectors import linux
from scanner.collectors.linux_accounts import hash_state
from scanner.collectors.linux_backup import backup_tool, parse_backup_jobs
from scanner.collectors.linux_common import ParseError, Probe, Section
from scanner.collectors.linux_password import pam_rules
from scanner.collectors.linux_ssh import parse_sshd
from scanner.collectors.linux_sudo import parse_sudoers
from scanner.facts.linux import SshdConfig, Sudoers
from tests.factories import make_target

NONCE = "feedfacefeedfacefeedfacefeedface"


def mark(kind: str, arg: str, nonce: str = NONCE) -> bytes:
    return f"\n{nonce} {kind} {arg}\n".encode()


def test_split_output_files_probes_and_stderr():
    out = (mark("BEGIN", "linux.x") + mark("FILE", "/etc/a") + b"line1\nline2" + mark("MISSING", "/etc/b")
           + mark("UNREADABLE", "/etc/c") + mark("PROBE", "p1") + b"stdout" + mark("RC", "p1 3") + b"stderr text"
           + mark("END", "linux.x"))
    got = linux.split_output(out, NONCE)["linux.x"]
    assert got.complete
    assert got.section.files == {"/etc/a": b"line1\nline2", "/etc/b": None}
    assert got.section.unreadable == {"/etc/c"}
    assert got.section.probes == {"p1": Probe(3, b"stdout", b"stderr text")}


def test_a_marker_with_another_nonce_is_content_not_structure():
    forged = mark("END", "linux.x", nonce="0" * 32) + mark("BEGIN", "linux.y", nonce="0" * 32)
    out = mark("BEGIN", "linux.x") + mark("FILE", "/etc/motd") + forged + mark("END", "linux.x")
    sections = linux.split_output(out, NONCE)
    assert list(sections) == ["linux.x"]
    assert sections["linux.x"].section.files["/etc/motd"] == forged


def test_non_utf8_bytes_survive_framing():
    out = mark("BEGIN", "linux.x") + mark("FILE", "/etc/x") + b"caf\xe9 \xff\xfe" + mark("END", "linux.x")
    assert linux.split_output(out, NONCE)["linux.x"].section.files["/etc/x"] == b"caf\xe9 \xff\xfe"


def test_output_cut_off_mid_section_is_incomplete():
    out = mark("BEGIN", "linux.a") + mark("END", "linux.a") + mark("BEGIN", "linux.b") + mark("PROBE", "x") + b"par"
    sections = linux.split_output(out, NONCE)
    assert sections["linux.a"].complete and not sections["linux.b"].complete
    assert sections["linux.b"].section.probes["x"] == Probe(-1, b"par", b"")


@pytest.mark.parametrize(("field", "state", "scheme"), [
    ("", "empty", None), ("!", "disabled", None), ("!!", "disabled", None), ("*", "disabled", None),
    ("!*", "disabled", None), ("$6$HASH", "hash", "sha512"), ("$y$HASH", "hash", "yescrypt"),
    ("!$y$HASH", "locked", "yescrypt"), ("$1$HASH", "hash", "md5"), ("HASH", "hash", "des"),
    ("$2b$HASH", "hash", "bcrypt"), ("$9$HASH", "hash", "unknown($9$)"),
])
def test_shadow_password_states(field, state, scheme):
    assert hash_state(field) == (state, scheme)


def test_an_unredacted_hash_is_refused():
    with pytest.raises(ParseError):
        hash_state("$6$salt$abcdefghijkl")


def test_pam_rules_continuations_brackets_and_optional_modules():
    text = ("# comment\n@include common-auth\n"
            "password [success=1 default=ignore] pam_unix.so obscure \\\n  yescrypt rounds=8\n"
            "-auth optional pam_gnome_keyring.so\n")
    rules = pam_rules("/etc/pam.d/x", text)
    assert [(r.type, r.control, r.module, dict(r.args)) for r in rules] == [
        ("password", "[success=1 default=ignore]", "pam_unix.so", {"obscure": "", "yescrypt": "", "rounds": "8"}),
        ("auth", "optional", "pam_gnome_keyring.so", {}),
    ]


def test_sudoers_keeps_include_lines_and_skips_files_sudo_ignores():
    section = Section(files={
        "/etc/sudoers": b"# comment\n#includedir /etc/sudoers.d\nroot ALL=(ALL) ALL\n",
        "/etc/sudoers.d/ok": b"bob ALL=(ALL) ALL\n",
        "/etc/sudoers.d/x.bak": b"eve ALL=(ALL) NOPASSWD: ALL\n",
        "/etc/sudoers.d/y~": b"eve ALL=(ALL) NOPASSWD: ALL\n",
    })
    parsed = parse_sudoers(section, make_target())
    assert [(s.file, s.text) for s in parsed.lines] == [
        ("/etc/sudoers", "#includedir /etc/sudoers.d"), ("/etc/sudoers", "root ALL=(ALL) ALL"),
        ("/etc/sudoers.d/ok", "bob ALL=(ALL) ALL")]


def test_sudo_not_installed():
    assert parse_sudoers(Section(files={"/etc/sudoers": None}), make_target()) == Sudoers(installed=False)


def test_sshd_not_installed_is_a_value_not_an_error():
    section = Section(probes={"sshd_T": Probe(127, b"", b"sh: 1: sshd: not found")})
    assert parse_sshd(section, make_target()) == SshdConfig(installed=False)


@pytest.mark.parametrize(("text", "tool"), [
    ("30 1 * * * root /usr/local/bin/restic backup /srv", "restic"),
    ("0 2 * * * root borgmatic --verbosity 1", "borg"),
    ("0 3 * * * root /opt/tivoli/tsm/client/ba/bin/dsmc incremental", "tsm"),
    ("0 4 * * * root /usr/local/sbin/nightly-backup.sh", "generic"),
    ("/etc/cron.daily/dpkg:/usr/libexec/dpkg/dpkg-db-backup", None),
    ("cd /var/backups || exit 0", None),
    ("17 * * * * root cd / && run-parts --report /etc/cron.hourly", None),
])
def test_backup_tool_recognition(text, tool):
    assert backup_tool(text) == tool


def test_timers_match_by_name_or_by_their_service():
    section = Section(probes={
        "cron_scripts": Probe(0, b""), "cron_stat": Probe(0, b""),
        "processes": Probe(0, b"/proc/1/exe 0 /usr/lib/systemd/systemd\0/proc/9/exe 0 /usr/sbin/bacula-fd\0"),
        "units": Probe(0, b"Id=nightly.timer\nActiveState=active\nUnit=nightly.service\n"),
        "enabled_timers": Probe(0, b"borgmatic.timer\nlogrotate.timer\n"),
        "timer_files": Probe(0, b"644|0|0|root|root|regular file|/etc/systemd/system/nightly.timer\n"
                                b"644|0|0|root|root|regular file|/lib/systemd/system/borgmatic.timer\n"),
        "unit_matches": Probe(0, b"/etc/systemd/system/nightly.service:ExecStart=/usr/bin/restic backup /srv\n"),
    })
    jobs = parse_backup_jobs(section, make_target())
    assert [(j.kind, j.where, j.tool) for j in jobs.jobs] == [
        ("timer", "borgmatic.timer", "borg"), ("timer", "nightly.timer", "restic"),
        ("agent", "/usr/sbin/bacula-fd (pid 9)", "bacula")]


def test_build_script_quotes_paths_from_the_inventory():
    target = make_target(policy={"backup_status_file": "/var/lib/it's here/last"})
    files, probes = linux.SECTIONS_BY_NAME["linux.backup_status"].plan(target)
    body = linux.section_body(files, probes)
    assert "show '/var/lib/it'\"'\"'s here/last'" in body
    assert "quick status_mtime " + shlex.quote('"$X_timeout" -k 2 "$T" "$X_stat" -c %Y -- '
                                               + shlex.quote("/var/lib/it's here/last")) in body
