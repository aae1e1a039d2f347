"""Tested helpers for the executable energy-based models textbook.

One concept a module, one home for each helper (the pages import, never copy).
From the foundations up (a module imports only modules listed before it;
``tests/test_layering.py`` checks this from the code's own imports):

* :mod:`ebm_utils._validation` -- the argument checks every public function uses
* :mod:`ebm_utils.seeding`    -- one source of randomness: the book seed ``EBM_SEED`` and its streams
* :mod:`ebm_utils.symbolic`   -- sympy building blocks and sympy-to-numpy/torch
* :mod:`ebm_utils.plotting`   -- the book's figure style
* :mod:`ebm_utils.losses`     -- Gibbs distribution, free energy, every loss, the loss registry
* :mod:`ebm_utils.derivation` -- machine-checked derivation chains
* :mod:`ebm_utils.checks`     -- gradient checks, one-sided derivatives, seeded random points
* :mod:`ebm_utils.data`       -- seeded toy data sets
* :mod:`ebm_utils.training`   -- the training loop with a recorded history; training a table of energies
* :mod:`ebm_utils.inference`  -- argmin sets, descent, partition functions, latent free energy, calibration
* :mod:`ebm_utils.energies`   -- the one energy interface ``model(w, x, y)``, ``init``, ``grad_w``, ``grad_y``
* :mod:`ebm_utils.continuous_energies` -- energies of continuous outputs: MLP, K-means, subspace, ring, ellipse with a latent angle
* :mod:`ebm_utils.label_energies` -- energies over n labels: linear, MLP, tiny
* :mod:`ebm_utils.chain_rule` -- the chain rule for losses of one correct and one incorrect answer
* :mod:`ebm_utils.landscape`  -- judging a learned landscape: grids, off-data points, separation, soft volume
* :mod:`ebm_utils.costs`      -- what a loss costs in energy and gradient evaluations
* :mod:`ebm_utils.sampling`   -- Gibbs sampling of labels, Monte Carlo negative phase, MCMC
* :mod:`ebm_utils.langevin`   -- Langevin and MALA samplers of continuous energies, a replay buffer
* :mod:`ebm_utils.ml_gradient` -- the maximum-likelihood gradient: exact on a grid, CD-k, persistent chains

``import ebm_utils`` is light: it loads neither torch nor sympy, numpy or
matplotlib.  The submodules and the names re-exported here load on first use
(PEP 562), so ``ebm_utils.nll_loss`` and ``from ebm_utils import losses`` work
as usual.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "seeding",
    "symbolic",
    "plotting",
    "losses",
    "derivation",
    "checks",
    "data",
    "training",
    "inference",
    "energies",
    "continuous_energies",
    "label_energies",
    "chain_rule",
    "landscape",
    "costs",
    "sampling",
    "langevin",
    "ml_gradient",
)

# name -> the submodule that defines it
_EXPORTS = {
    "Derivation": "derivation",
    "DerivationError": "derivation",
    "GradientMismatch": "checks",
    "GradientReport": "checks",
    "check_gradient": "checks",
    "gradcheck_derived": "checks",
    "random_points": "checks",
    "generator": "seeding",
    "Energy": "energies",
    "ContinuousEnergy": "energies",
    "LabelEnergy": "energies",
    "LatentEnergy": "energies",
    "free_energy": "losses",
    "gibbs_distribution": "losses",
    "hinge_loss": "losses",
    "log_loss": "losses",
    "nll_loss": "losses",
    "simple_loss": "losses",
    "square_square_loss": "losses",
    "soft_hinge_loss": "losses",
    "energy_loss": "losses",
    "perceptron_loss": "losses",
    "most_offending_incorrect": "losses",
    "lvq2_loss": "losses",
    "mce_loss": "losses",
    "square_exp_loss": "losses",
    "mee_loss": "losses",
}

__all__ = [*_SUBMODULES, *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Load a submodule, or the submodule defining a re-exported name, on first use."""
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip __getattr__
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
