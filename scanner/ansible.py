"""Import an Ansible inventory (INI or YAML) as gxpscan inventory pieces.

``load_ansible_inventory(path)`` returns ``{"groups": {name: {...}}, "targets": [target, ...]}``: each
Ansible host becomes a ``type: linux`` target over ``connection: ssh`` (``local`` for
``ansible_connection=local``), in the groups it belongs to directly or through ``children``. Variables
follow Ansible's order: ``all`` < parent groups < child groups < the host's own.

Mapped variables: ``ansible_host``, ``ansible_port``, ``ansible_user``, ``ansible_ssh_private_key_file``,
``ansible_become`` (+ ``ansible_become_method: sudo``), and a ProxyJump in ``ansible_ssh_common_args``.
Literal passwords (``ansible_password``, ``ansible_become_password``...) are never copied: gxpscan takes
secrets only from named environment variables.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMPLICIT_GROUPS = ("all", "ungrouped")
SSH_CONNECTIONS = ("ssh", "paramiko", "smart")
TRUE_WORDS = ("true", "yes", "on", "1")
IPV6_HOST = re.compile(r"\[(?:[0-9A-Fa-f]*:){2,}[0-9A-Fa-f.]*\](?::\d+)?(?:\s|$)")
RANGE = re.compile(r"\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::(\d+))?\]")


@dataclass
class _Group:
    name: str
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> host vars set in this group
    vars: dict[str, Any] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)


@dataclass
class _Inventory:
    groups: dict[str, _Group] = field(default_factory=dict)

    hosts: set[str] = field(default_factory=set)

    def group(self, name: str) -> _Group:
        return self.groups.setdefault(name, _Group(name))

    def add_hosts(self, group: _Group, pattern: str, host_vars: dict[str, Any], where: str) -> None:
        """Add the hosts of one entry (range expanded, ``:port`` split off) with their variables; at most
        MAX_HOSTS distinct hosts in the whole inventory."""
        pattern, port = split_port(pattern, where)
        try:
            names = expand_hosts(pattern)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        self.hosts.update(names)
        if len(self.hosts) > MAX_HOSTS:
            raise ValueError(f"{where}: the inventory has more than {MAX_HOSTS} hosts (the limit per inventory)")
        for name in names:
            merged = group.hosts.setdefault(name, {})
            if port is not None:
                merged["ansible_port"] = port
            merged.update(host_vars)


#: Most hosts one Ansible inventory may expand to (host ranges included). A typo such as ``web[1:100000]``
#: or nested ranges must fail fast with this number in the message, not build a million targets.
MAX_HOSTS = 10_000


def _range_items(m: re.Match[str], pattern: str) -> list[str]:
    start, end, step_text = m.group(1), m.group(2), m.group(3)
    step = int(step_text) if step_text else 1
    if step < 1:
        raise ValueError(f"bad host range {m.group(0)!r} in {pattern!r}: the stride must be at least 1")
    if start.isdigit() and end.isdigit():
        first, last = int(start), int(end)
        if last < first:
            raise ValueError(f"bad host range {m.group(0)!r} in {pattern!r}: the end is before the start")
        if (last - first) // step + 1 > MAX_HOSTS:
            raise ValueError(f"host range {m.group(0)!r} in {pattern!r} expands to more than {MAX_HOSTS} hosts "
                             f"(the limit per inventory)")
        width = len(start) if start.startswith("0") else 0
        return [str(i).zfill(width) for i in range(first, last + 1, step)]
    if len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha() and start <= end:
        return [chr(c) for c in range(ord(start), ord(end) + 1, step)]
    raise ValueError(f"bad host range {m.group(0)!r} in {pattern!r}")


def expand_hosts(pattern: str, limit: int = MAX_HOSTS) -> list[str]:
    """``web[01:03].example`` -> web01, web02, web03 (numeric ranges keep their width; a:c letter ranges;
    ``[1:9:2]`` with a stride). More than ``limit`` hosts is a ValueError naming the limit."""
    ranges = list(RANGE.finditer(pattern))
    if not ranges:
        return [pattern]
    parts: list[list[str]] = []
    pos, total = 0, 1
    for m in ranges:
        items = _range_items(m, pattern)
        total *= len(items)
        if total > limit:
            raise ValueError(f"host pattern {pattern!r} expands to more than {limit} hosts (the limit per inventory)")
        parts += [[pattern[pos:m.start()]], items]
        pos = m.end()
    parts.append([pattern[pos:]])
    hosts = [""]
    for choices in parts:
        hosts = [h + c for h in hosts for c in choices]
    return hosts


def split_port(pattern: str, where: str) -> tuple[str, int | None]:
    """``host:2222`` -> ("host", 2222), as Ansible reads a host entry. The colons of ``[01:50]`` ranges are not
    ports; an unbracketed IPv6 address (several colons) has no port; ``[2001:db8::1]:2222`` has one."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)\](?::(\d+))?", pattern)
    if m:
        host, port_text = m.group(1), m.group(2)
    else:
        outside = RANGE.sub("", pattern)
        if outside.count(":") != 1:
            return pattern, None
        host, _, port_text = pattern.rpartition(":")
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{where}: bad port in host {pattern!r} (1-65535)")
    return host, int(port_text)


