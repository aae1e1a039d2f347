"""Tested helpers for the executable energy-based models textbook.

One concept a module, one home for each helper (the pages import, never copy):

* :mod:`ebm_utils.losses`     -- Gibbs distribution, free energy and the losses
* :mod:`ebm_utils.symbolic`   -- sympy building blocks and sympy-to-numpy/torch
* :mod:`ebm_utils.derivation` -- machine-checked derivation chains
* :mod:`ebm_utils.checks`     -- gradient checks against autograd and finite differences
* :mod:`ebm_utils.data`       -- seeded toy data sets
* :mod:`ebm_utils.training`   -- the training loop with a recorded history
* :mod:`ebm_utils.plotting`   -- the book's figure style
"""
from . import checks, data, derivation, losses, plotting, symbolic, training
from .checks import GradientMismatch, GradientReport, check_gradient, gradcheck_derived, random_points
from .derivation import Derivation, DerivationError
from .losses import (
    free_energy,
    gibbs_distribution,
    hinge_loss,
    log_loss,
    nll_loss,
    simple_loss,
    square_square_loss,
)

__all__ = [
    "checks",
    "data",
    "training",
    "derivation",
    "losses",
    "plotting",
    "symbolic",
    "Derivation",
    "DerivationError",
    "GradientMismatch",
    "GradientReport",
    "check_gradient",
    "gradcheck_derived",
    "random_points",
    "free_energy",
    "gibbs_distribution",
    "hinge_loss",
    "log_loss",
    "nll_loss",
    "simple_loss",
    "square_square_loss",
]
__version__ = "0.1.0"
