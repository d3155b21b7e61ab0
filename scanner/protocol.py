"""The pre-approved OQ test protocol: what will be tested, where, how, and what counts as a pass, fixed before
execution.

``gxpscan protocol`` builds a :class:`Protocol` from an inventory and a check selection: one test per check and
target, each with its stable test id, the clauses it traces to, its acceptance criterion with the thresholds of
that target's policy filled in (the inventory policy merged exactly as ``scan`` merges it), the method (which
facts are read, and how the collector reads them: the command, file, API call or LDAP search) and the expected
result. The protocol also states its scope (systems, checks, clauses; what is out of scope and why) and the
prerequisites per target (accounts, rights, network, trust).

Its JSON form is canonical (:func:`canonical_json`: sorted keys, no insignificant whitespace, ASCII with
``\\uXXXX`` escapes), so the protocol has one SHA-256 whatever tool reads it; ``sha256sum protocol.json`` gives
the same value. ``gxpscan scan --protocol FILE`` records that hash in ``RunInfo.protocol_sha256`` and keeps a copy
beside the run record; the execution record then reconciles the run with the protocol (:func:`reconcile`): a test
the run executed that the protocol did not contain, and a protocol test the run left out, are deviations.

Test ids (:func:`test_id`) are derived from the check id and the target name only, so the same check on the same
target has the same id in every protocol and every run: ``OQ-`` + the platform code (``LNX``, ``AWS``, ``LDAP``,
``AD``) + the rest of the check id in capitals, dots as dashes, underscores dropped + ``-`` + the target name.
``linux.ssh.root_login`` on ``web01`` is ``OQ-LNX-SSH-ROOTLOGIN-web01``. A target name is kept as written when it
holds only letters, digits, ``.``, ``_`` and ``-``; otherwise each other character becomes ``_`` and the id gets
``~`` and the first 8 hex digits of the name's SHA-256, so two names never share an id.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scanner.model import Result, Status, Target, thaw

if TYPE_CHECKING:
    from scanner.frameworks import Catalog
    from scanner.registry import CheckSpec

FORMAT = "gxpscan-oq-protocol/1"
#: A protocol file larger than this is refused (a protocol of 10 000 tests is a few MiB).
MAX_PROTOCOL_BYTES = 64 * 1024 * 1024
#: Platform codes in test ids, by check id prefix.
PLATFORM_CODES = {"linux": "LNX", "aws": "AWS", "ldap": "LDAP", "ad": "AD", "windows": "WIN", "iac": "IAC"}
_PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]+")
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9._-]")
_TOOL = re.compile(r"@\{([a-z0-9]+)\}")
#: Lists longer than this are named in the criterion text and given in full in the thresholds table.
_INLINE_LIST = 6


class ProtocolError(ValueError):
    """A protocol file that cannot be used: unreadable, not JSON, or not a protocol. The message names the path."""


def test_id(check: str, target: str) -> str:
    """The stable test id of ``check`` on ``target`` (see the module documentation)."""
    prefix, _, rest = check.partition(".")
    code = PLATFORM_CODES.get(prefix, re.sub(r"[^A-Z0-9]", "", prefix.upper()) or "X")
    parts = [re.sub(r"[^A-Z0-9]", "", p.upper()) for p in rest.split(".") if p] if rest else []
    name = target
    if not _PLAIN_NAME.fullmatch(target):
        digest = hashlib.sha256(target.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        name = _NOT_PLAIN.sub("_", target) + "~" + digest
    return "-".join(["OQ", code, *[p for p in parts if p], name])


# --- the protocol's values ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Threshold:
    """One policy value a test applies: where it came from, and the check's default."""

    name: str
    value: Any  # plain JSON data
    default: Any
    source: str  # "policy" (the inventory, a group or the target) or "default" (the check's own)


@dataclass(frozen=True)
class MethodStep:
    """One fact a test reads and how the collector gets it."""

    fact: str
    description: str
    how: str  # files read, commands run, API actions called or LDAP searches made
    needs_root: bool = False


@dataclass(frozen=True)
class ProtocolTest:
    id: str
    check: str
    title: str
    target: str
    target_type: str
    severity: str
    area: str
    clauses: tuple[str, ...]
    criterion: str  # the acceptance criterion with this target's thresholds filled in
    thresholds: tuple[Threshold, ...]
    method: tuple[MethodStep, ...]
    expected: str
    needs_root: bool = False


