"""Infrastructure as code as AWS facts: the same ``aws.*`` facts, of the same types, as the live collector.

Inputs (one ``type: iac`` target may mix them): Terraform HCL directories (``_hcl``), Terraform plan JSON
(``_plan``), CloudFormation YAML and JSON (``_cfn``). Each becomes Terraform-shaped blocks with unknown values
marked; ``_build`` joins split resources the way AWS applies them and makes the ``AwsResources`` values. The
``aws.*`` checks then judge code exactly as they judge an account: same ids, clauses, thresholds and waivers.

The fact contract for code:

- **The resource of a finding is the resource's address.** Every item's ``arn`` (and ``id`` where the type has one)
  holds it: ``module.logs.aws_s3_bucket.audit`` (Terraform; prefixed ``DIR:`` when a target holds several
  Terraform root directories) or ``stacks/audit.yaml#AuditBucket`` (CloudFormation: file and logical id).
  References to a resource's ARN resolve to its address, and a bucket's own ARN written out in its policy is
  rewritten to its address, so the policy checks compare like with like.
- **Account-wide settings** (account public access block, password policy, EBS encryption by default, Config
  recorders, Access Analyzer) are judged as the code would leave a fresh account: absent from the code means not
  set (as AWS leaves it). When nothing in the code sets them, their findings name the resources the live scan
  names (the account root ARN, ``arn:aws:ec2:REGION:ACCOUNT:ebs-encryption-by-default``, ...) with the target's
  ``account`` (default ``000000000000``) and region (default: the Terraform provider's, else ``us-east-1``).
- **Unknown values fail closed.** A value that cannot be known from the code (a variable without value, a data
  source, a value computed at apply) is recorded on the item's ``errors`` (field -> why), so the checks report
  ``error`` for that resource by themselves; for item types without ``errors`` (security groups, volumes, RDS,
  log groups, ...) the reason goes into ``ResourceNotes.unresolved`` and the runner turns that resource's pass
  or fail into ``error``. A file that does not parse makes the resources still recognisable in it ``error``
  (with file and line) and is a run warning; the other files are judged.
- **Runtime state** (``aws.iam_credential_report``: MFA devices, key age, last use; ``aws.account_summary``: root
  MFA and keys) is ``Fact.not_applicable`` with "runtime state, verified by the live scan", so those checks are
  ``not_applicable`` and the coverage gap shows.
- **Which input wins**: a directory holding both Terraform files and a plan JSON is judged from the plan (the HCL
  gives the plan's lines and inline waivers); Terraform JSON syntax (``*.tf.json``) is not read (a run warning).
- **Where**: ``iac.resource_notes`` (a ``scanner.model.ResourceNotes``) maps each resource to its
  ``Location(path relative to root, first line, last line)``; the runner puts it on every finding about that
  resource. Plan JSON carries no lines: with the Terraform directory next to the plan, the plan's resources get
  the HCL lines; otherwise their location is the plan file, without lines. Inline waivers (``_waivers``) travel
  in the same value.
"""
from __future__ import annotations

import gc
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

from scanner.collectors import SYSTEM_FACTS, FactSpec
from scanner.collectors.iac import _build, _hcl
from scanner.collectors.iac._order import hcl_depends_on
from scanner.collectors.iac._values import Block
from scanner.collectors.iac._waivers import to_waivers
from scanner.connectors.iac import FileRefused, IacConnector
from scanner.facts.aws import FACTS as AWS_FACTS
from scanner.model import Evidence, Fact, Location, Platform, ResourceNotes, Target, thaw
from scanner.value import mutable

NOTES = "iac.resource_notes"
SYSTEM = "iac.system"
RUNTIME = "runtime state, verified by the live scan"
#: AWS facts that only a running account has.
RUNTIME_FACTS = ("aws.iam_credential_report", "aws.account_summary")
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"


FACTS: dict[str, FactSpec] = {
    **{name: FactSpec(name, about) for name, about in AWS_FACTS.items() if name != SYSTEM_FACTS[Platform.AWS]},
    NOTES: FactSpec(NOTES, "file and line of each resource in the code, unresolved values, inline waivers"),
    SYSTEM: FactSpec(SYSTEM, "the code scanned: repository root and files"),
}


@mutable
class Scan:
    blocks: list[Block]
    problems: list[tuple[str, int | None, str]]
    files: list[str]


def _looks_like_cfn(text: str) -> bool:
    return "AWSTemplateFormatVersion" in text or "AWS::" in text


def _terraform_dirs(conn: IacConnector, files: list[Path], ctx: _hcl.Problems) -> list[Path]:
    """Directories with .tf files that no other scanned directory calls as a local module: the root modules."""
    dirs = sorted({f.parent for f in files if f.suffix == ".tf"})
    called: set[Path] = set()
    for d in dirs:
        module = _hcl.load_module(conn, d, ctx)
        for call in module.calls.values():
            source = call.args.get("source")
            src = _hcl.Eval(_hcl.Scope(module, "", {})).value(source) if source is not None else None
            if isinstance(src, str) and src.startswith(("./", "../")):
                called.add(Path(*(d / src).parts).resolve())
    return [d for d in dirs if d.resolve() not in called]


