"""Where per-target work runs: this machine's thread pool (the default) or Dask ``distributed`` workers by zone.

``--executor dask://HOST:8786`` (or ``tls://HOST:8786``) sends each target to a Dask worker started with the
resource ``zone-<zone>=1`` (``dask worker tls://HOST:8786 --resources zone-lab=1``), so a worker inside a network
zone scans only the targets of that zone. A target without a zone may go to any worker.

What travels to a worker is a :class:`TargetTask`: the target as the inventory describes it (secrets only by
the *name* of their environment variable or file), the ids of the selected checks with the coordinator's
fingerprint of their code, the clause map and the waivers. The worker resolves secrets from its own
environment and files, scans, redacts, and returns the target's outcome; the coordinator writes the run record,
reports and seal exactly as for a local scan. A worker whose check code differs from the coordinator's (another
fingerprint) scans nothing: every check of the target is ``error``.

Fail closed: a target whose zone has no worker for ``zone_wait`` seconds, or whose worker died on it and found no
other worker of the zone to retry on, is ``error`` naming the zone; the run still completes.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scanner.model import Target, Waiver
from scanner.value import frozen

if TYPE_CHECKING:
    from scanner.challenge import ChallengeSpec
    from scanner.registry import CheckSpec, Registry
    from scanner.runner import TargetOutcome

log = logging.getLogger("gxpscan.executors")

DASK_PORT = 8786
#: How long a target waits for a worker of its zone (none joined yet, or its worker died) before it is ``error``.
DEFAULT_ZONE_WAIT = 60.0
#: How often the coordinator looks at which zones have workers.
WATCH_INTERVAL = 0.5
PLAINTEXT_WARNING = ("dask scheduler {address} reached without TLS: targets' options, check ids, findings and "
                     "evidence cross the network unencrypted and unauthenticated; use tls://HOST:PORT with "
                     "--dask-tls-ca/--dask-tls-cert/--dask-tls-key (or the distributed.comm.tls Dask config)")


class ExecutorError(ValueError):
    """An --executor value or its TLS options are unusable."""


@frozen
class DaskTls:
    """Certificate files for a TLS connection to the Dask scheduler (None: take them from the Dask config)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None


@frozen
class ExecutorSpec:
    """Local (``address`` None) or a Dask scheduler address (``tcp://`` or ``tls://``)."""

    address: str | None = None
    tls: DaskTls | None = None
    zone_wait: float = DEFAULT_ZONE_WAIT

    @property
    def remote(self) -> bool:
        return self.address is not None

    def warnings(self) -> list[str]:
        """What the run record says about the transport to the workers."""
        if self.address is not None and self.tls is None:
            return [PLAINTEXT_WARNING.format(address=self.address)]
        return []


def parse_executor(value: str | None, *, tls_ca: str | None = None, tls_cert: str | None = None,
                   tls_key: str | None = None, zone_wait: float = DEFAULT_ZONE_WAIT) -> ExecutorSpec:
    """``local`` (or None), ``dask://HOST[:PORT]`` (plain TCP) or ``tls://HOST[:PORT]``."""
    given = [x for x in (tls_ca, tls_cert, tls_key) if x]
    if zone_wait <= 0:
        raise ExecutorError("--zone-wait must be more than 0 seconds")
    if value is None or value == "local":
        if given:
            raise ExecutorError("--dask-tls-* options need --executor tls://HOST:PORT")
        return ExecutorSpec(zone_wait=zone_wait)
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DASK_PORT
    except ValueError:
        raise ExecutorError(f"--executor {value!r}: the port is not a number") from None
    if scheme not in ("dask", "tcp", "tls") or not parts.hostname or parts.path not in ("", "/") or parts.query \
            or parts.username or parts.password:
        raise ExecutorError(f"--executor {value!r}: expected local, dask://HOST[:PORT] or tls://HOST[:PORT]")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if scheme == "tls":
        if given and len(given) != 3:
            raise ExecutorError("--dask-tls-ca, --dask-tls-cert and --dask-tls-key go together (or none of them: "
                                "the Dask config's distributed.comm.tls)")
        return ExecutorSpec(f"tls://{host}:{port}", DaskTls(tls_ca, tls_cert, tls_key), zone_wait)
    if given:
        raise ExecutorError("--dask-tls-* options need --executor tls://HOST:PORT")
    return ExecutorSpec(f"tcp://{host}:{port}", None, zone_wait)


def zone_of(target: Target) -> str | None:
    zone = target.opt("zone")
    return zone if isinstance(zone, str) and zone else None