@dataclass(frozen=True)
class ClauseScope:
    """A clause in scope: the tests that give evidence for it, and the manual entry for what no test shows."""

    ref: str  # framework:clause
    title: str
    summary: str
    automatable: str  # full | partial | manual
    tests: tuple[str, ...]
    manual: str = ""  # what must be verified by people and documents ("" when the tests cover it fully)


@dataclass(frozen=True)
class OutOfScope:
    item: str  # a clause ref, a target, a platform's checks
    reason: str


@dataclass(frozen=True)
class SystemScope:
    name: str
    type: str
    groups: tuple[str, ...]
    tags: tuple[str, ...]
    connection: str  # how it is reached, without any secret
    tests: int


@dataclass(frozen=True)
class Prerequisite:
    target: str
    target_type: str
    kind: str  # account | rights | network | trust
    detail: str


@dataclass(frozen=True)
class Protocol:
    document_id: str
    version: str
    title: str
    objective: str
    created: str  # UTC, ISO 8601
    author: str  # user@host that generated it
    tool_version: str
    checks_fingerprint: str
    inventory: str
    inventory_sha256: str
    frameworks: tuple[str, ...]
    selection: str  # the check selection in words (checks, framework, clause, limit, tags)
    systems: tuple[SystemScope, ...]
    clauses: tuple[ClauseScope, ...]
    out_of_scope: tuple[OutOfScope, ...]
    prerequisites: tuple[Prerequisite, ...]
    tests: tuple[ProtocolTest, ...]
    format: str = field(default=FORMAT)

    def test(self, check: str, target: str) -> ProtocolTest | None:
        for t in self.tests:
            if t.check == check and t.target == target:
                return t
        return None


# --- building ---------------------------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """Policy values as plain JSON data (frozen mappings and tuples thawed)."""
    return thaw(value)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def fill_criterion(criterion: str, thresholds: Sequence[Threshold]) -> str:
    """The criterion with each threshold's value written in: ``password_max_age_days (90)`` becomes
    ``password_max_age_days = 60`` when the policy says 60; a name without its default beside it gets
    `` (= value)``. Long lists are named and given in full in the thresholds table."""
    text = criterion
    for t in sorted(thresholds, key=lambda t: len(t.name), reverse=True):
        long_list = isinstance(t.value, list) and len(t.value) > _INLINE_LIST
        shown = f"{len(t.value)} entries, listed below" if long_list else _show(t.value)
        default = re.escape(_show(t.default)) if not isinstance(t.default, (list, tuple)) else r"(?!)"
        pattern = re.compile(rf"\b{re.escape(t.name)}\b(\s*\((?:default\s+)?{default}\))?")

        def sub(m: re.Match[str], t: Threshold = t, shown: str = shown, long_list: bool = long_list) -> str:
            if long_list:
                return f"{t.name} ({shown})"
            return f"{t.name} = {shown}" if m.group(1) else f"{t.name} (= {shown})"

        text = pattern.sub(sub, text)
    return text


def thresholds_for(spec: CheckSpec, target: Target) -> tuple[Threshold, ...]:
    """The thresholds ``scan`` will apply for this check on this target (the merged policy, else the default)."""
    out = []
    for name, default in spec.params.items():
        from_policy = name in target.policy
        value = target.policy[name] if from_policy else default
        out.append(Threshold(name, _plain(value), _plain(default), "policy" if from_policy else "default"))
    return tuple(out)


def _tools(command: str) -> str:
    return _TOOL.sub(lambda m: m.group(1), command)