def scan_code(conn: IacConnector, region: str, account: str, partition: str) -> Scan:
    found: list[Path] = []
    listed: set[Path] = set()  # a file under two of the paths once (a set: not a scan of the list each file)
    for base in conn.code.paths:
        for f in conn.files(base):
            if f not in listed:
                listed.add(f)
                found.append(f)
    problems = _hcl.Problems()
    blocks: list[Block] = []
    roots = _terraform_dirs(conn, found, problems)
    plans: list[tuple[Path, Any]] = []
    for path in found:
        if path.suffix in (".tf", ".tfvars"):
            continue
        from scanner.collectors.iac import _cfn, _plan  # CloudFormation and plans: imported when such a file is met

        rel = conn.rel(path)
        if path.name.endswith(".tf.json"):
            problems.items.append((rel, None, "Terraform JSON syntax (.tf.json) is not read: its resources are not "
                                              "judged"))
            continue
        try:
            data = conn.read(path)
            text = data.decode("utf-8")
        except (FileRefused, UnicodeDecodeError) as exc:
            # what can still be seen of the file names the resources it holds, each an error with the reason
            seen = (_head(conn, path) if isinstance(exc, FileRefused) else data).decode("utf-8", "replace")
            line = data[:exc.start].count(b"\n") + 1 if isinstance(exc, UnicodeDecodeError) else None
            why = str(exc) if isinstance(exc, FileRefused) else f"not UTF-8 (byte {exc.start})"
            if _looks_like_cfn(seen) or isinstance(exc, FileRefused):
                problems.items.append((rel, line, why))
                blocks += _cfn.broken_blocks(seen, rel, f"{rel}{f' line {line}' if line else ''}: {why}")
            continue
        if path.suffix == ".json":
            doc = _plan.json_document(text)
            if _plan.is_plan(doc):
                plans.append((path, doc))
                continue
            if doc is not None and not _cfn.is_template(doc):
                continue
        try:
            template = _cfn.load(text)
        except _cfn.CfnError as exc:
            if _looks_like_cfn(text):
                problems.items.append((rel, exc.line, str(exc)))
                where = f"{rel} line {exc.line}" if exc.line else rel
                blocks += _cfn.broken_blocks(text, rel, f"{where}: {exc}")
            continue
        if _cfn.is_template(template.data):
            blocks += _cfn.blocks(template, rel, region, account, partition)
            problems.items += _cfn.unexpanded(template, rel)
    several = len(roots) > 1
    hcl_by_dir: dict[Path, list[Block]] = {}
    for d in roots:
        prefix = f"{conn.rel(d)}:" if several else ""
        hcl_by_dir[d] = _hcl.terraform_blocks(conn, d, conn.code.tfvars, prefix, region, problems)
        hcl_depends_on(conn, hcl_by_dir[d])
        if not any(p.parent == d for p, _ in plans):
            blocks += hcl_by_dir[d]
    for path, doc in plans:
        from scanner.collectors.iac import _plan

        planned = _plan.blocks(doc, conn.rel(path), region)
        if path.parent not in hcl_by_dir and any(path.parent.glob("*.tf")):  # the code of the plan: its lines
            hcl_by_dir[path.parent] = _hcl.terraform_blocks(conn, path.parent, conn.code.tfvars, "", region,
                                                            _hcl.Problems())
        beside = {b.address.split("[", 1)[0]: b for b in hcl_by_dir.get(path.parent, [])}
        if not beside:
            problems.items.append((conn.rel(path), None, "no Terraform files next to the plan: its findings carry "
                                                         "the plan file without lines"))
        for b in planned:
            source = beside.get(b.address.split("[", 1)[0])
            if source is not None:
                b.location, b.waivers = source.location, list(source.waivers)
        blocks += planned
    problems.items += [(path, None, why) for path, why in conn.refused]
    return Scan(blocks, problems.items, [_rel(conn, f) for f in found])


def _rel(conn: IacConnector, path: Path) -> str:
    """``conn.rel(path)``, taken from the parsed file when there is one (worked out once a file)."""
    parsed = conn.memo.get(("hcl", path))
    return parsed.rel if isinstance(parsed, _hcl.HclFile) else conn.rel(path)


def _head(conn: IacConnector, path: Path) -> bytes:
    """The first ``max_file_bytes`` of a file too large to read whole (nothing when it cannot be read at all)."""
    try:
        return conn.read(path, head=True)
    except FileRefused:
        return b""


def _notes(scan: Scan, built: _build.Built, target: Target) -> ResourceNotes:
    locations: dict[str, Location] = {}
    for b in scan.blocks:
        locations.setdefault(b.address, b.location)
    waivers, warnings = to_waivers(_unique(scan.blocks), target.name, bool(target.opt("inline_waiver_globs")))
    warnings += [f"{path}{f' line {line}' if line else ''}: {why}" for path, line, why in scan.problems]
    return ResourceNotes(MappingProxyType(locations), MappingProxyType(dict(built.unresolved)), tuple(waivers),
                         tuple(warnings))


