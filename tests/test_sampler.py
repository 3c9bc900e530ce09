"""The task-interleaving batch sampler: strategies, proportions, determinism, distributed sharding."""

from __future__ import annotations

from collections import Counter

import pytest
from accelerate.data_loader import BatchSamplerShard

from helpline_fusion.train.sampler import STRATEGIES, MultiTaskBatchSampler, task_sequence

SIZES = {"ner": 400, "cls": 100, "qa": 25}


def tasks_of(sampler):
    return task_sequence(sampler, list(sampler))


def test_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(ValueError) as error:
        MultiTaskBatchSampler(SIZES, batch_size=4, strategy="random")
    assert str(error.value) == (
        "sampling_strategy: unknown strategy 'random'; valid: shuffled, proportional, temperature, round_robin"
    )


def test_shuffled_visits_every_example_of_every_task_once_per_epoch():
    sampler = MultiTaskBatchSampler(SIZES, batch_size=5, strategy="shuffled", seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 80 + 20 + 5
    seen = sorted(index for batch in batches for index in batch)
    assert seen == list(range(sum(SIZES.values())))
    assert all(len({sampler.task_of(i) for i in batch}) == 1 for batch in batches)
    # Interleaved, not one task per epoch: the first 20 batches already mix tasks.
    assert len(set(tasks_of(sampler)[:20])) > 1


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("proportional", {"ner": 400 / 525, "cls": 100 / 525, "qa": 25 / 525}),
        ("temperature", {"ner": 20 / 35, "cls": 10 / 35, "qa": 5 / 35}),  # sizes ** (1/2)
        ("round_robin", {"ner": 1 / 3, "cls": 1 / 3, "qa": 1 / 3}),
    ],
)
def test_strategy_proportions(strategy, expected):
    counts: Counter = Counter()
    for epoch in range(30):
        sampler = MultiTaskBatchSampler(SIZES, batch_size=5, strategy=strategy, seed=7, temperature=2.0)
        sampler.set_epoch(epoch)
        counts.update(tasks_of(sampler))
    total = sum(counts.values())
    assert sampler.sampling_probabilities() == pytest.approx(expected)
    for task, share in expected.items():
        assert counts[task] / total == pytest.approx(share, abs=0.03)