def fact_method(fact: str, target: Target) -> MethodStep:
    """How the collector of ``target``'s platform gets ``fact``: from the collector's own declarative table."""
    from scanner.collectors import known_facts

    spec = known_facts().get(fact)
    description = spec.description if spec else "(no collector declares this fact)"
    needs_root = bool(spec and spec.needs_root)
    how = description
    platform = fact.split(".", 1)[0]
    if platform == "linux":
        from scanner.collectors.linux import SECTIONS_BY_NAME

        section = SECTIONS_BY_NAME.get(fact)
        if section is not None:
            try:
                files, probes = section.plan(target)
            except Exception as exc:  # a dynamic plan the policy cannot build: say so
                how = f"cannot be planned for this target: {type(exc).__name__}: {exc}"
            else:
                parts = []
                if files:
                    parts.append("reads " + ", ".join(files))
                parts += [f"runs {_tools(command)}" for _, command in probes]
                how = "; ".join(parts) or "nothing is declared for this target (the policy names no source)"
            how += " (one batched read-only shell script" + (", as root through sudo)" if needs_root else ")")
    elif platform == "windows":
        from scanner.collectors.windows import BY_NAME as WINDOWS_FACTS

        if fact in WINDOWS_FACTS:
            how = (f"runs the PowerShell block {fact} of collect.ps1 (read-only) in the host's one WinRM round trip: "
                   f"{description}" + ("; needs local Administrators" if needs_root else ""))
    elif platform == "aws":
        from scanner.collectors.aws import DEFINITIONS

        for d in DEFINITIONS:
            if d.name == fact:
                actions = ", ".join(dict.fromkeys(c.action for c in d.calls))
                where = "in each scanned region" if d.regional else "once per account"
                how = f"AWS API, read-only, {where}: {actions}"
    elif platform == "ldap":
        from scanner.collectors.ldap import BY_NAME

        row = BY_NAME.get(fact)
        if row is not None:
            flavor = f" ({row.flavor} only)" if row.flavor else ""
            how = f"paged LDAP searches over the bound connection{flavor}, asking only for: {row.description}"
    return MethodStep(fact=fact, description=description, how=how, needs_root=needs_root)


def _connection(target: Target) -> str:
    o = target.options
    if target.type.value == "linux":
        if o.get("connection", "ssh") == "local":
            return "local (the scanning host itself)"
        user = f"{o['user']}@" if o.get("user") else ""
        return f"ssh {user}{o.get('host', target.name)}:{o.get('port', 22)}"
    if target.type.value == "aws":
        accounts = ", ".join(str(a) for a in o.get("accounts") or ()) or "the profile's account"
        regions = ", ".join(str(r) for r in o.get("regions") or ()) or "the profile's region"
        return f"AWS accounts {accounts}; regions {regions}"
    if target.type.value == "ldap":
        return f"LDAP {o.get('url', '')}" + (" with StartTLS" if o.get("starttls") else "")
    return target.type.value


