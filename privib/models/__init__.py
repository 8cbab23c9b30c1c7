"""Plain ``nn.Module`` components, free of Lightning, so export touches only these."""
from privib.models.distributions import kl_standard_normal, reparameterize
from privib.models.gradient_reversal import GradientReversal, grad_reverse
from privib.models.networks import ClassifierHead, GaussianMLPEncoder, make_mlp
from privib.models.vib import VIBModel

__all__ = [
    "ClassifierHead",
    "GaussianMLPEncoder",
    "GradientReversal",
    "VIBModel",
    "grad_reverse",
    "kl_standard_normal",
    "make_mlp",
    "reparameterize",
]