#: What one target takes of its worker's zone resource: a worker started with ``zone-lab=1`` scans as many targets
#: at once as it has threads (a whole 1 per task would scan one at a time). A power of two: sums stay exact.
ZONE_SHARE = 2.0 ** -10


def zone_resource(zone: str) -> str:
    """The Dask worker resource of a zone: a worker started with ``--resources zone-<zone>=1`` serves it."""
    return f"zone-{zone}"


@frozen
class TargetTask:
    """All a worker gets for one target: no secret value, only the names the inventory gives."""

    target: Target
    check_ids: tuple[str, ...]
    fingerprint: str  # the coordinator's fingerprint of the selected checks' code
    clause_map: Mapping[str, tuple[str, ...]]
    waivers: tuple[Waiver, ...]


def task_for(target: Target, specs: Sequence[CheckSpec | ChallengeSpec], clause_map: Mapping[str, Sequence[str]],
             waivers: Iterable[Waiver], fingerprint: str) -> TargetTask:
    """The task of one target: check ids (the worker's own code runs them, if its fingerprint agrees)."""
    return TargetTask(target, tuple(s.id for s in specs), fingerprint,
                      MappingProxyType({s.id: tuple(clause_map.get(s.id, ())) for s in specs}), tuple(waivers))


def encode(value: object) -> bytes:
    """Task and result bytes (cloudpickle: read-only mappings and frozen dataclasses of the model travel as is)."""
    import cloudpickle  # type: ignore[import-untyped]

    data: bytes = cloudpickle.dumps(value)
    return data


def failed_outcome(target: Target, specs: Sequence[CheckSpec | ChallengeSpec],
                   clause_map: Mapping[str, Sequence[str]], why: str) -> TargetOutcome:
    """Every selected check and challenge of the target ``error`` for ``why`` (fail closed)."""
    from scanner import runner

    return runner.failed_outcome(target, specs, clause_map, why)


@functools.lru_cache(maxsize=1)
def _registry_lock() -> threading.Lock:
    return threading.Lock()


@functools.lru_cache(maxsize=1)
def _loaded_registry() -> Registry:
    from scanner.registry import Registry

    return Registry.load()


def _worker_registry() -> Registry:
    """The checks installed where this process runs: loaded once per worker process, by one of its threads
    while the others wait (the first tasks of a worker arrive together)."""
    with _registry_lock():
        return _loaded_registry()


def run_task(payload: bytes) -> bytes:
    """On the worker: scan one target with the worker's own checks, environment and files; the outcome's bytes."""
    import pickle

    from scanner.connectors import ProcessScope
    from scanner.runner import scan_target

    task = pickle.loads(payload)  # noqa: S301 (from the coordinator this worker serves)
    if not isinstance(task, TargetTask):
        raise TypeError(f"not a gxpscan target task: {type(task).__name__}")
    registry = _worker_registry()
    known: dict[str, CheckSpec | ChallengeSpec] = {**registry.checks, **registry.challenges}
    specs = [known[i] for i in task.check_ids if i in known]
    missing = sorted(set(task.check_ids) - set(known))
    if missing or registry.fingerprint(specs) != task.fingerprint:
        why = (f"the worker has no check {missing[0]}" if missing else
               "the worker's check code differs from the coordinator's (another fingerprint)")
        return encode(failed_outcome(task.target, specs, task.clause_map, f"not scanned: {why}"))
    return encode(scan_target(task.target, specs, task.clause_map, task.waivers, scope=ProcessScope()))


@dataclass
class _Pending:
    target: Target
    specs: Sequence[CheckSpec | ChallengeSpec]
    clause_map: Mapping[str, Sequence[str]]
    result: Future[TargetOutcome]
    remote: Any  # the distributed.Future
    zone: str | None
    since: float | None = None  # when its zone was first seen without a worker


