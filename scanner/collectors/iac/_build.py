"""From Terraform-shaped blocks to the AWS facts of ``scanner.facts.aws``, joined the way AWS applies them.

Split resources (provider v4+: ``aws_s3_bucket_versioning``, ``..._server_side_encryption_configuration``,
``..._public_access_block``, ``..._policy``, ``..._logging``, ``..._object_lock_configuration``; security group
rule resources; the Config recorder status) are joined to their bucket, group or recorder by the value of their
``bucket`` / ``security_group_id`` / ``name`` attribute: the bucket's name or its address (references to a
resource evaluate to its name when known, else its address). A split resource whose target cannot be resolved
makes the fields it would set unknown on every candidate it could belong to.

AWS defaults are applied as AWS applies them to a resource created today: a new S3 bucket has SSE-S3 default
encryption (since 2023-01-05) and all four bucket-level public access block settings on (since April 2023) unless
the code sets them; a trail logs all management events when it has no event selector (its selectors, basic or
advanced, are read by the live collector's parsers); a backup vault is encrypted
with the AWS Backup default key when it names none; EBS encryption by default is off in a region unless set.

A volume the code leaves unencrypted is encrypted by AWS only when encryption by default is already on when the
volume is made: on before this apply (a plan whose prior state has it), or an explicit ``depends_on`` /
``DependsOn`` path from the volume to the resource that turns it on (``_order``). Without either the volume fails,
its note naming the missing ordering. CloudFormation has no resource for EBS encryption by default.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import field, replace
from types import MappingProxyType
from typing import Any

from scanner.collectors.iac._order import Order, known_before
from scanner.collectors.iac._values import Block, Unknown, first, unknowns
from scanner.collectors.trail_selectors import management_events, s3_data_events
from scanner.facts.aws import (
    GLOBAL,
    AnalyzerRegion,
    AttachedPolicy,
    AwsResources,
    BackupPlan,
    BackupVaultRef,
    ConfigRecorder,
    ConfigRegion,
    EbsDefaultEncryption,
    EbsVolume,
    IamUser,
    Ingress,
    InlinePolicy,
    KmsKey,
    LogGroup,
    PasswordPolicy,
    PublicAccessBlock,
    RdsInstance,
    S3Bucket,
    Scope,
    SecurityGroup,
    Trail,
    Versioning,
    build_arn,
)
from scanner.facts.aws import AccountPublicAccessBlock as AccountBlock
from scanner.model import freeze
from scanner.value import frozen, mutable

_PARTITIONS = ("aws", "aws-us-gov", "aws-cn")
#: Terraform's names of an advanced event selector's operators, and the API's.
_FIELD_OPERATORS = (("equals", "Equals"), ("starts_with", "StartsWith"), ("ends_with", "EndsWith"),
                    ("not_equals", "NotEquals"), ("not_starts_with", "NotStartsWith"),
                    ("not_ends_with", "NotEndsWith"))
_PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read", "PublicRead", "PublicReadWrite",
                          "AuthenticatedRead"})


@frozen
class Where:
    account: str
    region: str
    partition: str

    @property
    def account_arn(self) -> str:
        return self.arn("iam", "root", regional=False)

    def arn(self, service: str, resource: str, regional: bool = True) -> str:
        """The ARN the live collector gives an account or region setting, so code and account name it alike."""
        return build_arn(self.partition, service, self.region if regional else "", self.account, resource)


#: How split resources attach to their targets: (target address -> its split resources, target address -> split
#: resources that may be its, split resources that may be anyone's).
Index = tuple[dict[str, list[Block]], dict[str, list[Block]], list[Block]]


@mutable
class Built:
    """The facts' values and what the runner needs beside them."""

    facts: dict[str, AwsResources[Any]] = field(default_factory=dict)
    unresolved: dict[str, str] = field(default_factory=dict)  # resource -> why (types without ``errors``)


