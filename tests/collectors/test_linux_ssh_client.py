"""The Match exec guard of linux.ssh_client follows ssh_config's Include files, on a real shell and a real ssh.

Each case mounts a copy of a recorded case's /etc (its ssh_config, drop-ins and RHEL's crypto-policy file, plus this
machine's passwd, group, nsswitch.conf, loader cache and alternatives) over /etc in a private mount namespace, runs the
collector's own ssh_client section there and reads it back. A command planted in a Match exec must never run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from scanner.collectors import linux
from scanner.connectors import CommandResult
from scanner.model import Fact
from tests.checks.linux.recorded import FIXTURES
from tests.factories import make_target

NONCE = "0123456789abcdef0123456789abcdef"
HOST_FILES = ("passwd", "group", "nsswitch.conf", "ld.so.cache", "hosts")

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ssh") is None,
                                reason="needs root, unshare and the OpenSSH client")


def etc_of(tmp_path: Path, case: str | None, extra: dict[str, str] | None = None) -> Path:
    """An /etc for the namespace: the case's files under etc/, this machine's account and loader files, ``extra``
    (path under /etc: content; content "->target" makes a symlink, "|fifo" a FIFO)."""
    etc = tmp_path / "etc"
    if case and (FIXTURES / case / "files" / "etc").is_dir():
        shutil.copytree(FIXTURES / case / "files" / "etc", etc)
    etc.mkdir(exist_ok=True)
    for name in HOST_FILES:
        if Path("/etc", name).exists():
            shutil.copy(Path("/etc", name), etc / name)
    if Path("/etc/alternatives").is_dir():  # Debian's /usr/bin/awk leads through it
        shutil.copytree("/etc/alternatives", etc / "alternatives", symlinks=True)
    for rel, content in (extra or {}).items():
        path = etc / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content.startswith("->"):
            path.symlink_to(content[2:])
        elif content == "|fifo":
            os.mkfifo(path)
        else:
            path.write_text(content)
    return etc


def ssh_client(etc: Path) -> Fact:
    target = make_target()
    specs = [linux.SECTIONS_BY_NAME["linux.ssh_client"]]
    script, sources = linux.build_script(specs, target, NONCE, 10)
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                           f"mount --bind {etc} /etc && exec sh -s"], input=script.encode(), capture_output=True,
                          timeout=60)
    result = CommandResult(exit_code=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)
    return linux.facts_from_output(result, specs, sources, NONCE, target)["linux.ssh_client"]


@pytest.mark.parametrize(("case", "ciphers"), [
    ("debian12", "chacha20-poly1305@openssh.com"),  # OpenSSH's own default order
    ("ubuntu2204", "chacha20-poly1305@openssh.com"),
    ("ubuntu2404", "chacha20-poly1305@openssh.com"),
    ("rhel9", "aes256-gcm@openssh.com"),  # from the crypto policy, two Include levels down
])
def test_recorded_client_configurations_are_read(tmp_path, case, ciphers):
    fact = ssh_client(etc_of(tmp_path, case))
    assert fact.ok, fact.error
    assert fact.value.options["ciphers"][0].split(",")[0] == ciphers


MARK = "/tmp/gxpscan-match-exec-ran"
EXEC = f'Match exec "touch {MARK}"\n  ForwardAgent yes\n'


@pytest.mark.parametrize(("case", "extra", "words"), [
    # a Match exec two Include levels down (the guard of issue 14's first merge read ssh_config.d only)
    ("debian12", {"ssh/ssh_config.d/10-site.conf": "Include /etc/ssh/site/*.conf\n", "ssh/site/x.conf": EXEC},
     "/etc/ssh/site/x.conf has Match exec"),
    # a relative Include is under /etc/ssh
    ("ubuntu2204", {"ssh/ssh_config.d/10-site.conf": "include site.conf\n", "ssh/site.conf": EXEC},
     "/etc/ssh/site.conf has Match exec"),
    # in the RHEL crypto-policy file, outside /etc/ssh
    ("rhel9", {"crypto-policies/back-ends/openssh.config": EXEC},
     "/etc/crypto-policies/back-ends/openssh.config has Match exec"),
    # Include=path form, upper case, negated
    ("debian12", {"ssh/ssh_config.d/10-site.conf": "INCLUDE=/etc/ssh/more.conf\n",
                  "ssh/more.conf": f'MATCH host x !EXEC "touch {MARK}"\n'}, "/etc/ssh/more.conf has Match exec"),
    ("debian12", {"ssh/ssh_config.d/10-site.conf": "->/tmp/elsewhere.conf"}, "is a symlink out of /etc/ssh"),
    ("debian12", {"ssh/ssh_config.d/10-site.conf": "|fifo"}, "is not a readable regular file"),
    ("debian12", {**{f"ssh/l{i}.conf": f"Include /etc/ssh/l{i + 1}.conf\n" for i in range(20)},
                  "ssh/ssh_config.d/10-site.conf": "Include /etc/ssh/l0.conf\n"}, "nested deeper than 16 levels"),
    ("debian12", {**{f"ssh/many/{i:03d}.conf": "# x\n" for i in range(70)},
                  "ssh/ssh_config.d/10-site.conf": "Include /etc/ssh/many/*.conf\n"}, "more than 64 files"),
])
def test_what_the_guard_cannot_clear_is_refused_and_nothing_runs(tmp_path, case, extra, words):
    Path(MARK).unlink(missing_ok=True)
    fact = ssh_client(etc_of(tmp_path, case, extra))
    assert not fact.ok and "refused: " in fact.error and words in fact.error, fact.error
    assert not Path(MARK).exists()


def test_an_include_loop_ends(tmp_path):
    extra = {"ssh/ssh_config.d/10-a.conf": "Include /etc/ssh/b.conf\n", "ssh/b.conf": "Include /etc/ssh/ssh_config\n"}
    fact = ssh_client(etc_of(tmp_path, "debian12", extra))
    assert fact.ok or "ssh -G" in (fact.error or ""), fact.error  # ssh itself stops the loop; the guard reads once
