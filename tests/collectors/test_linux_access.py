"""Issue 14 part A collectors: sshd_config and its Include drop-ins, host keys, home directories (bounded, read
only, no symlink followed out of a home), shell start-up files (umask, PATH), /etc/securetty, every PAM service
file, the sudoers files' modes and the host's clock: parsers on hand-made input, the separators that must not
start a line, and the real shell probes on this machine and in a private mount namespace."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from scanner.collectors import linux
from scanner.collectors.linux_accounts import (
    HOME_CAP,
    parse_clock,
    parse_homes,
    parse_login_env,
    path_elements,
    umask_value,
)
from scanner.collectors.linux_common import ParseError, Probe, Section
from scanner.collectors.linux_files import parse_file_modes
from scanner.collectors.linux_password import parse_pam_services
from scanner.collectors.linux_ssh import parse_sshd_files
from scanner.connectors import CommandResult
from scanner.connectors.local import LocalConnector
from scanner.model import Location, Status
from scanner.runner import evaluate
from tests.checks.linux.test_cases import registry
from tests.collectors.test_linux_lines import SEP_IDS, SEPARATORS, Case
from tests.factories import make_target

STAT = "600|0|0|root|root|regular file|"
NEW_SECTIONS = ("linux.sshd_files", "linux.homes", "linux.login_env", "linux.pam_services", "linux.sudo_files",
                "linux.clock")


def sshd_section(files: dict[str, str], includes: str = "", hostkeys: str = "") -> Section:
    stats = "".join(f"{STAT}{p}\n" for p in files) + includes
    return Section(files={p: t.encode() for p, t in files.items()},
                   probes={"includes": Probe(0, stats.encode()), "hostkeys": Probe(0, hostkeys.encode())})


# ---- sshd_config and Include


def test_include_is_read_where_it_stands_first_value_wins_match_blocks_do_not_count():
    value = parse_sshd_files(sshd_section({
        "/etc/ssh/sshd_config": "X11Forwarding yes\nInclude sshd_config.d/*.conf /etc/ssh/extra.conf\n"
                                "MaxSessions 9\nMatch User bob\n  Banner /etc/bob\nMatch all\nBanner /etc/all\n",
        "/etc/ssh/sshd_config.d/20-b.conf": "MaxSessions 3\nInclude /etc/ssh/nested.conf\n",
        "/etc/ssh/sshd_config.d/10-a.conf": "X11Forwarding no\nLoginGraceTime=30\n",
        "/etc/ssh/sshd_config.d/README": "not included\n",
        "/etc/ssh/nested.conf": "Banner /etc/nested\n",
        "/etc/ssh/extra.conf": "MaxSessions 1\n",
    }), make_target())
    assert value.files == ("/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/10-a.conf",
                           "/etc/ssh/sshd_config.d/20-b.conf", "/etc/ssh/nested.conf", "/etc/ssh/extra.conf")
    assert value.where("x11forwarding") == Location("/etc/ssh/sshd_config", 1)  # before the Include
    assert value.where("logingracetime") == Location("/etc/ssh/sshd_config.d/10-a.conf", 2)
    assert value.where("maxsessions") == Location("/etc/ssh/sshd_config.d/20-b.conf", 1)
    assert value.where("banner") == Location("/etc/ssh/nested.conf", 1)  # not the Match block's
    assert [(i.file, i.line, i.pattern, i.matched) for i in value.includes] == [
        ("/etc/ssh/sshd_config", 2, "sshd_config.d/*.conf",
         ("/etc/ssh/sshd_config.d/10-a.conf", "/etc/ssh/sshd_config.d/20-b.conf")),
        ("/etc/ssh/sshd_config.d/20-b.conf", 2, "/etc/ssh/nested.conf", ("/etc/ssh/nested.conf",)),
        ("/etc/ssh/sshd_config", 2, "/etc/ssh/extra.conf", ("/etc/ssh/extra.conf",))]


def test_an_included_file_outside_the_shown_directories_is_reported_not_collected():
    value = parse_sshd_files(sshd_section({"/etc/ssh/sshd_config": "Include /opt/ssh/*.conf\n"},
                                          includes=f"{STAT}/opt/ssh/site.conf\n"), make_target())
    assert value.files == ("/etc/ssh/sshd_config", "/opt/ssh/site.conf")
    assert value.not_collected == ("/opt/ssh/site.conf",)


def test_include_loops_are_bounded_and_bad_lines_are_errors():
    with pytest.raises(ParseError, match="nested deeper than 16"):
        parse_sshd_files(sshd_section({"/etc/ssh/sshd_config": "Include /etc/ssh/sshd_config\n"}), make_target())
    with pytest.raises(ParseError, match="not a 'Keyword value' line"):
        parse_sshd_files(sshd_section({"/etc/ssh/sshd_config": "Port\n"}), make_target())


def test_no_sshd_config_and_host_keys_missing():
    section = Section(files={"/etc/ssh/sshd_config": None}, probes={
        "includes": Probe(0, b""), "hostkeys": Probe(0, b"missing|/etc/ssh/k\n")})
    value = parse_sshd_files(section, make_target())
    assert (value.files, dict(value.host_keys)) == ((), {"/etc/ssh/k": None})


# ---- homes


def test_homes_listing_and_its_cap():
    text = ("U|alice|1000|/home/alice\nH|700|1000|1000|alice|alice|directory|/home/alice\n"
            "F|644|alice|f|/home/alice|.bashrc\nF|777|alice|l|/home/alice|.netrc\n"
            "U|bob|1001|/home/bob\nT|700\n")
    value = parse_homes(Section(probes={"homes": Probe(0, text.encode())}), make_target())
    assert [(h.user, h.stat.octal if h.stat else None, [d.kind for d in h.dot_files]) for h in value.homes] == [
        ("alice", "0700", ["file", "symlink"]), ("bob", None, [])]
    assert value.capped and value.accounts == 700 and value.cap == HOME_CAP
    finding = [f for f in registry().checks["linux.accounts.dot_files"].func(value) if f.status is Status.ERROR]
    assert finding[0].message == ("only the first 500 of 700 accounts were examined (cap 500); the others are not "
                                  "judged")


# ---- umask and PATH


@pytest.mark.parametrize(("text", "mask"), [("027", 0o027), ("0077", 0o077), ("u=rwx,g=rx,o=", 0o027),
                                            ("a=rx,u=rwx", 0o022), ("u=rwx,g=,o=", 0o077)])
def test_umask_values(text, mask):
    assert umask_value(text) == mask


@pytest.mark.parametrize(("value", "elements"), [
    ('"/usr/local/sbin:/usr/bin"', ("/usr/local/sbin", "/usr/bin")),
    ("/sbin:/bin:/usr/sbin:/usr/bin", ("/sbin", "/bin", "/usr/sbin", "/usr/bin")),
    ('"$HOME/.local/bin:$HOME/bin:$PATH"', ("/root/.local/bin", "/root/bin", "$PATH")),
    (".:$PATH::/opt/x; export PATH", (".", "$PATH", "", "/opt/x")),
    ("/usr/local/sbin\\:/usr/bin", ("/usr/local/sbin", "/usr/bin")),
])
def test_path_elements(value, elements):
    assert path_elements(value) == elements


def dump(files: dict[str, bytes | None]) -> Probe:
    """What a ``dump_files`` probe prints for these files (None: absent)."""
    listed = [p for p, t in files.items() if t is not None]
    out = "".join(f"F\t{p}\n" for p in listed)
    for i, path in enumerate(listed, 1):
        text = (files[path] or b"").decode()
        body = text[:-1] if text.endswith("\n") else text
        out += "".join(f"{i}\t{n}\t{line}\n" for n, line in enumerate(body.split("\n"), 1)) if text else ""
    return Probe(0, out.encode())


def via_dump(parse):  # type: ignore[no-untyped-def]
    """``parse`` fed its files through a dump_files probe, as the collector reads them."""
    def parse_dumped(section: Section, target):  # type: ignore[no-untyped-def]
        return parse(Section(probes={**section.probes, "files": dump(dict(section.files))}), target)
    parse_dumped.__name__ = parse.__name__
    return parse_dumped


def login_env_section(files: dict[str, str], dirs: str = "") -> Section:
    return Section(probes={"files": dump({p: t.encode() for p, t in files.items()}),
                           "path_dirs": Probe(0, dirs.encode())})


def test_umask_commands_in_any_shell_position_and_path_settings():
    value = parse_login_env(login_env_section({
        "/etc/profile": "if [ $UID -gt 199 ]; then umask 002; else umask 022; fi\numask\numask -S u=rwx,g=rx,o=\n"
                        "PATH=/usr/bin:/bin\n# PATH=/tmp\n",
        "/etc/login.defs": "ENV_SUPATH PATH=/usr/sbin:/usr/bin\nENV_PATH PATH=/usr/bin\nUMASK 022\n",
        "/etc/sudoers": 'Defaults secure_path="/usr/sbin:/usr/bin"\n',
        "/etc/securetty": "console\n# comment\ntty1\n",
    }), make_target())
    assert [(u.line, oct(u.value)) for u in value.umasks] == [(1, "0o2"), (1, "0o22"), (3, "0o27")]
    assert [(p.file, p.line, p.elements) for p in value.paths] == [
        ("/etc/login.defs", 1, ("/usr/sbin", "/usr/bin")), ("/etc/profile", 4, ("/usr/bin", "/bin")),
        ("/etc/sudoers", 1, ("/usr/sbin", "/usr/bin"))]  # ENV_PATH (not root's) is not counted
    assert value.files == ("/etc/profile",)
    assert value.securetty == ((1, "console"), (3, "tty1"))
    with pytest.raises(ParseError, match="umask '\\$MASK'"):
        parse_login_env(login_env_section({"/etc/profile": "umask $MASK\n"}), make_target())


def test_clock_and_pam_services():
    assert parse_clock(Section(probes={"now": Probe(0, b"1764979200\n")}), make_target()).now.isoformat() == \
        "2025-12-06T00:00:00+00:00"
    with pytest.raises(ParseError, match="not a number of seconds"):
        parse_clock(Section(probes={"now": Probe(0, b"-5\n")}), make_target())
    value = parse_pam_services(Section(probes={"files": dump({"/etc/pam.d/su": b"auth required pam_wheel.so use_uid\n",
                                                              "/etc/pam.d/bad": b"auth\n"})}), make_target())
    assert [r.name for r in value.service("su") or ()] == ["pam_wheel.so"]
    assert "not a PAM rule" in value.errors["/etc/pam.d/bad"]


# ---- separators other than \n do not start a line


SEP_CASES = [
    Case("sshd_config", parse_sshd_files, {"/etc/ssh/sshd_config": "X11Forwarding no\n"},
         {"includes": f"{STAT}/etc/ssh/sshd_config\n", "hostkeys": ""}, "/etc/ssh/sshd_config",
         "#{sep}Banner /etc/issue.net", lambda v: dict(v.set_at)),  # type: ignore[attr-defined]
    Case("sshd includes stat", parse_sshd_files, {"/etc/ssh/sshd_config": "X11Forwarding no\n"},
         {"includes": f"{STAT}/etc/ssh/sshd_config\n", "hostkeys": ""}, "hostkeys",
         "missing|/x{sep}600|0|0|root|root|regular file|/etc/ssh/k", lambda v: v.host_keys.get("/etc/ssh/k")),  # type: ignore
    Case("homes", parse_homes, {}, {"homes": "U|root|0|/root\nT|1\n"}, "homes",
         "F|644|root|f|/root|.a{sep}F|644|root|f|/root|.rhosts",
         lambda v: ".rhosts" in [d.name for h in v.homes for d in h.dot_files]),  # type: ignore[attr-defined]
    Case("profile umask", via_dump(parse_login_env), {"/etc/profile": "umask 027\n"}, {"path_dirs": ""}, "/etc/profile",
         "#{sep}umask 000", lambda v: [u.value for u in v.umasks]),  # type: ignore[attr-defined]
    Case("profile PATH", via_dump(parse_login_env), {"/etc/profile": "PATH=/usr/bin\n"}, {"path_dirs": ""},
         "/etc/profile",
         "#{sep}PATH=.:/tmp", lambda v: [p.elements for p in v.paths]),  # type: ignore[attr-defined]
    Case("securetty", via_dump(parse_login_env), {"/etc/securetty": "console\n"}, {"path_dirs": ""}, "/etc/securetty",
         "#{sep}pts/0", lambda v: v.securetty),  # type: ignore[attr-defined]
    Case("pam.d service", via_dump(parse_pam_services), {"/etc/pam.d/sshd": "auth required pam_unix.so\n"}, {},
         "/etc/pam.d/sshd", "#{sep}auth sufficient pam_succeed_if.so user ingroup lab",
         lambda v: [r.module for r in v.rules["/etc/pam.d/sshd"]]),  # type: ignore[attr-defined]
    Case("sudo files stat", parse_file_modes, {}, {"stat": "440|0|0|root|root|regular file|/etc/sudoers\n"}, "stat",
         "missing|/x{sep}666|0|0|root|root|regular file|/etc/sudoers", lambda v: v.files["/etc/sudoers"]),  # type: ignore
]


@pytest.mark.parametrize("sep", SEPARATORS, ids=SEP_IDS)
@pytest.mark.parametrize("case", SEP_CASES, ids=[c.id for c in SEP_CASES])
def test_a_separator_other_than_newline_does_not_start_a_line(case: Case, sep: str) -> None:
    target = make_target()
    assert case.effect(case.parse(case.section(sep), target)) == case.effect(case.parse(case.section(None), target))


@pytest.mark.parametrize("case", SEP_CASES, ids=[c.id for c in SEP_CASES])
def test_the_same_line_split_on_newline_does_take_effect(case: Case) -> None:
    target = make_target()
    line = case.extra.replace("#{sep}", "\n").replace("{sep}", "\n")
    assert case.effect(case.parse(case.section(None, line), target)) != \
        case.effect(case.parse(case.section(None), target))


# ---- the real probes


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("reading host keys, homes and sudoers needs root")


def test_the_new_sections_on_this_machine_match_what_it_says():
    needs_root()
    target = make_target()
    with LocalConnector(target) as conn:
        facts = linux.collect(conn, target, NEW_SECTIONS)
    assert {n: f.error for n, f in facts.items() if not f.ok} == {}
    sshd_files = facts["linux.sshd_files"].value
    if shutil.which("sshd") or Path("/usr/sbin/sshd").exists():
        for path, st in sshd_files.host_keys.items():
            assert st is not None and (st.mode, st.uid) == (os.lstat(path).st_mode & 0o7777, os.lstat(path).st_uid)
    root_home = next(h for h in facts["linux.homes"].value.homes if h.user == "root")
    assert root_home.stat is not None and root_home.stat.mode == os.lstat(root_home.path).st_mode & 0o7777
    assert {d.path for d in root_home.dot_files} == {
        str(p) for p in Path(root_home.path).iterdir() if p.name.startswith(".")} or len(root_home.dot_files) == 200
    assert facts["linux.sudo_files"].value.files["/etc/sudoers"].mode == os.stat("/etc/sudoers").st_mode & 0o7777
    env = facts["linux.login_env"].value
    named = {e for p in env.paths for e in p.elements if e.startswith("/")}
    assert named and named <= set(env.dirs)  # every PATH directory of every file was examined
    for d, st in env.dirs.items():
        assert st is None or (st.mode, st.uid) == (os.stat(d).st_mode & 0o7777, os.stat(d).st_uid)


def test_homes_probe_is_bounded_and_does_not_follow_symlinks_out_of_a_home(tmp_path):
    """A private mount namespace with a crafted /etc/passwd: 600 accounts, one home a symlink to /etc, one home
    holding a symlink to a .netrc elsewhere; the probe examines 500, lists the symlinks as symlinks, nothing more."""
    needs_root()
    if not shutil.which("unshare"):
        pytest.skip("unshare is not installed")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ".netrc").write_text("machine x login y password z\n")
    eve = tmp_path / "eve"
    eve.mkdir(mode=0o700)
    (eve / ".netrc").symlink_to(outside / ".netrc")
    (eve / ".profile").write_text("")
    (tmp_path / "mallory").symlink_to("/etc")
    rows = [f"eve:x:3000:3000::{eve}:/bin/sh", f"mallory:x:3001:3001::{tmp_path / 'mallory'}:/bin/sh"]
    rows += [f"u{i}:x:{4000 + i}:4000::/nonexistent:/usr/sbin/nologin" for i in range(598)]
    passwd = tmp_path / "passwd"
    passwd.write_text("\n".join(rows) + "\n")
    spec = linux.SECTIONS_BY_NAME["linux.homes"]
    target = make_target()
    script, sources = linux.build_script([spec], target, "n" * 32, 10)
    (tmp_path / "script.sh").write_text(script)
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           f"mount --bind {passwd} /etc/passwd && exec sh {tmp_path / 'script.sh'}"],
                          capture_output=True, timeout=60)
    result = CommandResult(exit_code=done.returncode, stdout=done.stdout, stderr=done.stderr)
    homes = linux.facts_from_output(result, [spec], sources, "n" * 32, target)["linux.homes"].value
    assert (len(homes.homes), homes.accounts, homes.capped) == (500, 600, True)
    by_user = {h.user: h for h in homes.homes}
    assert by_user["mallory"].stat is not None and by_user["mallory"].stat.kind == "symbolic link"
    assert by_user["mallory"].dot_files == ()  # /etc's dot files are not listed
    assert sorted((d.name, d.kind) for d in by_user["eve"].dot_files) == [(".netrc", "symlink"), (".profile", "file")]
    dot = evaluate(registry().checks["linux.accounts.dot_files"], {"linux.homes": linux.facts_from_output(
        result, [spec], sources, "n" * 32, target)["linux.homes"]}, target)
    assert [f.status for f in dot].count(Status.ERROR) == 1  # the cap, said as an error
    assert f"{eve}/.netrc" in {f.resource for f in dot}  # a .netrc is reported even as a symlink
    assert (outside / ".netrc").read_text() == "machine x login y password z\n"


def test_awk_over_file_lists_skips_what_does_not_exist(tmp_path):
    """mawk stops at the first file it cannot open (an unmatched glob such as an empty /etc/profile.d/*.sh), so
    root's own PATH settings after it were never read; the probes give awk only files that exist."""
    from scanner.collectors.linux_files import with_files

    (tmp_path / "root.profile").write_text("PATH=/opt/after\n")
    paths = f"{tmp_path}/profile.d/*.sh {tmp_path}/root.profile"
    out = subprocess.run(["sh", "-c", with_files(paths, "awk '{ print FILENAME \": \" $0 }' \"$@\"")],
                         capture_output=True, text=True, timeout=10)
    assert out.stdout == f"{tmp_path}/root.profile: PATH=/opt/after\n"
    none = subprocess.run(["sh", "-c", with_files(f"{tmp_path}/none/*", "echo ran")], capture_output=True, text=True)
    assert none.stdout == ""


def test_many_files_in_one_awk_come_back_as_they_are(tmp_path):
    """dump_files: every line names its file and line number, so content cannot pose as another file or line."""
    from scanner.collectors.linux_files import dump_files, dumped

    (tmp_path / "d").mkdir()
    files = {tmp_path / "d" / "a": "auth required pam_unix.so\n# x\rauth sufficient pam_permit.so\n",
             tmp_path / "d" / "b": "F\t/etc/pam.d/forged\n2\t1\tauth sufficient pam_permit.so\nno newline at end",
             tmp_path / "d" / "empty": ""}
    for path, text in files.items():
        path.write_text(text)
    probe = dump_files((f"{tmp_path}/d/*", f"{tmp_path}/missing", f"{tmp_path}/none/*"))
    out = subprocess.run(["sh", "-c", probe.replace("@{awk}", "awk")], capture_output=True, timeout=10)
    section = dumped(Probe(out.returncode, out.stdout), "test")
    assert {p: section.text(p) for p in section.present()} == {
        str(tmp_path / "d" / "a"): files[tmp_path / "d" / "a"],
        str(tmp_path / "d" / "b"): files[tmp_path / "d" / "b"] + "\n",
        str(tmp_path / "d" / "empty"): ""}
    assert section.unreadable == frozenset()
    with pytest.raises(ParseError, match="lines of /x are incomplete"):
        dumped(Probe(0, b"F\t/x\n1\t2\tsecond line only\n"), "test")
    with pytest.raises(ParseError, match="unexpected line"):
        dumped(Probe(0, b"F\t/x\n2\t1\tno second file\n"), "test")


def test_only_umask_and_path_lines_of_start_up_files_leave_the_host(tmp_path):
    """Root's .bashrc may hold a token: the probe keeps only the lines that can set a umask or a PATH."""
    from scanner.collectors.linux_accounts import LOGIN_ENV_LINES
    from scanner.collectors.linux_files import dump_files, dumped

    rc = tmp_path / ".bashrc"
    rc.write_text("export API_TOKEN=s3cr3t-planted\numask 027\nexport PATH=/opt/x:$PATH\n")
    out = subprocess.run(["sh", "-c", dump_files((str(rc),), only=LOGIN_ENV_LINES).replace("@{awk}", "awk")],
                         capture_output=True, timeout=10)
    assert b"s3cr3t-planted" not in out.stdout
    section = dumped(Probe(out.returncode, out.stdout), "test", sparse=True)
    assert section.text(str(rc)) == "\numask 027\nexport PATH=/opt/x:$PATH\n"  # line numbers kept