def test_round_robin_takes_turns_and_small_tasks_cycle():
    sampler = MultiTaskBatchSampler({"ner": 8, "cls": 2}, batch_size=2, strategy="round_robin", seed=0)
    batches = list(sampler)
    assert task_sequence(sampler, batches) == ["ner", "cls", "ner", "cls", "ner"]
    cls_batches = [b for b in batches if sampler.task_of(b[0]) == "cls"]
    assert all(sorted(b) == [8, 9] for b in cls_batches)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_deterministic_per_seed_and_epoch(strategy):
    def order(seed, epoch):
        sampler = MultiTaskBatchSampler(SIZES, batch_size=4, strategy=strategy, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(3, 0) == order(3, 0)
    assert order(3, 0) != order(4, 0)
    assert order(3, 0) != order(3, 1)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_rank_trains_the_same_task_at_each_step_on_its_own_shard(strategy):
    world = 2
    sizes = {"ner": 48, "cls": 24, "qa": 12}  # multiples of a step (2 ranks x 3): no pass ends inside a step
    sampler = MultiTaskBatchSampler(sizes, batch_size=3, strategy=strategy, seed=5, num_replicas=world)
    ranks = [list(BatchSamplerShard(sampler, num_processes=world, process_index=r)) for r in range(world)]
    assert len(ranks[0]) == len(ranks[1]) == sampler.num_steps()
    drawn: dict[str, list[int]] = {task: [] for task in sizes}
    for step, (batch0, batch1) in enumerate(zip(*ranks)):
        task = sampler.task_of(batch0[0])
        assert task == sampler.task_of(batch1[0]), f"step {step} mixes tasks across ranks"
        assert not set(batch0) & set(batch1), f"step {step}: both ranks got the same example"
        drawn[task] += batch0 + batch1
    # Each task's examples are visited pass by pass: every full pass holds each example exactly once.
    for task, indices in drawn.items():
        offset, size = sampler.offsets[task], sizes[task]
        for start in range(0, len(indices) - size + 1, size):
            assert sorted(indices[start : start + size]) == list(range(offset, offset + size)), (task, start)
    if strategy == "shuffled":
        # Across ranks, every example is still seen once per epoch.
        seen = {index for rank in ranks for batch in rank for index in batch}
        assert seen == set(range(sum(sizes.values())))


# --------------------------------------------------------------------------- length grouping
def _lengths(sizes, seed=0):
    import random

    rng = random.Random(seed)
    return {task: [rng.randint(20, 512) for _ in range(size)] for task, size in sizes.items()}


def _padded_tokens(sampler, lengths, batches):
    """Tokens after padding each batch to its longest window (the collator's dynamic padding)."""
    total = 0
    for batch in batches:
        task = sampler.task_of(batch[0])
        own = [lengths[task][index - sampler.offsets[task]] for index in batch]
        total += max(own) * len(own)
    return total


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_length_grouping_keeps_the_schedule_visits_every_window_once_and_groups_lengths(strategy):
    world = 2
    sizes = {"ner": 480, "cls": 240, "qa": 120}
    lengths = _lengths(sizes)
    plain = MultiTaskBatchSampler(sizes, batch_size=4, strategy=strategy, seed=7, num_replicas=world)
    grouped = MultiTaskBatchSampler(sizes, batch_size=4, strategy=strategy, seed=7, num_replicas=world,
                                    lengths=lengths)  # fmt: skip
    for epoch in (0, 1):
        plain.set_epoch(epoch)
        grouped.set_epoch(epoch)
        assert grouped.task_schedule() == plain.task_schedule()  # the task schedule is unchanged
        ranks = [list(BatchSamplerShard(grouped, num_processes=world, process_index=r)) for r in range(world)]
        for step, (batch0, batch1) in enumerate(zip(*ranks)):
            assert grouped.task_of(batch0[0]) == grouped.task_of(batch1[0]), f"step {step} mixes tasks across ranks"
            assert {grouped.task_of(i) for i in batch0 + batch1} == {grouped.task_of(batch0[0])}
        if strategy == "shuffled":  # every window once per epoch, across ranks
            seen = sorted(index for rank in ranks for batch in rank for index in batch)
            assert seen == list(range(sum(sizes.values())))
        batches = list(grouped)
        assert _padded_tokens(grouped, lengths, batches) < 0.8 * _padded_tokens(plain, lengths, list(plain))


def test_length_grouping_puts_similar_lengths_in_one_step_and_is_seeded():
    sizes = {"cls": 1000}
    lengths = _lengths(sizes, seed=3)
    sampler = MultiTaskBatchSampler(sizes, batch_size=8, seed=1, lengths=lengths)
    spreads = [max(lengths["cls"][i] for i in batch) - min(lengths["cls"][i] for i in batch) for batch in sampler]
    assert sorted(spreads)[len(spreads) // 2] < 30  # random batches of 8 over 20..512 spread ~380 tokens
    again = MultiTaskBatchSampler(sizes, batch_size=8, seed=1, lengths=lengths)
    assert list(again) == list(sampler)
    other = MultiTaskBatchSampler(sizes, batch_size=8, seed=2, lengths=lengths)
    assert list(other) != list(sampler)
    firsts = [max(lengths["cls"][i] for i in batch) for batch in list(sampler)[:20]]
    assert firsts != sorted(firsts, reverse=True)  # steps are shuffled, not longest first


def test_length_grouping_refuses_lengths_that_do_not_match_the_task():
    with pytest.raises(ValueError, match="lengths: task 'cls' has 10 examples but 9 lengths"):
        MultiTaskBatchSampler({"cls": 10}, batch_size=2, lengths={"cls": [5] * 9})
