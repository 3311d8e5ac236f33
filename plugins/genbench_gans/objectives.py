"""The adversarial losses, each as D's loss and G's loss on D's raw outputs (logits/scores).

* :class:`CrossEntropy`: Goodfellow et al. 2014, with the non-saturating or minimax G loss.
* :class:`LeastSquares`: Mao et al. 2017, a-b-c coding (a=0 fake, b=1 real, c=1 G's target).
* :class:`Wasserstein`: Arjovsky et al. 2017, critic loss D(fake) - D(real).
* :class:`Hinge`: the hinge loss used with spectral norm (Miyato et al. 2018).

Objectives with ``uses_targets`` take D's per-example real and fake targets (in [0, 1] terms:
1 = real, 0 = fake), so the label tricks of :func:`genbench_gans.core.discriminator_targets`
apply to them; the Wasserstein and hinge losses have no targets.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

import torch
import torch.nn.functional as F


class Objective:
    name = ""
    uses_targets = False
    #: how D's outputs are reported in the logs: probabilities or raw scores
    probabilities = False

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor, real_targets=None,
               fake_targets=None) -> torch.Tensor:
        raise NotImplementedError

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class CrossEntropy(Objective):
    name = "cross-entropy"
    uses_targets = True
    probabilities = True

    def __init__(self, g_loss: str = "non_saturating"):
        self.g_mode = g_loss

    def d_loss(self, real, fake, real_targets=None, fake_targets=None):
        real_targets = torch.ones_like(real) if real_targets is None else real_targets
        fake_targets = torch.zeros_like(fake) if fake_targets is None else fake_targets
        return (F.binary_cross_entropy_with_logits(real, real_targets)
                + F.binary_cross_entropy_with_logits(fake, fake_targets))

    def g_loss(self, fake):
        if self.g_mode == "minimax":  # minimise log(1 - D(G(z))), the 2014 paper's game
            return -F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        # maximise log D(G(z)): same fixed point, strong gradients early on
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


class LeastSquares(Objective):
    """D: 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]; G: 1/2 E[(D(G(z)) - c)^2]. A target t
    in [0, 1] stands for a + t (b - a), so smoothed or noisy targets keep their meaning."""

    name = "least-squares"
    uses_targets = True

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0):
        self.a, self.b, self.c = a, b, c

    def _code(self, t: torch.Tensor | None, like: torch.Tensor, default: float) -> torch.Tensor:
        if t is None:
            return torch.full_like(like, default)
        return self.a + t * (self.b - self.a)

    def d_loss(self, real, fake, real_targets=None, fake_targets=None):
        real_t = self._code(real_targets, real, self.b)
        fake_t = self._code(fake_targets, fake, self.a)
        return 0.5 * ((real - real_t) ** 2).mean() + 0.5 * ((fake - fake_t) ** 2).mean()

    def g_loss(self, fake):
        return 0.5 * ((fake - self.c) ** 2).mean()


class Wasserstein(Objective):
    """The critic maximises E[D(x)] - E[D(G(z))], i.e. minimises the negation; G minimises
    -E[D(G(z))]. Needs D to be (roughly) 1-Lipschitz: weight clipping or a gradient penalty."""

    name = "Wasserstein"

    def d_loss(self, real, fake, real_targets=None, fake_targets=None):
        return fake.mean() - real.mean()

    def g_loss(self, fake):
        return -fake.mean()


class Hinge(Objective):
    """D: E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]; G: -E[D(G(z))]."""

    name = "hinge"

    def d_loss(self, real, fake, real_targets=None, fake_targets=None):
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()

    def g_loss(self, fake):
        return -fake.mean()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, generator: torch.Generator | None = None
                     ) -> torch.Tensor:
    """Gulrajani et al. 2017: E[(||grad_x D(x_hat)||_2 - 1)^2] at x_hat = e x + (1 - e) x~,
    e ~ U(0, 1) per example (from ``generator`` on the CPU, else from the global RNG of
    the data's device), differentiable for D's update."""
    device = "cpu" if generator is not None else real.device
    eps = torch.rand(real.shape[0], generator=generator, device=device).to(real)
    eps = eps.view(-1, *([1] * (real.dim() - 1)))
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    with _eager():
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def _eager():
    """The penalty is differentiated twice, which torch.compile's graphs cannot be: a critic
    compiled by genbench (--compile) runs eagerly here."""
    stance = getattr(torch.compiler, "set_stance", None)  # torch >= 2.6
    return stance("force_eager") if stance is not None else nullcontext()