class DaskZoneExecutor(Executor):
    """A ``concurrent.futures.Executor`` for the runner's targets that runs each on a Dask worker of its zone.

    ``submit(scan_target, target, specs, clause_map, waivers)`` returns a future of the target's outcome; it
    never raises for a target (a target that could not be scanned is an ``error`` outcome).
    """

    remote = True

    def __init__(self, spec: ExecutorSpec, fingerprint: str, *, client: Any = None,
                 clock: Callable[[], float] = time.monotonic):
        if spec.address is None:
            raise ExecutorError("a Dask executor needs a scheduler address")
        self.spec = spec
        self.fingerprint = fingerprint
        self._clock = clock
        self._client = client or _connect(spec)
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._closed = threading.Event()
        self._watch = threading.Thread(target=self._watch_zones, name="gxpscan-zones", daemon=True)
        self._watch.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        from scanner.runner import scan_target

        if fn is not scan_target or kwargs or len(args) != 4:
            raise TypeError("a Dask zone executor runs scan_target(target, specs, clause_map, waivers) only")
        target, specs, clause_map, waivers = args
        task = task_for(target, specs, clause_map, waivers, self.fingerprint)
        zone = zone_of(target)
        resources = {zone_resource(zone): ZONE_SHARE} if zone else None
        result: Future[TargetOutcome] = Future()
        remote = self._client.submit(run_task, encode(task), resources=resources, pure=False,
                                     key=f"gxpscan-{target.name}-{id(result):x}")
        pending = _Pending(target, specs, clause_map, result, remote, zone)
        with self._lock:
            self._pending[remote.key] = pending
        remote.add_done_callback(self._finished)
        return result

    def _finished(self, remote: Any) -> None:
        with self._lock:
            pending = self._pending.pop(remote.key, None)
        if pending is None:  # already settled by the zone watch
            return
        import pickle  # a local scan never loads it

        try:
            outcome = pickle.loads(remote.result())  # noqa: S301 (a worker of our scheduler)
        except Exception as exc:
            from distributed import KilledWorker

            if isinstance(exc, KilledWorker):
                why = (f"the Dask worker scanning it died (zone {pending.zone or '(any)'}) and the retry on "
                       "another worker of the zone did not finish either; not scanned")
            else:
                why = f"the Dask task failed: {type(exc).__name__}: {exc}"
            outcome = failed_outcome(pending.target, pending.specs, pending.clause_map, why)
        pending.result.set_result(outcome)

    def _watch_zones(self) -> None:
        """Settle as ``error`` every target whose zone has had no worker for ``zone_wait`` seconds."""
        while not self._closed.wait(WATCH_INTERVAL):
            with self._lock:
                waiting = [p for p in self._pending.values() if p.zone is not None]
            if not waiting:
                continue
            try:
                zones = self.zones()
            except Exception:  # the scheduler is unreachable just now: the wait goes on counting
                log.debug("could not ask the scheduler for its workers", exc_info=True)
                zones = None
            now = self._clock()
            for p in waiting:
                if zones is not None and p.zone in zones:
                    p.since = None
                    continue
                p.since = p.since if p.since is not None else now
                if now - p.since >= self.spec.zone_wait:
                    self._give_up(p, f"no Dask worker of zone {p.zone!r} (resource {zone_resource(str(p.zone))}=1) "
                                     f"was available for {self.spec.zone_wait:g}s; not scanned")

    def _give_up(self, pending: _Pending, why: str) -> None:
        with self._lock:
            if self._pending.pop(pending.remote.key, None) is None:
                return
        pending.remote.cancel()
        pending.result.set_result(failed_outcome(pending.target, pending.specs, pending.clause_map, why))

    def zones(self) -> set[str]:
        """The zones that have a worker now (by the workers' ``zone-*`` resources)."""
        info = self._client.scheduler_info()
        return {name.removeprefix("zone-") for w in info.get("workers", {}).values()
                for name, amount in (w.get("resources") or {}).items()
                if name.startswith("zone-") and amount >= ZONE_SHARE}

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed.set()
        with self._lock:
            left = list(self._pending.values())
            if cancel_futures:
                self._pending.clear()
        if cancel_futures:
            for p in left:
                p.remote.cancel()
                p.result.cancel()
        if wait:
            self._watch.join()
        self._client.close()


def _connect(spec: ExecutorSpec) -> Any:
    from distributed import Client
    from distributed.security import Security

    security = None
    if spec.tls is not None:
        if spec.tls.ca:
            security = Security(tls_ca_file=spec.tls.ca, tls_client_cert=spec.tls.cert,
                                tls_client_key=spec.tls.key, require_encryption=True)  # type: ignore[no-untyped-call]
        else:
            security = Security(require_encryption=True)  # type: ignore[no-untyped-call]  # the certificates of the Dask config
    return Client(spec.address, security=security, timeout=30,  # type: ignore[no-untyped-call]
                  set_as_default=False)


def open_executor(spec: ExecutorSpec, fingerprint: str) -> Executor | None:
    """None for a local scan (the runner's own thread pool), else a connected Dask zone executor."""
    if not spec.remote:
        return None
    return DaskZoneExecutor(spec, fingerprint)
