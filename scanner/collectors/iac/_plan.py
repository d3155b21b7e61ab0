"""Terraform plan JSON (``terraform show -json plan.out``, format_version 1.x) as Terraform-shaped blocks. The
document is what ``json.loads`` makes: its objects are ``dict`` (tested as such, without an ABC check each).

Values come from ``planned_values`` (root module and child modules, recursively); a value that
``resource_changes[].change.after_unknown`` marks is ``Unknown`` ("known only after apply"). The references of
``configuration`` expressions (``"references": ["aws_s3_bucket.audit.id", ...]``) join split resources whose
target value is unknown at plan time. The plan holds no source lines: ``locate`` maps addresses to the HCL files
when the Terraform directory is next to the plan, else the plan file itself is the location, without lines.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import field
from typing import Any

from scanner.collectors.iac._values import MAX_DEPTH, Block, Unknown
from scanner.model import Location
from scanner.value import mutable

AFTER_APPLY = "known only after apply"


def json_document(text: str) -> Any:
    """The JSON document in ``text``, or None when it is not JSON (or nested past the interpreter's limit)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def is_plan(doc: Any) -> bool:
    return isinstance(doc, dict) and "format_version" in doc and (
        "planned_values" in doc or "resource_changes" in doc)


def _with_unknown(value: Any, unknown: Any, depth: int = 0) -> Any:
    if unknown is True or depth > MAX_DEPTH:
        return Unknown(AFTER_APPLY if unknown is True else f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(unknown, dict):
        base = dict(value) if isinstance(value, dict) else {}
        for k, u in unknown.items():
            if u is not False:
                base[k] = _with_unknown(base.get(k), u, depth + 1)
        return base
    if isinstance(unknown, list):
        items = list(value) if isinstance(value, list) else []
        items += [None] * (len(unknown) - len(items))
        return [_with_unknown(v, u, depth + 1) for v, u in zip(items, unknown, strict=True)]
    return value


def _modules(module: Mapping[str, Any], depth: int = 0) -> Iterator[Mapping[str, Any]]:
    if depth > MAX_DEPTH:
        return
    yield module
    for child in module.get("child_modules") or []:
        if isinstance(child, dict):
            yield from _modules(child, depth + 1)


@mutable
class Configured:
    """What the configuration says of one resource: the attributes it sets, and what they refer to."""

    expressions: Mapping[str, Any] = field(default_factory=dict)
    refs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()


def _configured_unknown(unknown: Any, expressions: Any, depth: int = 0) -> Any:
    """The parts of ``after_unknown`` that the configuration sets (an expression there); the rest is computed
    by the provider for attributes the code leaves alone, and dropped."""
    if depth > MAX_DEPTH or (isinstance(expressions, dict) and (
            "references" in expressions or "constant_value" in expressions)):
        return unknown
    if isinstance(unknown, dict) and isinstance(expressions, dict):
        return {k: _configured_unknown(v, expressions[k], depth + 1) for k, v in unknown.items() if k in expressions}
    if isinstance(unknown, list) and isinstance(expressions, list) and expressions:
        return [_configured_unknown(u, expressions[min(i, len(expressions) - 1)], depth + 1)
                for i, u in enumerate(unknown)]
    return unknown if unknown is True and expressions else False


def _configuration(config: Mapping[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Configured]:
    """resource address (without index) -> its configured attributes and their references."""
    out: dict[str, Configured] = {}
    if depth > MAX_DEPTH:
        return out
    for r in config.get("resources") or []:
        if not isinstance(r, dict):
            continue
        expressions = r.get("expressions") or {}
        mine = Configured(expressions if isinstance(expressions, dict) else {})
        for attr, expr in mine.expressions.items():
            names = expr.get("references") if isinstance(expr, dict) else None
            if names:
                mine.refs[attr] = tuple(dict.fromkeys(prefix + _resource_of(str(n)) for n in names))
        waits = r.get("depends_on")
        mine.depends_on = tuple(prefix + str(d) for d in waits if isinstance(d, str)) if isinstance(waits, list) \
            else ()
        out[prefix + str(r.get("address"))] = mine
    for name, call in (config.get("module_calls") or {}).items():
        if isinstance(call, dict) and isinstance(call.get("module"), dict):
            out.update(_configuration(call["module"], f"{prefix}module.{name}.", depth + 1))
    return out


def _resource_of(reference: str) -> str:
    """``aws_s3_bucket.b.id`` -> ``aws_s3_bucket.b`` (``module.m.x`` and ``var.x`` kept as written)."""
    parts = reference.split(".")
    return ".".join(parts[:2]) if parts[0] not in ("module", "var", "local", "data") else reference


def _before(change: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the resource already is before this apply: ``change.before`` of a resource the plan keeps or updates in
    place (not one it creates or replaces)."""
    if change is None or list(change.get("actions") or ()) not in (["no-op"], ["update"]):
        return None
    before = change.get("before")
    return dict(before) if isinstance(before, dict) else None


def region_of(plan: Mapping[str, Any], default: str) -> str:
    expr = (((plan.get("configuration") or {}).get("provider_config") or {}).get("aws") or {}).get("expressions")
    value = ((expr or {}).get("region") or {}).get("constant_value") if isinstance(expr, dict) else None
    return value if isinstance(value, str) else default


def blocks(plan: Mapping[str, Any], rel: str, region: str) -> list[Block]:
    changes = {c.get("address"): c.get("change") for c in plan.get("resource_changes") or []
               if isinstance(c, dict) and isinstance(c.get("change"), dict)}
    unknown = {a: c.get("after_unknown") for a, c in changes.items() if c is not None}
    configured = _configuration((plan.get("configuration") or {}).get("root_module") or {})
    region = region_of(plan, region)
    out = []
    where = Location(rel)  # one for every resource of the plan (it holds no lines)
    root = (plan.get("planned_values") or {}).get("root_module") or {}
    for module in _modules(root):
        for r in module.get("resources") or []:
            if not isinstance(r, dict) or r.get("mode") != "managed":
                continue
            address = str(r.get("address"))
            config = configured.get(address.split("[", 1)[0]) or Configured()
            # an attribute the code does not set and the provider computes (the deprecated inline S3 settings,
            # ids, ARNs) is left to AWS: its default applies, as for HCL
            # (most resources have nothing unknown: no walk of their values then)
            marked = unknown.get(address)
            after_unknown = _configured_unknown(marked, config.expressions) if marked else {}
            values = r.get("values") or {}
            if not (type(after_unknown) is dict and not after_unknown):
                values = _with_unknown(values, after_unknown)
            values = {k: v for k, v in values.items() if v is not None} if isinstance(values, dict) else {}
            out.append(Block(str(r.get("type")), address, values, where, refs=config.refs, region=region,
                             depends_on=config.depends_on, before=_before(changes.get(address))))
    return out
