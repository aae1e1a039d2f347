"""Landscape measures of chapter 1.1 (pages (e)-(g)): grids, off-data points, separation, soft volume."""
from __future__ import annotations

import math

import pytest
import torch

from ebm_utils.landscape import energy_on_grid, off_data_mask, separation, soft_volume

f64 = torch.float64
# ---------------------------------------------------------------- landscape measures
def test_energy_on_grid_layout_matches_contourf():
    y1, y2, e = energy_on_grid(lambda p: p[:, 0] + 10 * p[:, 1], -1.0, 1.0, 4)
    assert y1.shape == y2.shape == e.shape == (4, 4)
    # rows follow y2, columns follow y1
    assert bool((y1[:, 1:] > y1[:, :-1]).all()) and bool((y2[1:, :] > y2[:-1, :]).all())
    torch.testing.assert_close(e, y1 + 10 * y2)


def test_energy_on_grid_rejects_wrong_energy_shape():
    with pytest.raises(ValueError, match="energies"):
        energy_on_grid(lambda p: p, -1.0, 1.0, 3)


def test_off_data_mask():
    data = torch.zeros(1, 2, dtype=f64)
    pts = torch.tensor([[0.1, 0.0], [0.5, 0.0], [0.0, -2.0]], dtype=f64)
    assert off_data_mask(pts, data, 0.3).tolist() == [False, True, True]
    with pytest.raises(ValueError):
        off_data_mask(pts, data, 0.0)
    with pytest.raises(ValueError):
        off_data_mask(pts, torch.zeros(1, 3, dtype=f64), 0.3)


def test_separation_values():
    low = torch.tensor([0.0, 1.0], dtype=f64)
    high = torch.tensor([2.0, 3.0, 4.0], dtype=f64)
    assert separation(low, high) == 1.0
    assert separation(high, low) == 0.0
    flat = torch.ones(5, dtype=f64)
    assert separation(flat, flat) == 0.5  # a flat landscape gives exactly 1/2
    assert separation(torch.tensor([1.0], dtype=f64), torch.tensor([0.0, 2.0], dtype=f64)) == 0.5


def test_separation_rejects_bad_input():
    with pytest.raises(ValueError):
        separation(torch.tensor([], dtype=f64), torch.ones(2, dtype=f64))
    with pytest.raises(ValueError):
        separation(torch.tensor([math.nan], dtype=f64), torch.ones(2, dtype=f64))
    with pytest.raises(TypeError):
        separation([0.0], torch.ones(2, dtype=f64))


def test_soft_volume_counts_low_energy_cells():
    e = torch.tensor([0.0, 0.0, 1e4, 1e4], dtype=f64)
    assert soft_volume(e, cell_area=0.25).item() == pytest.approx(0.5)
    # temperature: the same energies count more at high T
    e2 = torch.tensor([1.0, 1.0], dtype=f64)
    assert soft_volume(e2, 1.0, temperature=10.0) > soft_volume(e2, 1.0, temperature=1.0)
    # finite for very negative energies (logsumexp form)
    assert torch.isfinite(soft_volume(torch.tensor([-500.0], dtype=f64), 1.0, temperature=1.0))
    with pytest.raises(ValueError):
        soft_volume(e, cell_area=-1.0)
    with pytest.raises(ValueError):
        soft_volume(e, cell_area=1.0, temperature=0.0)


def test_soft_volume_gradient_pushes_low_energies_up():
    e = torch.tensor([0.0, 3.0], dtype=f64, requires_grad=True)
    soft_volume(e, 1.0).backward()
    # d/dF_i of sum exp(-F) = -exp(-F_i): negative, largest in size at the lowest energy
    torch.testing.assert_close(e.grad, -torch.exp(-e.detach()))
