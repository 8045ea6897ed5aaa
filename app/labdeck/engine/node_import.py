"""Importing many nodes at once from an inventory: plan, check, then commit all or nothing.

``plan`` sorts the candidates into new and existing names and validates every one (an error
names the inventory line). ``presented_keys`` fetches the host key each SSH node presents, so
the user can confirm them. ``commit`` logs in to every node with exactly the key the user
confirmed (nothing is saved yet); if any node fails, nothing is imported and every failure is
listed. Then the secrets go to the keyring and all nodes and their keys go into the catalog in
one transaction; a last probe fills in each node's OS and size.
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..core.errors import HostKeyChanged, InvalidInput, LabDeckError
from ..core.models import Capacity, Transport
from ..importers import NodeCandidate
from ..store import secrets
from .jump_paths import JumpLookup
from .nodes import NodeManager, validate_node

CHECK_THREADS = 8


@dataclass
class ImportPlan:
    new: list[NodeCandidate] = field(default_factory=list)
    existing: list[NodeCandidate] = field(default_factory=list)   # names already in the catalog
    replace: bool = False

    @property
    def to_import(self) -> list[NodeCandidate]:
        return self.new + (self.existing if self.replace else [])


@dataclass
class ImportResult:
    imported: list[str]
    kept: list[str]                                        # existing names left as they were
    probe_failures: dict[str, str] = field(default_factory=dict)


class NodeImporter:
    def __init__(self, catalog, nodes: NodeManager):
        self._catalog = catalog
        self._nodes = nodes

    def plan(self, candidates: list[NodeCandidate], extra_tags: list[str] = (), replace: bool = False) -> ImportPlan:
        known = {n.name for n in self._catalog.list_nodes()}
        seen: dict[str, str] = {}
        plan = ImportPlan(replace=replace)
        for candidate in copy.deepcopy(candidates):  # the caller's candidates stay as the file has them
            node = candidate.node
            if node.name in seen:
                raise InvalidInput(f"{candidate.source}: node '{node.name}' is already defined at {seen[node.name]}")
            seen[node.name] = candidate.source
            node.tags = sorted(set(node.tags) | set(extra_tags))
            node.via = list(candidate.via)
            try:
                validate_node(node)
            except LabDeckError as exc:
                raise InvalidInput(f"{candidate.source}: {exc}") from None
            (plan.existing if node.name in known else plan.new).append(candidate)
        batch = {c.node.name: c.node for c in plan.to_import}
        for candidate in plan.to_import:
            for hop in candidate.via:
                if hop not in batch and hop not in known:
                    raise InvalidInput(f"{candidate.source}: jump host '{hop}' of node '{candidate.node.name}' is "
                                       "neither in this file nor a node yet: add it first (or import it too)")
        return plan

    def presented_keys(self, plan: ImportPlan) -> dict[str, tuple[str, str, str] | str]:
        """name -> (type, base64, fingerprint) each SSH node presents now, or (a string) why it
        did not answer. A node behind a jump host of the same batch is asked after it, through
        it, with the gateway pinned to the key it presented (the user confirms them together)."""
        pending = [c.node for c in plan.to_import if c.node.transport is Transport.SSH]
        found: dict[str, tuple[str, str, str] | str] = {}
        lookup = self._lookup(plan, found)

        def fetch(node):
            try:
                return node.name, self._nodes.presented_host_key(node, lookup)
            except LabDeckError as exc:
                return node.name, str(exc)
        while pending:
            ready, waiting = [], []
            for node in pending:
                hops = self._batch_hops(node, plan, lookup)
                failed = [h for h in hops if isinstance(found.get(h), str)]
                if failed:
                    found[node.name] = f"not asked: its jump host '{failed[0]}' did not answer"
                elif all(h in found for h in hops):
                    ready.append(node)
                else:
                    waiting.append(node)
            if not ready:
                for node in waiting:
                    found[node.name] = "not asked: its jump hosts could not be reached first"
                break
            with ThreadPoolExecutor(max_workers=CHECK_THREADS) as pool:
                found.update(pool.map(fetch, ready))
            pending = waiting
        return found

    def _lookup(self, plan: ImportPlan, pinned: dict) -> JumpLookup:
        """Hops from the batch first, then the catalog; a batch hop's key must be the one in
        ``pinned`` (presented, or confirmed by the user)."""
        batch = {c.node.name: c.node for c in plan.to_import}
        catalog_check = self._nodes.catalog_lookup().check_host_key

        def node_named(name: str):
            return batch[name] if name in batch else self._catalog.get_node(name)

        def check(name: str, key_type: str, key_b64: str, fingerprint: str) -> None:
            if name not in batch:
                return catalog_check(name, key_type, key_b64, fingerprint)
            expected = pinned.get(name)
            expected_fp = expected[2] if isinstance(expected, tuple) else expected
            if not expected_fp:
                raise InvalidInput(f"jump host '{name}': its host key was not confirmed")
            if fingerprint != expected_fp:
                raise HostKeyChanged(name, str(expected_fp), f"{key_type} {fingerprint}")
        return JumpLookup(node_named, check)

    def _batch_hops(self, node, plan: ImportPlan, lookup: JumpLookup) -> list[str]:
        from ..executors.ssh.jumps import hop_nodes
        batch = {c.node.name for c in plan.to_import}
        return [h.name for h in hop_nodes(node, lookup.node_named) if h.name in batch]

    def commit(self, plan: ImportPlan, confirmed: dict[str, str], presented: dict[str, tuple[str, str, str]],
               secret: str | None = None, check: bool = True) -> ImportResult:
        """Import ``plan.to_import``. ``confirmed``: node name -> the fingerprint the user accepted
        (every SSH node needs one unless ``check`` is off); ``presented``: what presented_keys found."""
        nodes = [c.node for c in plan.to_import]
        for candidate in plan.existing if plan.replace else ():
            old = self._catalog.get_node(candidate.node.name)  # a replaced node keeps its login and sizes
            candidate.node.credential_ref = old.credential_ref
            if candidate.node.capacity == Capacity():
                candidate.node.capacity = old.capacity
        host_keys = {}
        for node in nodes:
            if node.transport is Transport.SSH and node.name in confirmed:
                host_keys[node.name] = presented[node.name]
            elif node.transport is Transport.SSH and check:
                raise InvalidInput(f"the host key of node '{node.name}' was not confirmed; nothing was imported")
        if check:
            self._check_logins(nodes, confirmed, secret, self._lookup(plan, confirmed))
        earlier: dict[str, str | None] = {}  # keyring entry -> the secret it held before (None: new)
        for node in nodes:
            if secret and node.transport is not Transport.LOCAL:
                if node.credential_ref:
                    earlier[node.credential_ref] = secrets.get_secret(node.credential_ref)
                else:
                    node.credential_ref = secrets.credential_ref_for(node.name)
                    earlier[node.credential_ref] = None
        try:
            for ref in earlier:
                secrets.set_secret(ref, secret)
            self._catalog.import_nodes(nodes, host_keys, replace=plan.replace)
        except BaseException:
            for ref, old_secret in earlier.items():
                if old_secret is None:
                    secrets.delete_secret(ref)
                else:
                    secrets.set_secret(ref, old_secret)
            raise
        result = ImportResult([n.name for n in nodes], [] if plan.replace else [c.node.name for c in plan.existing])
        if check:
            for node in nodes:
                try:
                    self._nodes.test(node.name)
                except LabDeckError as exc:
                    result.probe_failures[node.name] = str(exc)
        return result

    def _check_logins(self, nodes, confirmed: dict[str, str], secret: str | None, lookup: JumpLookup) -> None:
        def login(node):
            if node.transport is Transport.LOCAL:
                return node.name, None
            try:
                self._nodes.try_login(node, secret, confirmed.get(node.name), lookup)
                return node.name, None
            except LabDeckError as exc:
                return node.name, str(exc)
        with ThreadPoolExecutor(max_workers=CHECK_THREADS) as pool:
            failures = [(name, why) for name, why in pool.map(login, nodes) if why]
        if failures:
            listed = "; ".join(f"{name}: {why}" for name, why in failures)
            raise InvalidInput(f"nothing was imported: {len(failures)} of {len(nodes)} nodes failed the login check "
                               f"({listed}); fix them, leave them out, or import with --no-check")
