"""Expert rows are drawn epoch by epoch: each epoch a seeded shuffle, the whole set before any repeat."""

from phasescope.config import ArmConfig
from phasescope.train.expert_order import epoch_permutation, rows_at, stream_position


def test_each_epoch_covers_the_set_before_any_row_repeats():
    n, batch = 10, 4
    stream = [r for k in range(5) for r in rows_at(k * batch, batch, n, seed=3)]  # 20 rows = 2 epochs
    assert sorted(stream[:10]) == list(range(10)) and sorted(stream[10:]) == list(range(10))
    assert stream[:10] == epoch_permutation(10, 3, 0) and stream[10:] == epoch_permutation(10, 3, 1)
    assert stream[:10] != stream[10:]  # a fresh shuffle each epoch


def test_draws_are_reproducible_and_depend_on_the_seed():
    assert rows_at(7, 4, 10, seed=1) == rows_at(7, 4, 10, seed=1)
    assert epoch_permutation(100, 1, 0) != epoch_permutation(100, 2, 0)


def test_a_batch_straddling_an_epoch_end_takes_the_rest_then_the_next_epochs_start():
    assert rows_at(8, 4, 10, seed=0) == epoch_permutation(10, 0, 0)[8:] + epoch_permutation(10, 0, 1)[:2]


def test_position_counts_only_updates_that_score_expert_rows():
    stl = ArmConfig(schedule="step", sft_steps=3)  # updates 1-3 score expert rows, then none
    assert [stream_position(s, stl, 4) for s in range(1, 7)] == [0, 4, 8, 12, 12, 12]
    cm = ArmConfig(schedule="warmup_cosine", mu_warmup_steps=2, mu_decay_steps=2, mu_peak=0.9, mu_valley=0.0)
    # μ(1) = 0.45, μ(2) = 0.9, μ(3) = 0.45, μ(4) = 0: rows for updates 1-3 only
    assert [stream_position(s, cm, 4) for s in range(1, 7)] == [0, 4, 8, 12, 12, 12]
