"""A real Dask scheduler and zone workers as processes, each worker in its own network namespace.

The scheduler listens in this machine's namespace. A worker gets a namespace of its own (an SSH lab "host" that
runs no sshd): one veth to this machine (to reach the scheduler, which reaches it back) and one private veth to
each lab sshd host of its zone, with a /32 route to that host's usual address over the private link. So the
inventory is the same for a local scan and a distributed one, and a worker reaches the hosts of its zone and
nothing else (no default route). Used by tests/lab/test_dask_zones.py and benchmarks/dask_zones.py.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab.sshlab import LabHost, SSHLab, sh

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ZoneWorker:
    name: str
    zone: str
    netns: LabHost  # the worker's namespace (no sshd runs in it)
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class DaskLab:
    ssh: SSHLab
    #: scheduler settings (environment): a task whose worker died is retried once on another worker, not thrice
    allowed_failures: int = 1
    workers: dict[str, ZoneWorker] = field(default_factory=dict)
    scheduler: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
        env.update({"PYTHONPATH": str(REPO), **(extra or {}),
                    "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(self.allowed_failures)})
        return env

    def start_scheduler(self) -> None:
        self.port = free_port()
        log = self.ssh.root / "dask-scheduler.log"
        with open(log, "ab") as out:
            self.scheduler = subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "0.0.0.0", "--port",
                 str(self.port), "--no-dashboard"], stdout=out, stderr=out, stdin=subprocess.DEVNULL, env=self._env())
        deadline = time.monotonic() + 60
        while True:
            if self.scheduler.poll() is not None:
                raise RuntimeError(f"dask scheduler exited: {log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"dask scheduler not listening: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)

    def add_worker(self, name: str, zone: str, hosts: Iterable[LabHost], *, nthreads: int = 2,
                   env: Mapping[str, str] | None = None) -> ZoneWorker:
        """A worker of ``zone`` in its own namespace that reaches ``hosts`` (at their usual addresses) only."""
        netns = self.ssh.add(f"dask-{name}", light=True, start=False)
        for host in hosts:
            private = self.ssh.link_pair(netns, host)
            sh("ip", "-n", netns.ns, "route", "add", f"{host.address}/32", "via", private)
        log = self.ssh.root / f"dask-worker-{name}.log"
        argv = ["ip", "netns", "exec", netns.ns, sys.executable, "-m", "distributed.cli.dask_worker",
                f"tcp://{netns.gateway}:{self.port}", "--host", netns.address, "--name", name, "--nthreads",
                str(nthreads), "--no-nanny", "--no-dashboard", "--resources", f"zone-{zone}=1",
                "--local-directory", str(self.ssh.root / f"dask-{name}"), "--death-timeout", "60"]
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=out, stdin=subprocess.DEVNULL, env=self._env(env))
        worker = ZoneWorker(name, zone, netns, proc, log)
        self.workers[name] = worker
        return worker

    def wait_workers(self, timeout: float = 90.0) -> None:
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            deadline = time.monotonic() + timeout
            while True:
                names = {w.get("name") for w in client.scheduler_info()["workers"].values()}
                if all(name in names for name in self.workers):
                    return
                dead = [w for w in self.workers.values() if w.proc.poll() is not None]
                if dead or time.monotonic() > deadline:
                    who = dead[0] if dead else next(w for w in self.workers.values() if w.name not in names)
                    raise RuntimeError(f"dask worker {who.name} did not join: {who.log.read_text()[-3000:]}")
                time.sleep(0.2)

    def kill_worker(self, name: str) -> None:
        worker = self.workers.pop(name)
        worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait(timeout=10)

    def close(self) -> None:
        for worker in self.workers.values():
            if worker.proc.poll() is None:
                worker.proc.kill()
            worker.proc.wait(timeout=10)
        self.workers.clear()
        if self.scheduler is not None and self.scheduler.poll() is None:
            self.scheduler.kill()
            self.scheduler.wait(timeout=10)