def _ini_value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _key_values(tokens: Iterable[str], where: str) -> dict[str, Any]:
    out = {}
    for token in tokens:
        key, eq, value = token.partition("=")
        if not eq or not key:
            raise ValueError(f"{where}: expected key=value, got {token!r}")
        out[key] = _ini_value(value)
    return out


def parse_ini(text: str, source: str = "<ini>") -> _Inventory:
    inv = _Inventory()
    section, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        where = f"{source}:{number}"
        if line.startswith("[") and not IPV6_HOST.match(line):
            if not line.endswith("]"):
                raise ValueError(f"{where}: unclosed section header {line!r}")
            section, _, kind = line[1:-1].partition(":")
            kind = kind or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise ValueError(f"{where}: unknown section kind {kind!r}")
            inv.group(section)
            continue
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        group = inv.group(section)
        if kind == "hosts":
            inv.add_hosts(group, tokens[0], _key_values(tokens[1:], where), where)
        elif kind == "vars":
            key, eq, value = line.partition("=")
            if not eq:
                raise ValueError(f"{where}: expected key=value in [{section}:vars]")
            group.vars[key.strip()] = _ini_value(value.strip().strip("'\""))
        else:
            group.children.append(tokens[0])
            inv.group(tokens[0])
    return inv


def _yaml_group(inv: _Inventory, name: str, body: Any, where: str) -> None:
    group = inv.group(str(name))
    if body is None:
        return
    if not isinstance(body, dict):
        raise ValueError(f"{where}: group {name!r} must be a mapping, got {type(body).__name__}")
    unknown = set(body) - {"hosts", "vars", "children"}
    if unknown:
        raise ValueError(f"{where}: group {name!r} has unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    for key in ("hosts", "vars", "children"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            raise ValueError(f"{where}: {key} of group {name!r} must be a mapping, got {type(body[key]).__name__}")
    for host, host_vars in (body.get("hosts") or {}).items():
        if host_vars is not None and not isinstance(host_vars, dict):
            raise ValueError(f"{where}: host {host!r} in {name!r}: variables must be a mapping")
        inv.add_hosts(group, str(host), dict(host_vars or {}), where)
    group.vars.update(body.get("vars") or {})
    for child, child_body in (body.get("children") or {}).items():
        group.children.append(str(child))
        _yaml_group(inv, child, child_body, where)


def parse_yaml(text: str, source: str = "<yaml>") -> _Inventory:
    from scanner.yamlload import YamlError, load_yaml

    try:
        doc = load_yaml(text)
    except YamlError as exc:
        raise ValueError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{source}: an Ansible YAML inventory is a mapping of groups")
    inv = _Inventory()
    for name, body in doc.items():
        _yaml_group(inv, name, body, source)
    return inv


def _ancestry(inv: _Inventory) -> dict[str, list[str]]:
    """group -> its ancestors, farthest first (``all`` always first)."""
    parents: dict[str, list[str]] = {}
    for g in inv.groups.values():
        for child in g.children:
            parents.setdefault(child, []).append(g.name)

    def walk(name: str, seen: tuple[str, ...]) -> list[str]:
        if name in seen:
            raise ValueError(f"group cycle: {' -> '.join([*seen, name])}")
        out: list[str] = []
        for p in parents.get(name, []):
            out += [a for a in [*walk(p, (*seen, name)), p] if a not in out]
        return out

    result = {}
    for name in inv.groups:
        chain = walk(name, ())
        result[name] = ["all"] + [a for a in chain if a != "all"] if name != "all" else []
    return result


def _host_view(inv: _Inventory) -> dict[str, tuple[list[str], dict[str, Any]]]:
    """host -> (its groups, farthest ancestor first; its variables merged in Ansible's precedence)."""
    ancestry = _ancestry(inv)
    hosts: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for g in inv.groups.values():
        for host in g.hosts:
            groups, _ = hosts.setdefault(host, ([], {}))
            for name in [*ancestry[g.name], g.name]:
                if name not in groups:
                    groups.append(name)
    depth = {name: len(chain) for name, chain in ancestry.items()}
    for host, (groups, merged) in hosts.items():
        for name in sorted(groups, key=lambda n: (depth.get(n, 0), n)):
            merged.update(inv.groups[name].vars if name in inv.groups else {})
        for name in sorted(groups, key=lambda n: (depth.get(n, 0), n)):
            merged.update(inv.groups[name].hosts.get(host, {}) if name in inv.groups else {})
    return hosts


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in TRUE_WORDS


def _proxy_jump(common_args: str) -> str | None:
    """The ProxyJump in ``-J host`` or ``-o ProxyJump=host`` of ansible_ssh_common_args."""
    tokens = shlex.split(common_args)
    for i, tok in enumerate(tokens):
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok.startswith("-J"):
            return tok[2:] or following or None
        if tok.startswith("-o"):
            key, _, value = (tok[2:] or following).partition("=")
            if key.strip().lower() == "proxyjump" and value.strip():
                return value.strip()
    return None


def _target(host: str, groups: list[str], hv: dict[str, Any]) -> dict[str, Any]:
    connection = str(hv.get("ansible_connection") or "ssh")
    target: dict[str, Any] = {"name": host, "type": "linux"}
    if connection == "local":
        target["connection"] = "local"
    elif connection in SSH_CONNECTIONS:
        target["connection"] = "ssh"
        target["host"] = str(hv.get("ansible_host") or hv.get("ansible_ssh_host") or host)
        port = hv.get("ansible_port", hv.get("ansible_ssh_port"))
        if port is not None:
            target["port"] = int(port)
        user = hv.get("ansible_user", hv.get("ansible_ssh_user"))
        if user:
            target["user"] = str(user)
        if hv.get("ansible_ssh_private_key_file"):
            target["key_file"] = str(hv["ansible_ssh_private_key_file"])
        jump = _proxy_jump(str(hv.get("ansible_ssh_common_args") or ""))
        if jump:
            target["proxy_jump"] = jump
    else:
        raise ValueError(f"host {host!r}: ansible_connection {connection!r} is not supported (ssh or local)")
    if _truthy(hv.get("ansible_become", False)):
        method = str(hv.get("ansible_become_method") or "sudo")
        if method != "sudo":
            raise ValueError(f"host {host!r}: ansible_become_method {method!r} is not supported (sudo only)")
        target["become"] = "sudo"
    named = [g for g in groups if g not in IMPLICIT_GROUPS]
    if named:
        target["groups"] = named
    return target


def load_ansible_inventory(path: str | Path) -> dict[str, Any]:
    """Read an Ansible inventory file (INI or YAML) -> ``{"groups": {...}, "targets": [...]}``.

    Raises ``OSError`` when the file cannot be read and ``ValueError`` (with file and line) when it
    cannot be understood.
    """
    path = Path(path)
    from scanner.yamlload import MAX_BYTES

    with open(path, "rb") as fh:
        data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MiB; not read")
    text = data.decode("utf-8", "replace")
    is_yaml = path.suffix.lower() in (".yml", ".yaml", ".json") or _looks_yaml(text)
    inv = parse_yaml(text, str(path)) if is_yaml else parse_ini(text, str(path))
    view = _host_view(inv)
    targets = [_target(host, groups, hv) for host, (groups, hv) in view.items()]
    used = {g for t in targets for g in t.get("groups", ())}
    groups = {g: {"description": f"Ansible group {g} from {path.name}"} for g in inv.groups if g in used}
    return {"groups": groups, "targets": targets}


def _looks_yaml(text: str) -> bool:
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", ";")):
            return not stripped.startswith("[") and stripped.endswith(":")
    return False
