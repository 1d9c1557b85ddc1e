"""Partition assignment that stays balanced with standby replicas: every worker gets its share.

Faust's copartitioned assignor keeps each worker's actives up to ceil(partitions / workers) and
promotes standbys first. With standby replicas that leaves a worker that (re)joins with nothing:
the others are at capacity, and the partitions it could take go to their standbys (faust-streaming
issue #93; its fix, PR #97, applies only without standbys). A restarted worker then idles, ready
for nothing, until some later rebalance. Here each worker gets floor or ceil of its share of the
actives, and standbys only decide *which* worker takes a partition among those with room:

1. Actives are sticky: a worker keeps the partitions it had, up to its share (workers that held
   more get the larger shares first, so as little as possible moves).
2. A partition without a worker goes to one with room, preferring one that holds it warm (its
   standby), then the one with the fewest.
3. Standbys: each partition gets `replicas` of them on workers that are not its active, preferring
   a warm copy (the old standby, or the worker that was active for it), within an even share,
   then levelled so no worker holds two more than another where a move can help.

Ties break by member id, so every leader computes the same assignment.
"""

from __future__ import annotations

from math import ceil
from typing import Dict, List, MutableMapping, Set

from faust.assignor.client_assignment import CopartitionedAssignment
from faust.assignor.copartitioned_assignor import CopartitionedAssignor
from faust.assignor.partition_assignor import PartitionAssignor

from engine import faust_internals

__all__ = ["BalancedCopartitionedAssignor", "BalancedPartitionAssignor", "balanced_assignment"]


def balanced_assignment(clients: MutableMapping[str, CopartitionedAssignment], num_partitions: int,
                        replicas: int) -> MutableMapping[str, CopartitionedAssignment]:
    """Rewrite each client's actives and standbys (its previous ones are the input) as described above."""
    ids = sorted(clients)
    if not ids:
        return clients
    replicas = max(0, min(replicas, len(ids) - 1))
    previous_owner: Dict[int, str] = {}
    for cid in ids:  # a partition claimed twice (a zombie) stays with the first claimant
        for partition in sorted(clients[cid].actives):
            if 0 <= partition < num_partitions:
                previous_owner.setdefault(partition, cid)

    held = {cid: sum(1 for owner in previous_owner.values() if owner == cid) for cid in ids}
    base, extra = divmod(num_partitions, len(ids))
    by_holding = sorted(ids, key=lambda cid: (-held[cid], cid))
    share = {cid: base + (1 if rank < extra else 0) for rank, cid in enumerate(by_holding)}

    actives: Dict[str, Set[int]] = {cid: set() for cid in ids}
    for partition, cid in sorted(previous_owner.items()):
        if len(actives[cid]) < share[cid]:
            actives[cid].add(partition)
    taken = set().union(*actives.values())
    for partition in range(num_partitions):
        if partition in taken:
            continue
        with_room = [cid for cid in ids if len(actives[cid]) < share[cid]]
        cid = min(with_room, key=lambda c: (partition not in clients[c].standbys, len(actives[c]), c))
        actives[cid].add(partition)

    standbys: Dict[str, Set[int]] = {cid: set() for cid in ids}
    standby_share = ceil(num_partitions * replicas / len(ids)) if ids else 0
    for partition in range(num_partitions):
        for _ in range(replicas):
            candidates: List[str] = [cid for cid in ids
                                     if partition not in actives[cid] and partition not in standbys[cid]]
            with_room = [cid for cid in candidates if len(standbys[cid]) < standby_share] or candidates

            def warmth(cid: str, partition: int = partition) -> bool:
                return partition in clients[cid].standbys or previous_owner.get(partition) == cid

            cid = min(with_room, key=lambda c: (not warmth(c), len(standbys[c]), c))
            standbys[cid].add(partition)
    _level(standbys, actives)

    for cid in ids:
        clients[cid].actives = actives[cid]
        clients[cid].standbys = standbys[cid]
    return clients


def _level(standbys: Dict[str, Set[int]], actives: Dict[str, Set[int]]) -> None:
    """Move standbys from the worker with the most to the one with the fewest until they differ by
    at most one, or no standby can move (the greedy pass above can leave a worker short when it is
    the active for the partitions dealt last)."""
    while True:
        most = max(sorted(standbys), key=lambda cid: len(standbys[cid]))
        fewest = min(sorted(standbys), key=lambda cid: len(standbys[cid]))
        if len(standbys[most]) - len(standbys[fewest]) <= 1:
            return
        movable = sorted(p for p in standbys[most] if p not in actives[fewest] and p not in standbys[fewest])
        if not movable:
            return
        standbys[most].remove(movable[0])
        standbys[fewest].add(movable[0])


class BalancedCopartitionedAssignor(CopartitionedAssignor):
    """Faust's copartitioned assignor with `balanced_assignment` as its algorithm."""

    def get_assignment(self) -> MutableMapping[str, CopartitionedAssignment]:
        return balanced_assignment(faust_internals.copartitioned_clients(self), self.num_partitions, self.replicas)


class BalancedPartitionAssignor(PartitionAssignor):
    """Faust's partition assignor (the app's `PartitionAssignor` setting) assigning each group of
    copartitioned topics with BalancedCopartitionedAssignor."""

    def _perform_assignment(self, cluster, member_metadata):  # type: ignore[no-untyped-def]
        with faust_internals.copartitioned_assignor(BalancedCopartitionedAssignor):
            return super()._perform_assignment(cluster, member_metadata)