class Attrs:
    """Read one block's attributes, recording which fields turned out unknown and why."""

    def __init__(self, block: Block):
        self.block = block
        self.errors: dict[str, str] = {}

    def get(self, fld: str, value: Any, default: Any = None, *, unknown: Any = None) -> Any:
        """``value`` if known (``default`` when absent); unknown: recorded against ``fld``, and ``unknown`` (or
        ``default``) returned as a placeholder the check never trusts (the field's error makes it error)."""
        placeholder = default if unknown is None else unknown
        if self.block.broken:
            self.errors[fld] = self.block.broken
            return placeholder
        kind = type(value)
        if kind is str or kind is bool or kind is int:  # most values: known, nothing inside them
            return value
        if value is None:  # absent
            return default
        problems = unknowns(value)
        if problems:
            self.errors.setdefault(fld, f"{self.block.address}: " + "; ".join(problems))
            return placeholder
        return default if value is None else value

    def attr(self, fld: str, *path: str | int, default: Any = None, unknown: Any = None) -> Any:
        value: Any = self.block.attrs
        for p in path:
            if isinstance(value, Unknown):
                break
            value = first(value) if isinstance(p, str) and isinstance(value, list) else value
            if isinstance(value, dict):
                value = value.get(p) if isinstance(p, str) else None
            elif isinstance(value, list) and isinstance(p, int):
                value = value[p] if p < len(value) else None
            else:
                value = None if not isinstance(value, Unknown) else value
        return self.get(fld, value, default, unknown=unknown)

    def node(self, fld: str, value: Any) -> dict[str, Any]:
        """A nested block (its first) as a dict; unknown (a dynamic block, an unresolved value): recorded, empty."""
        value = first(value)
        if isinstance(value, Unknown) or self.block.broken:
            self.get(fld, value)
            return {}
        return value if isinstance(value, dict) else {}

    def nodes(self, fld: str, value: Any) -> list[dict[str, Any]]:
        """Nested blocks (or a list of objects); unknown ones recorded against ``fld``."""
        if isinstance(value, Unknown) or self.block.broken:
            self.get(fld, value)
            return []
        out = []
        for v in [value] if isinstance(value, dict) else value if isinstance(value, list) else []:
            if isinstance(v, dict):
                out.append(v)
            else:
                self.get(fld, v)
        return out

    def frozen(self) -> Mapping[str, str]:
        return MappingProxyType(dict(self.errors))


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "enabled", "1", "yes")
    return bool(value)