def prerequisites(target: Target, tests: Sequence[ProtocolTest]) -> tuple[Prerequisite, ...]:
    """Accounts, rights, network and trust the tests on ``target`` need (secrets named, never shown)."""
    o = target.options
    kind = target.type.value
    out: list[tuple[str, str]] = []
    root_facts = sorted({m.fact for t in tests for m in t.method if m.needs_root})
    if kind == "linux":
        local = o.get("connection", "ssh") == "local"
        if local:
            out.append(("account", "the account running gxpscan on the scanning host"))
        else:
            how = ("key file " + str(o["key_file"])) if o.get("key_file") else (
                "the SSH agent" if o.get("use_agent") else (
                    f"a password from environment variable {o['password_env']}" if o.get("password_env")
                    else "the SSH agent or default keys"))
            out.append(("account", f"SSH login as {o.get('user') or 'the current user'} with {how}"))
        if root_facts:
            become = f"sudo (become: {o['become']})" if o.get("become") else "a root login"
            pw = f", sudo password from environment variable {o['become_password_env']}" \
                if o.get("become_password_env") else ""
            out.append(("rights", f"root through {become}{pw} to read: {', '.join(root_facts)}"))
        else:
            out.append(("rights", "an unprivileged account suffices for the selected tests"))
        out.append(("rights", "read-only: no file is written and no setting is changed on the target"))
        if not local:
            jump = f" (through {o['proxy_jump']})" if o.get("proxy_jump") else ""
            out.append(("network", f"TCP {o.get('host', target.name)}:{o.get('port', 22)} reachable from the "
                                   f"scanning host{jump}"))
            if o.get("trust_on_first_use"):
                out.append(("trust", "trust_on_first_use is set: the host key is accepted unverified on first use; "
                                     "record its fingerprint before execution"))
            else:
                out.append(("trust", f"the host key of {o.get('host', target.name)} in "
                                     f"{o.get('known_hosts') or '~/.ssh/known_hosts'}"))
    elif kind == "aws":
        src = f"profile {o['profile']}" if o.get("profile") else "the default credential chain"
        role = o.get("role_arn") or o.get("role_name")
        out.append(("account", f"AWS credentials from {src}" + (f", assuming role {role}" if role else "")))
        actions = sorted({a.strip() for t in tests for m in t.method if m.how.startswith("AWS API")
                          for a in m.how.split(": ", 1)[1].split(",")})
        out.append(("rights", "IAM read-only actions: " + ", ".join(actions)
                    + " (and sts:GetCallerIdentity; `gxpscan aws-policy` prints the whole policy)"))
        endpoint = o.get("endpoint_url")
        out.append(("network", f"HTTPS to {endpoint}" if endpoint else "HTTPS to the AWS API endpoints of the "
                               "scanned regions"))
    elif kind == "ldap":
        bind = o.get("bind_dn")
        secret = f", password from environment variable {o['password_env']}" if o.get("password_env") else ""
        out.append(("account", f"bind as {bind}{secret}" if bind else "anonymous bind"))
        out.append(("rights", "read access (no write) to what the tests read: "
                    + "; ".join(dict.fromkeys(m.description for t in tests for m in t.method))))
        out.append(("network", f"{o.get('url', '')} reachable from the scanning host"))
        url = str(o.get("url", ""))
        tls = "LDAPS" if url.lower().startswith("ldaps://") else ("StartTLS" if o.get("starttls") else "none")
        ca = f", server certificate verified against {o['ca_file']}" if o.get("ca_file") else ""
        out.append(("trust", f"TLS: {tls}{ca}"))
    return tuple(Prerequisite(target.name, kind, k, d) for k, d in out)


def build_protocol(targets: Sequence[Target], specs: Sequence[CheckSpec], catalogs: Mapping[str, Catalog],
                   frameworks: Sequence[str], *, document_id: str, version: str, created: str, author: str,
                   tool_version: str, checks_fingerprint: str, inventory: str, inventory_sha256: str,
                   selection: str = "all checks", title: str = "") -> Protocol:
    """The protocol for ``specs`` on ``targets``; ``frameworks`` are the framework ids whose clauses are in scope.

    Pure: everything it states comes from its arguments (and the collectors' declarative tables)."""
    from scanner import frameworks as fw

    cmap = fw.clause_map(catalogs)
    tests: list[ProtocolTest] = []
    for target in targets:
        for spec in specs:
            if spec.platform is not target.type:
                continue
            thresholds = thresholds_for(spec, target)
            method = tuple(fact_method(f, target) for f in spec.facts)
            tests.append(ProtocolTest(
                id=test_id(spec.id, target.name), check=spec.id, title=spec.title, target=target.name,
                target_type=target.type.value, severity=spec.severity.value, area=spec.area.value,
                clauses=tuple(cmap.get(spec.id, ())), criterion=fill_criterion(spec.criterion, thresholds),
                thresholds=thresholds, method=method,
                expected="PASS on every resource examined: each meets the acceptance criterion",
                needs_root=spec.needs_root))
    ids = [t.id for t in tests]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ProtocolError(f"two tests would share the id {dupes[0]}: rename a target")

    by_clause: dict[str, list[str]] = {}
    for t in tests:
        for ref in t.clauses:
            by_clause.setdefault(ref, []).append(t.id)
    selected = {s.id for s in specs}
    platforms_present = {t.type for t in targets}
    clauses: list[ClauseScope] = []
    out: list[OutOfScope] = []
    for fid in frameworks:
        cat = catalogs[fid]
        for c in cat.clauses:
            ref = cat.ref(c)
            if ref in by_clause:
                manual = "" if c.automatable.value == "full" else (
                    "The procedural part of this clause (records, approvals, reviews) is verified by document "
                    "review outside this protocol.")
                clauses.append(ClauseScope(ref, c.title, c.summary, c.automatable.value, tuple(by_clause[ref]),
                                           manual))
                continue
            if not c.checks:
                reason = (f"procedural clause (automatable: {c.automatable.value}): no check gives machine evidence "
                          "for it; it is verified by document review outside this protocol")
            elif not selected.intersection(c.checks):
                reason = "its checks (" + ", ".join(c.checks) + ") are not in this protocol's check selection"
            else:
                missing = sorted({s.platform.value for s in specs if s.id in c.checks}
                                 - {p.value for p in platforms_present})
                reason = ("its selected checks apply only to platforms with no target in the inventory: "
                          + ", ".join(missing))
            out.append(OutOfScope(ref, reason))
    counts: dict[str, int] = {}
    for t in tests:
        counts[t.target] = counts.get(t.target, 0) + 1
    systems = tuple(SystemScope(t.name, t.type.value, tuple(t.groups), tuple(t.tags), _connection(t),
                                counts.get(t.name, 0)) for t in targets)
    for s in systems:
        if not s.tests:
            out.append(OutOfScope(f"target {s.name}", f"no selected check applies to its platform ({s.type})"))
    for platform in sorted({s.platform.value for s in specs} - {p.value for p in platforms_present}):
        n = sum(1 for s in specs if s.platform.value == platform)
        out.append(OutOfScope(f"{platform} checks ({n})", f"the inventory has no {platform} target"))
    prereqs = tuple(p for target in targets
                    for p in prerequisites(target, [t for t in tests if t.target == target.name]) if counts.get(
                        target.name))
    names = ", ".join(catalogs[f].title for f in frameworks)
    return Protocol(
        document_id=document_id, version=version,
        title=title or "Operational qualification: test protocol",
        objective=("To verify, by reading each system's effective configuration with gxpscan, that the systems in "
                   "scope meet the technical controls required by " + (names or "the selected checks")
                   + ", against acceptance criteria fixed and approved before execution."),
        created=created, author=author, tool_version=tool_version, checks_fingerprint=checks_fingerprint,
        inventory=inventory, inventory_sha256=inventory_sha256, frameworks=tuple(frameworks), selection=selection,
        systems=systems, clauses=tuple(clauses), out_of_scope=tuple(out), prerequisites=prereqs, tests=tuple(tests))


