"""A real Samba file server (smbd) for the SMB challenge tests: its own config, directories and port on 127.0.0.1.

``server min protocol`` is the setting under test: ``NT1`` keeps SMB1, ``SMB2_02`` refuses it.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from tests.lab.slapdlab import free_port, wait_port


def available() -> str | None:
    """Why a Samba smbd cannot run here, or None."""
    if not (shutil.which("smbd") or Path("/usr/sbin/smbd").exists()):
        return "smbd is not installed (apt-get install samba)"
    if os.geteuid() != 0:
        return "smbd needs root"
    return None


class Smbd:
    def __init__(self, directory: Path, min_protocol: str) -> None:
        self.directory = directory
        self.port = free_port()
        self.min_protocol = min_protocol
        self._proc: subprocess.Popen[bytes] | None = None

    def _config(self) -> Path:
        d = self.directory
        for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc", "share"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        conf = d / "smb.conf"
        conf.write_text(f"""[global]
    server role = standalone server
    workgroup = GXPLAB
    netbios name = GXPSMB{self.port}
    interfaces = 127.0.0.1
    bind interfaces only = yes
    smb ports = {self.port}
    disable netbios = yes
    server min protocol = {self.min_protocol}
    private dir = {d / 'private'}
    lock directory = {d / 'lock'}
    state directory = {d / 'state'}
    cache directory = {d / 'cache'}
    pid directory = {d / 'pid'}
    ncalrpc dir = {d / 'ncalrpc'}
    log file = {d / 'smbd.log'}
    passdb backend = tdbsam:{d / 'private' / 'passdb.tdb'}
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
[share]
    path = {d / 'share'}
""")
        return conf

    def __enter__(self) -> Smbd:
        smbd = shutil.which("smbd") or "/usr/sbin/smbd"
        self._proc = subprocess.Popen([smbd, "--foreground", "-s", str(self._config())],
                                      stdin=subprocess.PIPE,  # in the foreground smbd ends at EOF on stdin
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port("127.0.0.1", self.port, 20):
            self.__exit__()
            raise RuntimeError(f"smbd did not listen on 127.0.0.1:{self.port}; see {self.directory / 'smbd.log'}")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
