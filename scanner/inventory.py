"""Inventories: YAML or JSON, validated by a JSON Schema before any connection is made."""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from scanner import packaged
from scanner.model import Platform, Target, Waiver, freeze
from scanner.value import frozen

#: Keys that would hold a secret in clear text. Secrets are referenced by *_env / *_file instead.
_SECRET_KEY = re.compile(r"(^|_)(password|passwd|passphrase|secret|secret_access_key|token|api_key|private_key)$",
                         re.IGNORECASE)


class InventoryError(Exception):
    """The inventory is unusable. ``problems`` lists each fault with its path."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


@frozen
class Inventory:
    source: str
    sha256: str
    targets: tuple[Target, ...]
    waivers: tuple[Waiver, ...]
    document: Mapping[str, Any]

    def select(self, limit: Iterable[str] = (), tags: Iterable[str] = ()) -> tuple[Target, ...]:
        """Targets in any of the named groups (or named themselves) and carrying all of the tags."""
        limit, tags = set(limit), set(tags)
        return tuple(
            t for t in self.targets
            if (not limit or t.name in limit or limit & set(t.groups)) and tags <= set(t.tags)
        )


def schema(name: str = "inventory") -> dict[str, Any]:
    text = packaged.files("scanner").joinpath("schemas").joinpath(f"{name}.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def local_document() -> dict[str, Any]:
    """The embedded default: this machine, scanned locally."""
    return {"version": 1, "targets": [{"name": os.uname().nodename or "localhost", "type": "linux",
                                       "connection": "local"}]}


def json_path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _literal_secrets(node: Any, path: list[Any]) -> list[str]:
    found = []
    if isinstance(node, Mapping):
        for key, value in node.items():
            if isinstance(key, str) and _SECRET_KEY.search(key):
                found.append(
                    f"{json_path([*path, key])}: literal secrets are not accepted in an inventory; put the value in an "
                    f"environment variable and name it with '{key}_env' (or point to a file with '{key}_file')")
            else:
                found.extend(_literal_secrets(value, [*path, key]))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_literal_secrets(value, [*path, i]))
    return found


def _schema_problems(doc: Any) -> list[str]:
    """The schema's faults of ``doc``; a document validated without fault before is not validated again
    (scanner/schemacache.py)."""
    from scanner import schemacache

    return schemacache.problems(doc, schema(), _validate, __file__)


def _validate(doc: Any) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())
    problems = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        leaves = [err]
        if err.context:  # oneOf/anyOf: report the most specific branch
            leaves = [max(err.context, key=lambda e: len(e.absolute_path))]
        for leaf in leaves:
            problems.append(f"{json_path(leaf.absolute_path)}: {leaf.message}")
    return problems


#: Target types this version scans (the schema's enum, the CLI's platform names).
SUPPORTED_TYPES = ("linux", "windows", "aws", "ldap", "iac")


def _semantic_problems(doc: Mapping[str, Any]) -> list[str]:
    problems = []
    groups = doc.get("groups") or {}
    seen: dict[str, int] = {}
    for i, t in enumerate(doc.get("targets") or []):
        if t["name"] in seen:
            first = seen[t["name"]]
            problems.append(f"targets[{i}].name: duplicate target name {t['name']!r} (first at targets[{first}])")
        seen.setdefault(t["name"], i)
        for j, g in enumerate(t.get("groups") or []):
            if g not in groups:
                problems.append(f"targets[{i}].groups[{j}]: unknown group {g!r}; define it under 'groups'")
        zones = {groups[g]["zone"]: g for g in t.get("groups") or [] if g in groups and "zone" in groups[g]}
        if len(zones) > 1 and "zone" not in t:
            problems.append(f"targets[{i}].zone: its groups put it in zones {', '.join(sorted(zones))}; "
                            "name its zone on the target")
    for i, w in enumerate(doc.get("waivers") or []):
        if w["target"] not in seen and w["target"] != "*":
            problems.append(f"waivers[{i}].target: unknown target {w['target']!r}")
    return problems + _iac_problems(doc) + _windows_problems(doc)


def _windows_problems(doc: Mapping[str, Any]) -> list[str]:
    """WinRM option combinations the connector refuses (plain HTTP, Basic over HTTP, ...), named before any
    connection by the connector's own rules."""
    windows = [(i, t) for i, t in enumerate(doc.get("targets") or []) if t.get("type") == "windows"]
    if not windows:
        return []  # the WinRM connector is imported only for an inventory with Windows targets
    from scanner.connectors.winrm import WinRMConfigError, endpoint

    problems = []
    for i, t in windows:
        try:
            endpoint(t["name"], t)
        except WinRMConfigError as exc:
            problems.append(f"targets[{i}].{exc.key}: {exc}")
    return problems


def _iac_problems(doc: Mapping[str, Any]) -> list[str]:
    """Paths of code targets that are missing or outside their root, named before anything runs."""
    from scanner.connectors.iac import IacPathError, code_paths

    problems = []
    for i, t in enumerate(doc.get("targets") or []):
        if t.get("type") == "iac":
            try:
                code_paths(t)
            except IacPathError as exc:
                problems.append(f"targets[{i}].{exc.key}: {exc}")
    return problems