# --- canonical JSON, hash, reading ---------------------------------------------------------------------------

def to_dict(protocol: Protocol) -> dict[str, Any]:
    out: dict[str, Any] = thaw(protocol)
    return out


def canonical_json(protocol: Protocol) -> bytes:
    """The protocol's one byte form: sorted keys, no insignificant whitespace, ASCII (``\\uXXXX`` escapes)."""
    return json.dumps(to_dict(protocol), sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii") + b"\n"


def sha256(protocol: Protocol) -> str:
    return hashlib.sha256(canonical_json(protocol)).hexdigest()


def _req(d: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise ProtocolError(f"{where}.{key}: missing")
    value = d[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value


def _strs(d: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    items = _req(d, key, list, where)
    for i, v in enumerate(items):
        if not isinstance(v, str):
            raise ProtocolError(f"{where}.{key}[{i}]: expected str")
    return tuple(items)


def _objects(d: Mapping[str, Any], key: str, where: str) -> list[tuple[str, Mapping[str, Any]]]:
    items = _req(d, key, list, where)
    out: list[tuple[str, Mapping[str, Any]]] = []
    for i, v in enumerate(items):
        if not isinstance(v, dict):
            raise ProtocolError(f"{where}.{key}[{i}]: expected an object")
        out.append((f"{where}.{key}[{i}]", v))
    return out


def schema() -> dict[str, Any]:
    """The published JSON Schema of protocol.json (scanner/schemas/protocol.schema.json)."""
    from importlib import resources

    loaded: dict[str, Any] = json.loads(
        resources.files("scanner").joinpath("schemas").joinpath("protocol.schema.json").read_text(encoding="utf-8"))
    return loaded


def _shown(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 80 else text[:77] + "..."
    return text.encode("ascii", "backslashreplace").decode("ascii")


def schema_problems(doc: Any, where: str = "protocol") -> list[str]:
    """Every place where ``doc`` breaks the protocol schema, as ``protocol.tests[3].needs_root: ...``."""
    import jsonschema

    from scanner.inventory import json_path

    problems = []
    validator = jsonschema.Draft202012Validator(schema())
    for err in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        path = json_path(err.absolute_path)
        at = where if path == "(top level)" else f"{where}{'' if path.startswith('[') else '.'}{path}"
        if err.validator == "required":
            missing = [k for k in err.validator_value if isinstance(err.instance, dict) and k not in err.instance]
            problems += [f"{at}.{k}: missing" for k in missing]
        elif err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            problems += [f"{at}.{_shown(k)[1:-1]}: not a protocol field" for k in extra]
        elif err.validator == "const":
            problems.append(f"{at}: expected {err.validator_value!r}, got {_shown(err.instance)}")
        elif err.validator == "type":
            problems.append(f"{at}: expected {err.validator_value}, got {type(err.instance).__name__}")
        elif err.validator == "enum":
            problems.append(f"{at}: expected one of {', '.join(map(str, err.validator_value))}, got "
                            f"{_shown(err.instance)}")
        else:
            problems.append(f"{at}: {_shown(err.instance)} does not match {err.validator} "
                            f"{_shown(err.validator_value)}")
    return list(dict.fromkeys(problems))  # one "required" error per missing field, each naming them all


def from_dict(d: Any, where: str = "protocol") -> Protocol:
    """Build a protocol from its JSON data, strictly: a missing or mistyped field is a ProtocolError with its path."""
    if not isinstance(d, dict):
        raise ProtocolError(f"{where}: expected a JSON object")
    if d.get("format") != FORMAT:
        raise ProtocolError(f"{where}.format: expected {FORMAT!r}, got {d.get('format')!r}")
    s = {k: _req(d, k, str, where) for k in ("document_id", "version", "title", "objective", "created", "author",
                                              "tool_version", "checks_fingerprint", "inventory", "inventory_sha256",
                                              "selection")}
    tests = []
    for w, t in _objects(d, "tests", where):
        tests.append(ProtocolTest(
            **{k: _req(t, k, str, w) for k in ("id", "check", "title", "target", "target_type", "severity", "area",
                                               "criterion", "expected")},
            clauses=_strs(t, "clauses", w), needs_root=_req(t, "needs_root", bool, w),
            thresholds=tuple(Threshold(_req(x, "name", str, xw), x.get("value"), x.get("default"),
                                       _req(x, "source", str, xw)) for xw, x in _objects(t, "thresholds", w)),
            method=tuple(MethodStep(_req(m, "fact", str, mw), _req(m, "description", str, mw), _req(m, "how", str, mw),
                                    _req(m, "needs_root", bool, mw)) for mw, m in _objects(t, "method", w))))
    return Protocol(
        **s, frameworks=_strs(d, "frameworks", where),
        systems=tuple(SystemScope(_req(x, "name", str, w), _req(x, "type", str, w), _strs(x, "groups", w),
                                  _strs(x, "tags", w), _req(x, "connection", str, w), _req(x, "tests", int, w))
                      for w, x in _objects(d, "systems", where)),
        clauses=tuple(ClauseScope(_req(x, "ref", str, w), _req(x, "title", str, w), _req(x, "summary", str, w),
                                  _req(x, "automatable", str, w), _strs(x, "tests", w), _req(x, "manual", str, w))
                      for w, x in _objects(d, "clauses", where)),
        out_of_scope=tuple(OutOfScope(_req(x, "item", str, w), _req(x, "reason", str, w))
                           for w, x in _objects(d, "out_of_scope", where)),
        prerequisites=tuple(Prerequisite(*(_req(x, k, str, w) for k in ("target", "target_type", "kind", "detail")))
                            for w, x in _objects(d, "prerequisites", where)),
        tests=tuple(tests))


def load_protocol(path: str) -> tuple[Protocol, str]:
    """Read a protocol file: the protocol and its SHA-256 (of its canonical form). ProtocolError when the file
    is unreadable, too large, not JSON, not a protocol, or structurally invalid (see :func:`validate_protocol`)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_PROTOCOL_BYTES + 1)
    except OSError as exc:
        raise ProtocolError(f"{path}: cannot read the protocol: {exc.strerror or exc}") from None
    if len(data) > MAX_PROTOCOL_BYTES:
        raise ProtocolError(f"{path}: larger than {MAX_PROTOCOL_BYTES} bytes; not a protocol")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ProtocolError(f"{path}: duplicate key {next(k for k in keys if keys.count(k) > 1)!r}")
        return dict(pairs)

    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"{path}: not a JSON protocol: {exc}") from None
    if isinstance(doc, dict) and doc.get("format") != FORMAT:  # another kind or version of document: say only that
        raise ProtocolError(f"{path}: protocol.format: expected {FORMAT!r}, got {_shown(doc.get('format'))}")
    problems = schema_problems(doc)
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ProtocolError(f"{path}: not a protocol (scanner/schemas/protocol.schema.json): "
                            + "; ".join(problems[:5]) + more)
    try:
        protocol = from_dict(doc)
    except ProtocolError as exc:
        raise ProtocolError(f"{path}: {exc}") from None
    problems = validate_protocol(protocol)
    if problems:
        raise ProtocolError(f"{path}: not a consistent protocol: " + "; ".join(problems[:5]))
    return protocol, sha256(protocol)


# --- structural validation and reconciliation -------------------------------------------------------------------

def validate_protocol(protocol: Protocol) -> list[str]:
    """What makes a protocol incomplete or inconsistent (empty when it is sound): duplicate or non-derived test
    ids, a clause in scope with neither a test nor a manual entry, a clause in scope naming an unknown test, a
    test tracing to a clause of an in-scope framework that the scope does not list."""
    problems = []
    ids = [t.id for t in protocol.tests]
    seen: set[str] = set()
    for t in protocol.tests:
        if t.id in seen:
            problems.append(f"test id {t.id} appears twice")
        seen.add(t.id)
        if t.id != test_id(t.check, t.target):
            problems.append(f"test id {t.id} is not the id of {t.check} on {t.target} ({test_id(t.check, t.target)})")
    known = set(ids)
    listed = {c.ref for c in protocol.clauses}
    for c in protocol.clauses:
        if not c.tests and not c.manual.strip():
            problems.append(f"clause {c.ref} is in scope with neither a test nor a manual entry")
        for tid in c.tests:
            if tid not in known:
                problems.append(f"clause {c.ref} names test {tid}, which the protocol does not contain")
    for t in protocol.tests:
        for ref in t.clauses:
            if ref.split(":", 1)[0] in protocol.frameworks and ref not in listed:
                problems.append(f"test {t.id} traces to {ref}, which the scope does not list")
    return problems


@dataclass(frozen=True)
class Reconciliation:
    """A run against its protocol: which protocol tests ran, which were left out, which ran unplanned."""

    executed: tuple[str, ...]  # protocol test ids the run executed
    omitted: tuple[ProtocolTest, ...]  # protocol tests the run did not execute
    unplanned: tuple[tuple[str, str, str], ...]  # (test id, check, target) executed but not in the protocol


def reconcile(protocol: Protocol, results: Iterable[Result]) -> Reconciliation:
    ran: dict[tuple[str, str], None] = {}
    for r in results:
        ran.setdefault((r.check, r.target), None)
    planned = {(t.check, t.target): t for t in protocol.tests}
    return Reconciliation(
        executed=tuple(t.id for key, t in planned.items() if key in ran),
        omitted=tuple(t for key, t in planned.items() if key not in ran),
        unplanned=tuple((test_id(c, tg), c, tg) for (c, tg) in ran if (c, tg) not in planned))


def check_record(protocol: Protocol, executed_ids: Iterable[str], deviation_ids: Iterable[str]) -> list[str]:
    """Structural validation of an execution record: every protocol test id appears among the executed tests or
    in the deviation log. Returns the protocol test ids that appear in neither (as messages)."""
    shown = set(executed_ids) | set(deviation_ids)
    return [f"protocol test {t.id} is neither in the executed tests nor in the deviation log"
            for t in protocol.tests if t.id not in shown]


def worst(statuses: Iterable[Status]) -> Status:
    """A test's outcome from its findings: fail, else error, else manual, else waived, else pass, else n/a."""
    found = set(statuses)
    for s in (Status.FAIL, Status.ERROR, Status.MANUAL, Status.WAIVED, Status.PASS):
        if s in found:
            return s
    return Status.NOT_APPLICABLE