def _int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _document(value: Any) -> Any:
    """A policy document from a JSON string or a mapping; unknown stays unknown."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return Unknown("policy is not valid JSON")
    if value is None or isinstance(value, (dict, Unknown)):
        return value
    return Unknown(f"policy is a {type(value).__name__}, not a JSON object")


#: The ``errors`` keys the checks read, per item type: a resource whose file did not parse has all of them.
_ERROR_KEYS: dict[type, tuple[str, ...]] = {
    S3Bucket: ("encryption", "policy", "versioning", "object_lock", "logging", "public_access_block", "tags"),
    KmsKey: ("rotation_enabled",), Trail: ("bucket_policy", "bucket_public_access_block", "bucket_acl"),
    IamUser: ("attached",), BackupPlan: ("vaults",),
}
#: Trail fields whose errors the checks read themselves; any other unknown trail field makes its verdicts error.
_TRAIL_BUCKET_KEYS = frozenset(_ERROR_KEYS[Trail])


def _all_errors(cls: type, reason: str) -> dict[str, str]:
    return dict.fromkeys(_ERROR_KEYS[cls], reason)


class Builder:
    def __init__(self, blocks: Iterable[Block], where: Where):
        self.where = where
        self.blocks = list(blocks)
        self.by_type: dict[str, list[Block]] = {}
        for b in self.blocks:
            self.by_type.setdefault(b.type, []).append(b)
        self.out = Built()
        self._indexes: dict[tuple[tuple[str, ...], str, str, tuple[str, ...]], Index] = {}
        self._named: dict[tuple[str, tuple[str, ...]], dict[str, list[str]]] = {}
        self._buckets: dict[str, list[Block]] | None = None
        self._made_buckets: dict[tuple[int, str], S3Bucket] = {}
        self._order: Order | None = None

    # -------------------------------------------------------------------------------- joining
    def of(self, *types: str) -> list[Block]:
        return [b for t in types for b in self.by_type.get(t, [])]

    def identities(self, block: Block, *names: str) -> set[str]:
        """The strings that name a resource: its address (without the index when it is the only instance, as
        plan references write it) and its known name attributes."""
        ids = {block.address, block.address.split("[", 1)[0]}  # the base names every instance: ambiguous if several
        for n in names:
            v = block.attrs.get(n)
            if isinstance(v, str):
                ids.add(v)
        return ids

    def attached(self, target: Block, types: tuple[str, ...], key: str, *names: str) -> tuple[list[Block],
                                                                                               list[Block]]:
        """(split resources of ``types`` naming ``target`` by ``key``, those that may name it but cannot be
        resolved: an unknown value without references, or references that fit several resources). Each split
        resource is resolved once, so joining stays linear."""
        index_key = (types, key, target.type, names)
        index = self._indexes.get(index_key)
        if index is None:
            index = self._indexes[index_key] = self._index(types, key, target.type, names)
        mine, unsure_some, unsure_all = index
        return mine.get(target.address, []), unsure_all + unsure_some.get(target.address, [])

    def _names(self, target_type: str, names: tuple[str, ...]) -> dict[str, list[str]]:
        """name -> addresses of the resources of ``target_type`` it names (made once: the split resources of
        several kinds join the same targets)."""
        named = self._named.get((target_type, names))
        if named is None:
            named = self._named[target_type, names] = {}
            for t in self.of(target_type):
                for n in self.identities(t, *names):
                    named.setdefault(n, []).append(t.address)
        return named

    def _index(self, types: tuple[str, ...], key: str, target_type: str, names: tuple[str, ...]) -> Index:
        named = self._names(target_type, names)
        mine: dict[str, list[Block]] = {}
        unsure_some: dict[str, list[Block]] = {}
        unsure_all: list[Block] = []
        for b in self.of(*types):
            value = b.attrs.get(key)
            if isinstance(value, str) and not b.broken:
                candidates = named.get(value, [])
            else:
                refs = b.refs.get(key, ())
                specific = [r for r in refs if "[" in r] or list(refs)
                candidates = list(dict.fromkeys(a for r in specific for a in named.get(r, [])))
                if b.broken or not candidates:
                    if b.broken or unknowns(value) or refs:
                        unsure_all.append(b)
                    continue
            if len(set(candidates)) == 1:
                mine.setdefault(candidates[0], []).append(b)
            else:
                for c in set(candidates):
                    unsure_some.setdefault(c, []).append(b)
        return mine, unsure_some, unsure_all

    def region(self, block: Block) -> str:
        return block.region or self.where.region

    def scopes(self, regional: bool) -> tuple[Scope, ...]:
        return (Scope(self.where.account, self.where.region if regional else GLOBAL, self.where.partition,
                      self.where.account_arn),)

    def put(self, name: str, items: list[Any], regional: bool = True) -> None:
        self.out.facts[name] = AwsResources(self.scopes(regional), tuple(items))

    def unresolved(self, block: Block, attrs: Attrs) -> None:
        """For item types without ``errors``: the runner turns the resource's pass or fail into error."""
        if block.broken:
            self.out.unresolved[block.address] = block.broken
        elif attrs.errors:
            self.out.unresolved[block.address] = "; ".join(dict.fromkeys(attrs.errors.values()))

    # -------------------------------------------------------------------------------- S3
    def buckets(self) -> None:
        items = []
        for b in self.of("aws_s3_bucket"):
            name = b.attrs.get("bucket")
            name = name if isinstance(name, str) else b.address
            items.append(self.bucket(b, name))
        self.put("aws.s3_buckets", items)

    def _split(self, bucket: Block, a: Attrs, fld: str, types: tuple[str, ...]) -> list[Block]:
        mine, unsure = self.attached(bucket, types, "bucket", "bucket")
        for u in unsure:
            a.errors.setdefault(fld, f"{u.address} names a bucket that cannot be resolved: "
                                     + "; ".join(unknowns(u.attrs.get("bucket")) or [u.broken]))
        return mine

    def bucket(self, b: Block, name: str) -> S3Bucket:
        """The bucket item of ``b`` named ``name``, made once (a trail's log bucket is also a bucket of the list)."""
        key = (id(b), name)  # blocks are mutable (unhashable); the builder holds them all while it lives
        made = self._made_buckets.get(key)
        if made is None:
            made = self._made_buckets[key] = self._bucket(b, Attrs(b), name)
        return made

    def _bucket(self, b: Block, a: Attrs, name: str) -> S3Bucket:
        # encryption: inline (v3) or split; AWS encrypts new buckets with SSE-S3 when nothing is configured
        algos: list[str] = []
        for src in [b, *self._split(b, a, "encryption", ("aws_s3_bucket_server_side_encryption_configuration",))]:
            sa = Attrs(src)
            cfg = sa.node("encryption", b.attrs.get("server_side_encryption_configuration")) if src is b else src.attrs
            for rule in sa.nodes("encryption", cfg.get("rule")):
                by_default = sa.node("encryption", rule.get("apply_server_side_encryption_by_default"))
                algo = sa.get("encryption", by_default.get("sse_algorithm"))
                if algo:
                    algos.append(str(algo))
            a.errors.update(sa.errors)
        encryption = tuple(algos) or ("AES256",)
        # versioning: inline (v3) or split
        versioning, mfa_delete = Versioning.NEVER_ENABLED, False
        inline = a.node("versioning", b.attrs.get("versioning"))
        if inline:
            versioning = Versioning.ENABLED if _bool(a.get("versioning", inline.get("enabled"), False)) \
                else Versioning.NEVER_ENABLED
            mfa_delete = _bool(a.get("versioning", inline.get("mfa_delete"), False))
        for v in self._split(b, a, "versioning", ("aws_s3_bucket_versioning",)):
            va = Attrs(v)
            cfg = va.node("versioning", v.attrs.get("versioning_configuration"))
            status = va.get("versioning", cfg.get("status"), "")
            mfa_delete = _bool(va.get("versioning", cfg.get("mfa_delete"), ""))
            a.errors.update(va.errors)
            versioning = {"Enabled": Versioning.ENABLED, "Suspended": Versioning.SUSPENDED}.get(str(status), versioning)
        # public access block: on for every new bucket unless configured
        block: PublicAccessBlock | None = PublicAccessBlock(True, True, True, True)
        for p in self._split(b, a, "public_access_block", ("aws_s3_bucket_public_access_block",)):
            pa = Attrs(p)
            block = PublicAccessBlock(*(_bool(pa.attr("public_access_block", k, default=False))
                                        for k in ("block_public_acls", "ignore_public_acls", "block_public_policy",
                                                  "restrict_public_buckets")))
            a.errors.update(pa.errors)
        # policy: inline (v3) or split
        policy = _document(b.attrs.get("policy"))
        for p in self._split(b, a, "policy", ("aws_s3_bucket_policy",)):
            policy = _document(p.attrs.get("policy")) if not p.broken else Unknown(p.broken)
        policy = a.get("policy", self._own_arn(policy, name, b.address))
        # logging: inline (v3) or split
        target = a.get("logging", a.node("logging", b.attrs.get("logging")).get("target_bucket"))
        for lg in self._split(b, a, "logging", ("aws_s3_bucket_logging",)):
            la = Attrs(lg)
            target = la.attr("logging", "target_bucket")
            a.errors.update(la.errors)
        # object lock: enabled on the bucket (v4 attribute, v3 block) or by a lock configuration; mode from its rule
        inline_lock = a.node("object_lock", b.attrs.get("object_lock_configuration"))
        lock_on = _bool(a.get("object_lock", b.attrs.get("object_lock_enabled"), False)) or _bool(
            a.get("object_lock", inline_lock.get("object_lock_enabled"), False))
        mode = self._lock_mode(a, inline_lock)
        for lc in self._split(b, a, "object_lock", ("aws_s3_bucket_object_lock_configuration",)):
            la = Attrs(lc)
            lock_on = lock_on or _bool(la.attr("object_lock", "object_lock_enabled", default="Enabled"))
            mode = self._lock_mode(la, lc.attrs) or mode
            a.errors.update(la.errors)
        tags = a.get("tags", b.attrs.get("tags"), {})
        if b.broken:
            a.errors.update(_all_errors(S3Bucket, b.broken))
        return S3Bucket(
            account=self.where.account, region=self.region(b), name=name, arn=b.address, encryption=encryption,
            policy=freeze(policy) if isinstance(policy, dict) else None, versioning=versioning,
            mfa_delete=mfa_delete, object_lock=lock_on, object_lock_mode=mode,
            logging_target=str(target) if target else None, public_access_block=block,
            tags=MappingProxyType({str(k): str(v) for k, v in tags.items()}) if isinstance(tags, dict)
            else MappingProxyType({}),
            errors=a.frozen())

    @staticmethod
    def _lock_mode(a: Attrs, config: Mapping[str, Any]) -> str:
        rule = a.node("object_lock", config.get("rule"))
        return str(a.get("object_lock", a.node("object_lock", rule.get("default_retention")).get("mode"), ""))

    def _own_arn(self, policy: Any, name: str, address: str) -> Any:
        """A bucket's own ARN written out in its policy becomes its address (the ``arn`` of code items)."""
        if not isinstance(policy, dict) or name == address:
            return policy
        arn = f"arn:{self.where.partition}:s3:::{name}"

        def swap(v: Any) -> Any:
            if isinstance(v, str) and (v == arn or v.startswith(arn + "/")):
                return address + v[len(arn):]
            if isinstance(v, list):
                return [swap(x) for x in v]
            if isinstance(v, dict):
                return {k: swap(x) for k, x in v.items()}
            return v
        return swap(policy)

    def account_block(self) -> None:
        items = []
        blocks = self.of("aws_s3_account_public_access_block")
        for b in blocks:
            a = Attrs(b)
            pab = PublicAccessBlock(*(_bool(a.attr(k, k, default=False)) for k in (
                "block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets")))
            self.unresolved(b, a)
            items.append(AccountBlock(self.where.account, b.address, pab))
        if not blocks:
            items.append(AccountBlock(self.where.account, self.where.account_arn, None))
        self.put("aws.s3_account_public_access_block", items, regional=False)

    # -------------------------------------------------------------------------------- KMS, CloudTrail
    def kms(self) -> None:
        items = []
        for b in self.of("aws_kms_key"):
            a = Attrs(b)
            spec = str(a.attr("spec", "customer_master_key_spec", default="SYMMETRIC_DEFAULT"))
            spec = str(a.attr("spec", "key_spec", default=spec))
            enabled = _bool(a.attr("state", "is_enabled", default=True))
            usage = str(a.attr("spec", "key_usage", default="ENCRYPT_DECRYPT"))
            rotatable = enabled and spec == "SYMMETRIC_DEFAULT" and usage == "ENCRYPT_DECRYPT"
            rotation = _bool(a.attr("rotation_enabled", "enable_key_rotation", default=False))
            if b.broken:
                a.errors.update(_all_errors(KmsKey, b.broken))
            items.append(KmsKey(self.where.account, self.region(b), b.address, b.address, "CUSTOMER",
                                "Enabled" if enabled else "Disabled", spec, rotation if rotatable else None,
                                rotatable or bool(a.errors), a.frozen()))
        self.put("aws.kms_keys", items)

    def trails(self) -> None:
        items = []
        for b in self.of("aws_cloudtrail"):
            a = Attrs(b)
            log_bucket = self._bucket_named(b.attrs.get("s3_bucket_name")) or self._bucket_referred(b, "s3_bucket_name")
            bucket_name = (log_bucket.attrs.get("bucket") or log_bucket.address) if log_bucket else a.attr(
                "s3_bucket", "s3_bucket_name")
            api = self._selectors(a, b)
            # no selector at all: AWS records every management event and no data event
            management = True if api is not None and not any(api.values()) else management_events(api)
            data_events = None if api is None else tuple(
                replace(e, arn_prefixes=tuple(p for arn in e.arn_prefixes for p in self._bucket_prefixes(arn)))
                for e in s3_data_events(api) or ())
            policy, public_acl, pab = None, False, None
            if log_bucket is None:
                for f in ("bucket_policy", "bucket_public_access_block", "bucket_acl"):
                    a.errors[f] = f"the trail's bucket {bucket_name} is not defined in this code"
            else:
                built = self.bucket(log_bucket, str(bucket_name))
                policy, pab = built.policy, built.public_access_block
                acl = log_bucket.attrs.get("acl")
                public_acl = isinstance(acl, str) and acl in _PUBLIC_ACLS
                for k in ("policy", "public_access_block"):
                    if k in built.errors:
                        a.errors[f"bucket_{k}"] = built.errors[k]
            if b.broken:
                a.errors.update(_all_errors(Trail, b.broken))
            # an unknown multi-region flag stands as True so that the multi-region check counts the trail among
            # those it cannot judge (error), never as a missing trail; other unknown fields: see unresolved
            multi = _bool(a.attr("multi_region", "is_multi_region_trail", default=False, unknown=True))
            logging = a.attr("is_logging", "enable_logging", default=True, unknown="?")
            kms = a.attr("kms_key_id", "kms_key_id")
            items.append(Trail(
                account=self.where.account, region=self.region(b), name=str(b.attrs.get("name") or b.address),
                arn=b.address, multi_region=multi or bool(b.broken),
                log_validation=_bool(a.attr("log_validation", "enable_log_file_validation", default=False)),
                kms_key_id=str(kms) if kms else None, s3_bucket=str(bucket_name) if bucket_name else None,
                is_logging=None if logging == "?" else _bool(logging), management_events=management,
                bucket_policy=policy, bucket_public_acl=public_acl, bucket_public_access_block=pab,
                errors=a.frozen(), s3_data_events=data_events))
            other = {k: v for k, v in a.errors.items() if k not in _TRAIL_BUCKET_KEYS}
            if other or b.broken:
                self.out.unresolved[b.address] = b.broken or "; ".join(dict.fromkeys(other.values()))
        self.put("aws.cloudtrail_trails", items)

    def _selectors(self, a: Attrs, trail: Block) -> dict[str, list[dict[str, Any]]] | None:
        """A trail's event selectors (basic and advanced) in the API's shape (``GetEventSelectors``), so that the
        live collector's own parsers read them; object ARN prefixes are later turned into the bucket addresses
        that stand for the buckets' ARNs in code. A value not known before apply: None, and the field's error."""
        api: dict[str, list[dict[str, Any]]] = {"EventSelectors": [], "AdvancedEventSelectors": []}
        for s in a.nodes("event_selectors", trail.attrs.get("event_selector")):
            resources = [{"Type": a.get("event_selectors", r.get("type")),
                          "Values": a.get("event_selectors", r.get("values"), [])}
                         for r in a.nodes("event_selectors", s.get("data_resource"))]
            api["EventSelectors"].append({
                "ReadWriteType": a.get("event_selectors", s.get("read_write_type"), "All"),
                "IncludeManagementEvents": _bool(a.get("event_selectors", s.get("include_management_events"),
                                                       True)),
                "ExcludeManagementEventSources": a.get("event_selectors",
                                                       s.get("exclude_management_event_sources"), []),
                "DataResources": resources})
        for s in a.nodes("event_selectors", trail.attrs.get("advanced_event_selector")):
            if "FieldSelectors" in s:  # CloudFormation: already the API's shape
                fields = a.get("event_selectors", s["FieldSelectors"], [])
            else:
                fields = []
                for f in a.nodes("event_selectors", s.get("field_selector")):
                    one = {"Field": a.get("event_selectors", f.get("field"))}
                    for key, name in _FIELD_OPERATORS:
                        if f.get(key) is not None:
                            one[name] = a.get("event_selectors", f.get(key))
                    fields.append(one)
            api["AdvancedEventSelectors"].append({"FieldSelectors": fields})
        return None if "event_selectors" in a.errors or trail.broken else api

    def _bucket_prefixes(self, arn: str) -> list[str]:
        """The prefixes of ``address/object`` that an object ARN prefix names in code: every bucket for a prefix
        of ``arn:PARTITION:s3:::`` itself; the buckets whose name the prefix names or starts."""
        _, sep, rest = arn.partition(":s3:::")
        if not sep:
            return [""] if any(f"arn:{p}:s3:::".startswith(arn) for p in _PARTITIONS) else []
        name, slash, key = rest.partition("/")
        buckets = [b for b in self.of("aws_s3_bucket")
                   if isinstance(b.attrs.get("bucket"), str)
                   and (b.attrs["bucket"] == name if slash else b.attrs["bucket"].startswith(name))]
        return [f"{b.address}/{key}" if slash else f"{b.address}/" for b in buckets]

    def _bucket_index(self) -> dict[str, list[Block]]:
        if self._buckets is None:
            self._buckets = {}
            for b in self.of("aws_s3_bucket"):
                for name in self.identities(b, "bucket"):
                    self._buckets.setdefault(name, []).append(b)
        return self._buckets

    def _bucket_referred(self, block: Block, key: str) -> Block | None:
        """The one bucket an attribute refers to (plan JSON), when its value is unknown at plan time."""
        refs = block.refs.get(key, ())
        found = {id(b): b for r in [r for r in refs if "[" in r] or refs for b in self._bucket_index().get(r, [])}
        return next(iter(found.values())) if len(found) == 1 else None

    def _bucket_named(self, name: Any) -> Block | None:
        found = self._bucket_index().get(name, []) if isinstance(name, str) else []
        return found[0] if len(found) == 1 else None

    # -------------------------------------------------------------------------------- IAM
    def password_policy(self) -> None:
        blocks = self.of("aws_iam_account_password_policy")
        items = []
        for b in blocks:
            a = Attrs(b)
            items.append(PasswordPolicy(
                self.where.account, b.address, True,
                min_length=_int(a.attr("min", "minimum_password_length", default=6)),
                require_symbols=_bool(a.attr("symbols", "require_symbols", default=False)),
                require_numbers=_bool(a.attr("numbers", "require_numbers", default=False)),
                require_uppercase=_bool(a.attr("upper", "require_uppercase_characters", default=False)),
                require_lowercase=_bool(a.attr("lower", "require_lowercase_characters", default=False)),
                max_age_days=_int(a.attr("age", "max_password_age")) or None,
                reuse_prevention=_int(a.attr("reuse", "password_reuse_prevention"))))
            self.unresolved(b, a)
        if not blocks:
            items.append(PasswordPolicy(self.where.account, self.where.account_arn, False))
        self.put("aws.password_policy", items, regional=False)

    def iam_users(self) -> None:
        items = []
        for b in self.of("aws_iam_user"):
            a = Attrs(b)
            name = b.attrs.get("name")
            ids = self.identities(b, "name")
            attached, inline = [], []
            for p in self.of("aws_iam_user_policy_attachment", "aws_iam_policy_attachment"):
                users = p.attrs.get("user") if p.type.endswith("user_policy_attachment") else p.attrs.get("users")
                names = users if isinstance(users, list) else [users]
                if any(isinstance(u, str) and u in ids for u in names) or set(p.refs.get("user", ())) & ids:
                    attached.append(self._attached(a, p, p.attrs.get("policy_arn")))
            for p in self.of("aws_iam_user_policy"):
                user = p.attrs.get("user")
                if isinstance(user, str) and user in ids or set(p.refs.get("user", ())) & ids:
                    doc = a.get("inline", _document(p.attrs.get("policy")), {})
                    inline.append(InlinePolicy(str(p.attrs.get("name") or p.address), freeze(doc)))
            for ip in a.nodes("inline", b.attrs.get("inline_policy")):  # CloudFormation Policies
                doc = a.get("inline", _document(ip.get("policy")), {})
                inline.append(InlinePolicy(str(ip.get("name") or "inline"), freeze(doc)))
            arns = a.get("attached", b.attrs.get("managed_policy_arns"), [])
            for arn in arns if isinstance(arns, list) else []:
                attached.append(self._attached(a, b, arn))
            if b.broken:
                a.errors.update(_all_errors(IamUser, b.broken))
            items.append(IamUser(self.where.account, str(name) if isinstance(name, str) else b.address, b.address,
                                 tuple(attached), tuple(inline), a.frozen()))
        self.put("aws.iam_users", items, regional=False)

    def _attached(self, a: Attrs, p: Block, arn: Any) -> AttachedPolicy:
        arn = a.get("attached", arn, "")
        text = str(arn)
        if ":iam::aws:policy/" in text:
            return AttachedPolicy(text, text.rsplit("/", 1)[-1], None, aws_managed=True)
        for pol in self.of("aws_iam_policy"):
            if text in self.identities(pol, "name", "arn"):
                doc = a.get("attached", _document(pol.attrs.get("policy")), {})
                return AttachedPolicy(pol.address, str(pol.attrs.get("name") or pol.address), freeze(doc))
        a.errors.setdefault("attached", f"{p.address}: policy {text} is not defined in this code")
        return AttachedPolicy(text, text, None)

    def analyzers(self) -> None:
        active = []
        for b in self.of("aws_accessanalyzer_analyzer"):
            a = Attrs(b)
            kind = str(a.attr("analyzers", "type", default="ACCOUNT"))
            if kind in ("ACCOUNT", "ORGANIZATION"):
                active.append(str(b.attrs.get("analyzer_name") or b.address))
            self.unresolved(b, a)
        self.put("aws.access_analyzers", [AnalyzerRegion(self.where.account, self.where.region,
                                                         self.where.arn("access-analyzer", "analyzer"),
                                                         tuple(active))])

    # -------------------------------------------------------------------------------- EC2, EBS, RDS
    def security_groups(self) -> None:
        items = []
        for g in self.of("aws_security_group"):
            a = Attrs(g)
            rules = [self._ingress(a, r) for r in a.nodes("ingress", g.attrs.get("ingress"))]
            for r in self.attached(g, ("aws_security_group_rule",), "security_group_id", "id")[0]:
                if r.attrs.get("type") == "ingress":
                    rules.append(self._ingress(a, r.attrs))
            for r in self.attached(g, ("aws_vpc_security_group_ingress_rule",), "security_group_id", "id")[0]:
                rules.append(self._ingress(a, {"protocol": r.attrs.get("ip_protocol"),
                                               "from_port": r.attrs.get("from_port"), "to_port": r.attrs.get("to_port"),
                                               "cidr_blocks": [r.attrs.get("cidr_ipv4")],
                                               "ipv6_cidr_blocks": [r.attrs.get("cidr_ipv6")]}))
            for r in self.attached(g, ("aws_security_group_rule", "aws_vpc_security_group_ingress_rule"),
                                   "security_group_id", "id")[1]:
                a.errors.setdefault("ingress", f"{r.address} names a group that cannot be resolved")
            if g.broken:
                a.errors["ingress"] = g.broken
            self.unresolved(g, a)
            name = g.attrs.get("name")
            items.append(SecurityGroup(self.where.account, self.region(g), g.address,
                                       str(name) if isinstance(name, str) else g.address, g.address,
                                       str(g.attrs.get("vpc_id") or ""), tuple(rules)))
        self.put("aws.security_groups", items)

    def _ingress(self, a: Attrs, rule: Mapping[str, Any]) -> Ingress:
        proto = str(a.get("ingress", rule.get("protocol"), "-1"))
        listed = [a.get("ingress", rule.get(key), []) for key in ("cidr_blocks", "ipv6_cidr_blocks")]
        sources = [str(s) for group in listed for s in (group if isinstance(group, list) else [group]) if s]
        return Ingress("-1" if proto in ("all", "-1") else proto.lower(),
                       _int(a.get("ingress", rule.get("from_port"))), _int(a.get("ingress", rule.get("to_port"))),
                       tuple(sources))

    def ebs(self) -> None:
        blocks = self.of("aws_ebs_encryption_by_default")
        items = []
        on: list[Block] = []  # default encryption that the code provably turns on
        for b in blocks:
            a = Attrs(b)
            enabled = _bool(a.attr("enabled", "enabled", default=True))
            items.append(EbsDefaultEncryption(self.where.account, self.region(b), b.address, enabled))
            self.unresolved(b, a)
            if enabled and not a.errors and not b.broken:
                on.append(b)
        if not blocks:
            items.append(EbsDefaultEncryption(self.where.account, self.where.region,
                                              self.where.arn("ec2", "ebs-encryption-by-default"), False))
        self.put("aws.ebs_default_encryption", items)
        volumes = []
        for v in self.of("aws_ebs_volume"):
            a = Attrs(v)
            kms = a.attr("encrypted", "kms_key_id")
            encrypted = _bool(a.attr("encrypted", "encrypted", default=False))
            note = ""
            if not encrypted and not a.errors and not v.broken:
                encrypted, note = self._by_default(v, [d for d in on if self.region(d) == self.region(v)])
            volumes.append(EbsVolume(self.where.account, self.region(v), v.address, v.address, encrypted,
                                     str(kms) if kms else None, "planned", note))
            self.unresolved(v, a)
        self.put("aws.ebs_volumes", volumes)

    def _by_default(self, volume: Block, defaults: list[Block]) -> tuple[bool, str]:
        """Whether AWS encrypts a volume the code leaves unencrypted, as it applies the code: only when encryption
        by default is on before the volume is made (on already before this apply, in a plan's prior state, or
        an explicit dependency of the volume); else why it is not (the note of the volume's finding)."""
        region = self.region(volume)
        if not defaults:
            if "#" in volume.address:  # CloudFormation
                return False, ("Encrypted is not true, and CloudFormation has no resource for EBS encryption by "
                               f"default: whether the account default in {region} applies is not in the template")
            return False, ""
        if any(known_before(d, {"enabled": True}) for d in defaults):
            return True, ""
        if self._order is None:
            self._order = Order(self.blocks)
        after = self._order.after(volume)
        if any(d.address in after for d in defaults):
            return True, ""
        names = ", ".join(d.address for d in defaults)
        return False, (f"{names} turns EBS encryption by default on in {region}, but {volume.address} does not "
                       f"depend on it (no depends_on/DependsOn): AWS may create the volume first, unencrypted")

    def rds(self) -> None:
        items = []
        for d in self.of("aws_db_instance"):
            a = Attrs(d)
            cluster = self._cluster(d)
            src = Attrs(cluster) if cluster else a
            block = cluster or d
            src_attr: Callable[..., Any] = src.attr
            encrypted = _bool(src_attr("storage_encrypted", "storage_encrypted", default=False))
            retention = _int(src_attr("retention", "backup_retention_period", default=1), 1)
            protection = _bool(src_attr("protection", "deletion_protection", default=False))
            a.errors.update(src.errors)
            if block.broken or d.broken:
                a.errors["all"] = block.broken or d.broken
            self.unresolved(d, a)
            kms = block.attrs.get("kms_key_id")
            items.append(RdsInstance(self.where.account, self.region(d), d.address, d.address,
                                     str(d.attrs.get("engine") or block.attrs.get("engine") or ""), encrypted,
                                     str(kms) if isinstance(kms, str) else None, retention or 0, protection))
        self.put("aws.rds_instances", items)

    def _cluster(self, d: Block) -> Block | None:
        ref = d.attrs.get("cluster_identifier")
        refs = set(d.refs.get("cluster_identifier", ()))
        for c in self.of("aws_rds_cluster"):
            ids = self.identities(c, "cluster_identifier")
            if isinstance(ref, str) and ref in ids or refs & ids:
                return c
        return None

    # -------------------------------------------------------------------------------- Backup, Config, Logs
    def backup(self) -> None:
        items = []
        for p in self.of("aws_backup_plan"):
            a = Attrs(p)
            vaults = []
            for rule in a.nodes("vaults", p.attrs.get("rule")):
                name = a.get("vaults", rule.get("target_vault_name"))
                if name is None:
                    continue
                vault = next((v for v in self.of("aws_backup_vault") if name in self.identities(v, "name")), None)
                if vault is None:
                    a.errors.setdefault("vaults", f"{p.address}: vault {name} is not defined in this code")
                    vaults.append(BackupVaultRef(str(name), None, None, False))
                    continue
                va = Attrs(vault)
                key = va.attr("vaults", "kms_key_arn") or "aws/backup (the AWS Backup default key)"
                a.errors.update(va.errors)
                vaults.append(BackupVaultRef(str(vault.attrs.get("name") or vault.address), vault.address,
                                             str(key), True))
            if p.broken:
                a.errors["vaults"] = p.broken
            items.append(BackupPlan(self.where.account, self.region(p), p.address, str(p.attrs.get("name") or
                                    p.address), p.address, tuple(vaults), a.frozen()))
        self.put("aws.backup_plans", items)

    def config(self) -> None:
        recorders = []
        for r in self.of("aws_config_configuration_recorder"):
            a = Attrs(r)
            group = a.node("recording", r.attrs.get("recording_group"))
            all_supported = _bool(a.get("recording", group.get("all_supported"), True))
            status, _ = self.attached(r, ("aws_config_configuration_recorder_status",), "name", "name")
            recording = any(_bool(Attrs(s).attr("recording", "is_enabled", default=False)) for s in status)
            if r.attrs.get("recording_started") is not None:  # CloudFormation starts the recorder itself
                recording = _bool(r.attrs["recording_started"])
            if r.broken:
                a.errors["recording"] = r.broken
            self.unresolved(r, a)
            recorders.append(ConfigRecorder(str(r.attrs.get("name") or r.address), r.address, all_supported,
                                            recording, "planned"))
        region_arn = self.where.arn("config", "configuration-recorder")
        self.put("aws.config_recorders", [ConfigRegion(self.where.account, self.where.region, region_arn,
                                                       tuple(recorders))])

    def log_groups(self) -> None:
        items = []
        for g in self.of("aws_cloudwatch_log_group"):
            a = Attrs(g)
            days = _int(a.attr("retention", "retention_in_days", default=0), 0)
            if g.broken:
                a.errors["retention"] = g.broken
            self.unresolved(g, a)
            items.append(LogGroup(self.where.account, self.region(g), str(g.attrs.get("name") or g.address),
                                  g.address, days or None))
        self.put("aws.log_groups", items)

    def build(self) -> Built:
        for step in (self.buckets, self.account_block, self.kms, self.trails, self.password_policy, self.iam_users,
                     self.analyzers, self.security_groups, self.ebs, self.rds, self.backup, self.config,
                     self.log_groups):
            step()
        return self.out


def build(blocks: Iterable[Block], where: Where) -> Built:
    return Builder(blocks, where).build()