def parse(text: str, source: str) -> Any:
    """Parse inventory text with the strict loader (no aliases, no duplicate keys); faults name line and path."""
    from scanner.yamlload import YamlError, load_json_or_yaml

    try:  # a JSON inventory (as tools write them) is read without importing a YAML parser
        return load_json_or_yaml(text) if text.strip() else None
    except YamlError as exc:
        where = f" at line {exc.line}, column {exc.column}" if exc.line is not None else ""
        path = f" ({exc.path})" if exc.path else ""
        raise InventoryError(source, [f"not valid YAML/JSON{where}{path}: {exc.problem}"]) from None


def load_inventory(src: str | Path | Mapping[str, Any] | None = None, *,
                   extra: Mapping[str, Any] | None = None,
                   policy_names: Iterable[str] | None = None) -> Inventory:
    """Read, validate and resolve an inventory. Raises InventoryError listing every fault with its path.

    ``extra`` merges more groups and targets (e.g. from an Ansible inventory) before validation.
    ``policy_names`` are the thresholds the loaded checks understand; a policy name that is neither one of
    them nor declared in the schema is a fault (a typo must not silently fall back to a default).
    """
    if src is None:
        source, raw, doc = "<embedded: this machine>", b"", local_document()
    elif isinstance(src, Mapping):
        source, raw, doc = "<inventory>", b"", dict(src)
    else:
        source = str(src)
        from scanner.yamlload import MAX_BYTES

        try:
            with open(src, "rb") as fh:
                raw = fh.read(MAX_BYTES + 1)
        except OSError as exc:
            raise InventoryError(source, [f"cannot read: {exc.strerror}"]) from None
        if len(raw) > MAX_BYTES:
            raise InventoryError(source, [f"larger than {MAX_BYTES // (1024 * 1024)} MiB; not read"])
        doc = parse(raw.decode("utf-8", "replace"), source)
    if extra:
        doc = dict(doc or {"version": 1})
        doc.setdefault("version", 1)
        doc["groups"] = {**(doc.get("groups") or {}), **(extra.get("groups") or {})}
        doc["targets"] = [*(doc.get("targets") or []), *(extra.get("targets") or [])]
    if not raw:
        raw = json.dumps(doc, sort_keys=True, default=str).encode()

    problems = _literal_secrets(doc, []) or _schema_problems(doc)
    if not problems:
        problems = _semantic_problems(doc)
    if not problems and policy_names is not None:
        problems = _policy_problems(doc, policy_names)
    if problems:
        raise InventoryError(source, problems)

    return Inventory(
        source=source,
        sha256=hashlib.sha256(raw).hexdigest(),
        targets=tuple(_resolve_target(doc, t) for t in doc["targets"]),
        waivers=tuple(Waiver(**{"resource": "*", **w}) for w in doc.get("waivers") or []),
        document=freeze(doc),
    )


def check_policy_names(inventory: Inventory, policy_names: Iterable[str]) -> None:
    """What ``load_inventory(policy_names=...)`` checks, for a caller that loads the checks after the inventory
    (``scan`` loads only the check plugins its targets need): raises InventoryError for an unknown policy name."""
    problems = _policy_problems(inventory.document, policy_names)
    if problems:
        raise InventoryError(inventory.source, problems)


def _policy_problems(doc: Mapping[str, Any], policy_names: Iterable[str]) -> list[str]:
    declared = set(schema()["$defs"]["policy"]["properties"])  # includes names collectors read
    return _unknown_policy_names(doc, declared | set(policy_names))


def _unknown_policy_names(doc: Mapping[str, Any], known: set[str]) -> list[str]:
    places: list[tuple[str, Mapping[str, Any]]] = [("policy", doc.get("policy") or {})]
    places += [(f"groups.{g}.policy", v.get("policy") or {}) for g, v in (doc.get("groups") or {}).items()]
    places += [(f"targets[{i}].policy", t.get("policy") or {}) for i, t in enumerate(doc["targets"])]
    return [f"{where}.{key}: unknown policy name; known: {', '.join(sorted(known))}"
            for where, pol in places for key in pol if key not in known]


def _resolve_target(doc: Mapping[str, Any], t: Mapping[str, Any]) -> Target:
    """Policy precedence: inventory policy < each group's policy (in the order listed) < the target's own."""
    groups = doc.get("groups") or {}
    policy: dict[str, Any] = dict(doc.get("policy") or {})
    context: dict[str, Any] = {}
    tags = list(t.get("tags") or [])
    for g in t.get("groups") or []:
        policy.update(groups[g].get("policy") or {})
        context.update(groups[g].get("gxp_context") or {})
        tags += [x for x in groups[g].get("tags") or [] if x not in tags]
    policy.update(t.get("policy") or {})
    context.update(t.get("gxp_context") or {})
    if "records_retention_days" in context:  # a retention check keeps logs at least as long as the records
        policy["records_retention_days"] = context["records_retention_days"]
    options = {k: v for k, v in t.items()
               if k not in ("name", "type", "groups", "tags", "policy", "description", "gxp_context")}
    zones = [groups[g]["zone"] for g in t.get("groups") or [] if "zone" in groups[g]]
    if zones and "zone" not in options:  # one zone (checked above), or the target names its own
        options["zone"] = zones[0]
    return Target(name=t["name"], type=Platform(t["type"]), options=freeze(options), policy=freeze(policy),
                  groups=tuple(t.get("groups") or ()), tags=tuple(tags), gxp_context=freeze(context))
