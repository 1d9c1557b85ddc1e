"""Balanced partition assignment with standby replicas (engine/assignment.py)."""

from __future__ import annotations

import random
from typing import Dict, Set, Tuple

import pytest
from faust.assignor.client_assignment import CopartitionedAssignment

from engine.assignment import balanced_assignment


def clients(**held: Tuple[Set[int], Set[int]]) -> Dict[str, CopartitionedAssignment]:
    """member id -> its previous (actives, standbys)."""
    return {cid: CopartitionedAssignment(actives=set(a), standbys=set(s), topics={"t"}) for cid, (a, s) in held.items()}


def check(result: Dict[str, CopartitionedAssignment], partitions: int, replicas: int) -> None:
    """Every partition has one active and min(replicas, workers - 1) standbys elsewhere; shares are even."""
    replicas = min(replicas, len(result) - 1)
    for partition in range(partitions):
        assert sum(partition in c.actives for c in result.values()) == 1
        assert sum(partition in c.standbys for c in result.values()) == replicas
    assert all(not (c.actives & c.standbys) for c in result.values())
    counts = [len(c.actives) for c in result.values()]
    assert max(counts) - min(counts) <= 1, counts
    standby_counts = [len(c.standbys) for c in result.values()]
    assert max(standby_counts) - min(standby_counts) <= 1, standby_counts


def test_a_worker_that_rejoins_gets_its_share_even_with_standbys():
    # Two survivors hold all four partitions (and each other's standbys); the third comes back empty.
    result = balanced_assignment(clients(a=({0, 1}, {2, 3}), b=({2, 3}, {0, 1}), c=(set(), set())), 4, 1)
    check(result, 4, 1)
    assert len(result["c"].actives) == 1


def test_actives_stay_where_they_are_within_the_share():
    result = balanced_assignment(clients(a=({0, 1}, {2}), b=({2}, {0}), c=({3}, {1})), 4, 1)
    assert (result["a"].actives, result["b"].actives, result["c"].actives) == ({0, 1}, {2}, {3})
    check(result, 4, 1)


def test_a_dead_workers_partitions_go_to_their_standbys():
    # c died; a held c's partition 3 as standby, b did not.
    result = balanced_assignment(clients(a=({0}, {3}), b=({1, 2}, {0})), 4, 1)
    assert 3 in result["a"].actives
    check(result, 4, 1)


def test_the_previous_active_keeps_a_warm_standby_when_its_partition_moves():
    # a held three of four; the share is two each, so one moves to b and a keeps it as standby.
    result = balanced_assignment(clients(a=({0, 1, 2}, set()), b=({3}, set())), 4, 1)
    moved = {0, 1, 2} - result["a"].actives
    assert len(moved) == 1 and moved <= result["b"].actives and moved <= result["a"].standbys


def test_a_partition_claimed_twice_has_one_active():
    result = balanced_assignment(clients(a=({0, 1}, set()), b=({1}, set())), 2, 0)
    check(result, 2, 0)


def test_more_replicas_than_other_workers_is_as_many_as_there_are():
    result = balanced_assignment(clients(a=(set(), set()), b=(set(), set())), 4, 3)
    check(result, 4, 3)
    assert result["a"].standbys == result["b"].actives


def test_more_workers_than_partitions_leaves_some_idle_and_none_twice():
    result = balanced_assignment(clients(**{f"w{i}": (set(), set()) for i in range(5)}), 4, 1)
    check(result, 4, 1)


@pytest.mark.parametrize("seed", range(200))
def test_any_previous_assignment_gives_a_balanced_one_and_every_leader_the_same(seed):
    rng = random.Random(seed)
    partitions, workers, replicas = rng.randint(1, 12), rng.randint(1, 6), rng.randint(0, 2)

    def previous():
        return {f"m{i}": ({p for p in range(partitions + 2) if rng.random() < 0.3},
                          {p for p in range(partitions) if rng.random() < 0.3}) for i in range(workers)}

    held = previous()
    result = balanced_assignment(clients(**held), partitions, replicas)
    check(result, partitions, replicas)
    shuffled = dict(sorted(held.items(), key=lambda _: rng.random()))
    again = balanced_assignment(clients(**shuffled), partitions, replicas)
    assert {k: (v.actives, v.standbys) for k, v in again.items()} == \
        {k: (v.actives, v.standbys) for k, v in result.items()}