def _unique(blocks: Iterable[Block]) -> list[Block]:
    """One block per address (CloudFormation buckets become several blocks carrying the same waivers)."""
    seen: dict[str, Block] = {}
    for b in blocks:
        seen.setdefault(b.address, b)
    return list(seen.values())


def _system(conn: IacConnector, scan: Scan) -> Any:
    from scanner.facts.system import SystemUnderTest

    head = ""
    git = conn.root / ".git" / "HEAD"
    try:
        ref = git.read_text(errors="replace")[:200].strip() if git.is_file() else ""
        if ref.startswith("ref: "):
            ref_file = conn.root / ".git" / ref[5:]
            head = ref_file.read_text(errors="replace")[:64].strip() if ref_file.is_file() else ref[5:]
        else:
            head = ref
    except OSError:
        head = ""
    return SystemUnderTest.of(platform="iac", hostname=conn.root.name, os="infrastructure as code",
                              os_version=head or "(not a git checkout)", files=str(len(scan.files)))


def _plain(value: Any) -> Any:
    """One level of ``thaw`` for ``json.dumps(default=...)``: the encoder walks the rest itself, so a frozen
    value is written without first being copied whole (the text is the same as ``json.dumps(thaw(value))``).
    The commonest kinds (read-only mappings, fact dataclasses) are told by their exact type: no ABC check.
    The encoder sorts every mapping's keys (``to_json``), so the order of what is given here does not matter: a
    dataclass instance whose ``__dict__`` holds exactly its fields is given that dict itself (the encoder only
    reads it), and a read-only mapping with text keys its plain copy, both made in C."""
    kind = type(value)
    if kind is MappingProxyType:
        plain = value.copy()
        return plain if set(map(type, plain)) <= _TEXT else {str(k): v for k, v in plain.items()}
    fields = getattr(kind, "__dataclass_fields__", None)
    if fields is not None:  # an instance of a dataclass (not the class itself; none of them is a Mapping)
        own = getattr(value, "__dict__", None)
        if own is not None and own.keys() == fields.keys():
            return own
        return {k: getattr(value, k) for k in fields}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    plain = thaw(value)  # sets (sorted), enums, datetimes, bytes
    return str(plain) if plain is value else plain


#: the key type a mapping's copy keeps as it is in ``_plain`` (any other key is written as its ``str``)
_TEXT = frozenset({str})


def to_json(value: Any) -> str:
    """``value`` (frozen fact data) as sorted JSON text, for evidence. Fact data is a tree of immutable values, so
    the encoder keeps no table of the containers it is inside (``check_circular``: an insert and a delete each)."""
    return json.dumps(value, default=_plain, sort_keys=True, check_circular=False)


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while code is read and made into facts (then as it was).

    Reading a plan JSON of 10,000 resources makes millions of objects at once, none of them garbage in a cycle
    (reference counting frees what is dropped); each full collection the allocation triggers walks them all, which
    was half the CPU of such a scan. What the pause defers is only cyclic garbage of this one collection, collected
    when it ends."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def collect(connector: IacConnector, target: Target, names: Iterable[str]) -> dict[str, Fact]:
    """The facts of a code target. The parsed files (``connector.memo``) are released once the facts are made:
    nothing reads them after, and the cyclic collector does not have to walk every tree node when it resumes."""
    with cycle_collection_paused():
        try:
            return _collect(connector, target, names)
        finally:
            connector.memo.clear()


def _collect(connector: IacConnector, target: Target, names: Iterable[str]) -> dict[str, Fact]:
    names = sorted(set(names))
    region = str(target.opt("region") or DEFAULT_REGION)
    account = str(target.opt("account") or DEFAULT_ACCOUNT)
    partition = str(target.opt("partition") or "aws")
    scan = scan_code(connector, region, account, partition)
    if not target.opt("region"):  # the code's own region (Terraform provider block) for account-wide settings
        regions = Counter(b.region for b in scan.blocks if b.region and b.region != region)
        region = regions.most_common(1)[0][0] if regions else region
    built = _build.build(scan.blocks, _build.Where(account, region, partition))
    source = f"infrastructure as code under {connector.root}: {len(scan.files)} file(s)"
    listing = "\n".join(scan.files[:1000])
    out: dict[str, Fact] = {}
    for name in names:
        if name in RUNTIME_FACTS:
            out[name] = Fact.not_applicable(name, RUNTIME, (Evidence.of(source, listing),))
        elif name == NOTES:
            notes = _notes(scan, built, target)
            out[name] = Fact(name, notes, (Evidence.of(source, to_json(notes)),))
        elif name == SYSTEM:
            out[name] = Fact(name, _system(connector, scan), (Evidence.of(source, listing),))
        elif name in built.facts:
            value = built.facts[name]
            out[name] = Fact(name, value, (Evidence.of(source, to_json(value)),))
        else:
            out[name] = Fact.failed(name, f"{name} is not produced from code")
    return out
