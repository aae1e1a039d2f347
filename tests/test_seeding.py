"""ebm_utils.seeding: one book seed (EBM_SEED), streams of it, and nothing else seeds."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from ebm_utils import seeding
from ebm_utils.checks import random_points
from ebm_utils.continuous_energies import MLPEnergy
from ebm_utils.data import ring
from ebm_utils.label_energies import TinyLabelEnergy
from ebm_utils.sampling import sample_labels


@pytest.fixture
def unset(monkeypatch):
    monkeypatch.delenv(seeding.ENV_VAR, raising=False)


def test_default_seed_is_zero_and_streams_are_the_old_manual_seeds(unset):
    assert seeding.ENV_VAR == "EBM_SEED" and seeding.STRIDE == 1_000_003
    assert seeding.book_seed() == 0
    for k in (0, 1, 3, 999):
        assert seeding.seed_for(k) == k
        a = torch.randn(6, generator=seeding.generator(k), dtype=torch.float64)
        b = torch.randn(6, generator=torch.Generator().manual_seed(k), dtype=torch.float64)
        assert torch.equal(a, b)
    assert seeding.seed_for() == 0


def test_numpy_and_python_streams(unset):
    assert np.array_equal(seeding.numpy_rng(5).random(4), np.random.default_rng(5).random(4))
    assert seeding.python_rng(5).random() == random.Random(5).random()


def test_another_book_seed_changes_every_draw(monkeypatch):
    monkeypatch.setenv("EBM_SEED", "7")
    assert seeding.book_seed() == 7
    assert seeding.seed_for(3) == 7 * seeding.STRIDE + 3
    drawn = torch.randn(6, generator=seeding.generator(3), dtype=torch.float64)
    old = torch.randn(6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert not torch.equal(drawn, old)
    assert seeding.numpy_rng(3).random() != np.random.default_rng(3).random()
    assert seeding.python_rng(3).random() != random.Random(3).random()


def test_library_draws_follow_the_book_seed(monkeypatch):
    """Data sets, random points, model init and samplers all move with EBM_SEED."""
    e = torch.tensor([0.0, 0.5, 1.0, 3.0], dtype=torch.float64)

    def draws() -> list[torch.Tensor]:
        return [
            ring(5, stream=1),
            random_points(3, 2, stream=2),
            MLPEnergy(hidden=3).init(stream=3),
            TinyLabelEnergy().init(stream=4),
            sample_labels(e, 20, stream=5),
        ]

    monkeypatch.delenv("EBM_SEED", raising=False)
    first = draws()
    assert all(torch.equal(a, b) for a, b in zip(first, draws()))  # reproducible
    monkeypatch.setenv("EBM_SEED", "7")
    assert all(not torch.equal(a, b) for a, b in zip(first, draws()))  # every one moved


def test_streams_of_one_seed_differ_and_never_collide(monkeypatch):
    monkeypatch.setenv("EBM_SEED", "2")
    seeds = {seeding.seed_for(k) for k in (0, 1, seeding.STRIDE - 1)}
    assert len(seeds) == 3
    monkeypatch.setenv("EBM_SEED", "3")
    assert seeding.seed_for(0) == seeding.STRIDE * 3 > max(seeds)


@pytest.mark.parametrize("bad", ["-1", "abc", "1.5", "", " ", "7e3", "٣", "0x10"])
def test_bad_values_are_rejected_naming_the_variable(monkeypatch, bad):
    monkeypatch.setenv("EBM_SEED", bad)
    with pytest.raises(ValueError, match="EBM_SEED"):
        seeding.book_seed()
    with pytest.raises(ValueError, match="EBM_SEED"):
        seeding.generator(0)


def test_bad_streams_are_rejected(unset):
    with pytest.raises(ValueError):
        seeding.seed_for(-1)
    with pytest.raises(ValueError):
        seeding.seed_for(seeding.STRIDE)
    with pytest.raises(TypeError):
        seeding.generator(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        seeding.generator(True)  # type: ignore[arg-type]


def test_sweep(unset):
    assert seeding.sweep(3) == [0, 1, 2]
    assert seeding.sweep(2, first=10) == [10, 11]
    with pytest.raises(ValueError):
        seeding.sweep(0)
    with pytest.raises(ValueError):
        seeding.sweep(2, first=seeding.STRIDE - 1)
    with pytest.raises(TypeError):
        seeding.sweep(2.0)  # type: ignore[arg-type]


def test_the_library_seeds_only_in_seeding():
    """No module but seeding makes a generator."""
    import re
    from pathlib import Path

    root = Path(seeding.__file__).parent
    pattern = re.compile(r"manual_seed\(|default_rng\(|random\.Random\(|random\.seed\(|torch\.Generator\(\)")
    offenders = [
        f"{p.name}:{i}: {line.strip()}"
        for p in sorted(root.glob("*.py"))
        if p.name != "seeding.py"
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert offenders == []
