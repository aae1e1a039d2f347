"""Tested helpers for the executable energy-based models textbook.

One concept a module, one home for each helper (the pages import, never copy):

* :mod:`ebm_utils.losses`     -- Gibbs distribution, free energy and the losses
* :mod:`ebm_utils.symbolic`   -- sympy building blocks and sympy-to-numpy/torch
* :mod:`ebm_utils.derivation` -- machine-checked derivation chains
* :mod:`ebm_utils.checks`     -- gradient checks against autograd and finite differences
* :mod:`ebm_utils.data`       -- seeded toy data sets
* :mod:`ebm_utils.training`   -- the training loop with a recorded history
* :mod:`ebm_utils.toy_energies`  -- analytic energies with known minimum sets (1.1)
* :mod:`ebm_utils.inference`  -- argmin sets, descent, partition functions, latent free energy (1.1)
* :mod:`ebm_utils.energies`   -- small trainable energies of 2-D points, landscape measures (1.1)
* :mod:`ebm_utils.label_energies` -- linear and MLP energies over n labels (1.2)
* :mod:`ebm_utils.sampling`   -- Gibbs sampling of labels, Monte Carlo negative phase, MCMC (1.2)
* :mod:`ebm_utils.pairwise`   -- chain rule for losses of one correct and one incorrect answer (1.3)
* :mod:`ebm_utils.comparison` -- the NLL and pairwise losses side by side (1.3(d))
* :mod:`ebm_utils.plotting`   -- the book's figure style
"""
from . import (
    checks,
    comparison,
    data,
    derivation,
    energies,
    inference,
    label_energies,
    losses,
    pairwise,
    plotting,
    sampling,
    symbolic,
    toy_energies,
    training,
)
from .checks import GradientMismatch, GradientReport, check_gradient, gradcheck_derived, random_points
from .derivation import Derivation, DerivationError
from .losses import (
    energy_loss,
    free_energy,
    gibbs_distribution,
    hinge_loss,
    log_loss,
    lvq2_loss,
    mce_loss,
    mee_loss,
    most_offending_incorrect,
    nll_loss,
    perceptron_loss,
    simple_loss,
    square_exp_loss,
    square_square_loss,
)

__all__ = [
    "checks",
    "comparison",
    "data",
    "energies",
    "inference",
    "label_energies",
    "pairwise",
    "sampling",
    "toy_energies",
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
    "energy_loss",
    "perceptron_loss",
    "most_offending_incorrect",
    "lvq2_loss",
    "mce_loss",
    "square_exp_loss",
    "mee_loss",
]
__version__ = "0.1.0"
