"""What every GAN here shares: the latent prior, the optimizers, the alternating D/G update with
n_critic D steps per G step, the training tricks, and an EMA copy of G.

A training step (one call of ``train_step``, one real batch) is one D update; G is updated after
every ``n_critic``-th D update, reusing that step's fake batch, so a run of ``steps`` steps makes
``steps // n_critic`` G updates and every D update sees a fresh real batch.

The tricks (fields of :class:`genbench_gans.AdversarialConfig`):

* ``latent``: z ~ N(0, I) ("gaussian") or U[-1, 1] ("uniform").
* ``label_smoothing`` (one-sided: the real target, e.g. 0.9), ``noisy_labels`` (real targets
  ~ U(0.7, 1.2), fake ~ U(0.0, 0.3)), ``label_flip`` (each D target swapped real<->fake with this
  probability): D's targets, see :func:`discriminator_targets`. They apply to the objectives
  with targets (cross-entropy, least squares), not to the Wasserstein or hinge losses, which
  have none; setting one there is refused when the model is built. ``g_loss`` (minimax or
  non-saturating) is the cross-entropy objective's and is refused elsewhere too.
* ``instance_noise``: N(0, s^2) noise on every input D sees (real and fake, in D's and G's
  steps), s annealed linearly from the given std to 0 over the run's steps. Applies to all.
* ``d_optimizer`` / ``g_optimizer``, ``lr_d`` / ``lr_g`` (two time-scale updates), ``n_critic``.
* ``ema``: decay of an exponential moving average of G's weights (BatchNorm statistics are
  copied); when on, ``generate`` and ``sample`` use the average, which is saved in checkpoints.

Hooks for conditional variants: ``conditional`` (labels reach G and D), ``fake_labels``, and
``extra_d_loss`` / ``extra_g_loss``, which see D's features (``Discriminator.features``) so
extra heads on D need no second forward pass.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from genbench.errors import GenbenchError
from genbench.model import GenerativeModel
from genbench_gans.nets import init_normal  # noqa: F401  (re-exported for plugins)
from genbench_gans.objectives import CrossEntropy, Objective, gradient_penalty

NOISY_REAL = (0.7, 1.2)
NOISY_FAKE = (0.0, 0.3)


def discriminator_targets(n: int, config, generator: torch.Generator | None = None,
                          device: torch.device | str = "cpu"
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """D's targets for n real and n fake examples, in [0, 1] terms (1 = real), made on
    ``device`` (the CPU by default; training makes them where D is, so nothing is copied).

    Plain: ones and zeros. ``noisy_labels``: real ~ U(0.7, 1.2), fake ~ U(0.0, 0.3).
    ``label_smoothing`` > 0: every real target is that value (one-sided; fakes stay 0).
    ``label_flip`` = p: each pair (real i, fake i) swaps targets with probability p.
    Draws random numbers (from ``generator``, or that device's global RNG) only for the
    tricks that are on.
    """
    def uniform() -> torch.Tensor:  # from the generator's device, then to D's
        if generator is None:
            return torch.rand(n, device=device)
        return torch.rand(n, generator=generator, device=generator.device).to(device)

    if config.noisy_labels:
        lo, hi = NOISY_REAL
        real = lo + (hi - lo) * uniform()
        lo, hi = NOISY_FAKE
        fake = lo + (hi - lo) * uniform()
    else:
        real = torch.full((n,), config.label_smoothing or 1.0, device=device)
        fake = torch.zeros(n, device=device)
    if config.label_flip > 0:
        flip = uniform() < config.label_flip
        real, fake = torch.where(flip, fake, real), torch.where(flip, real, fake)
    return real, fake


TARGET_TRICKS = ("label_smoothing", "noisy_labels", "label_flip")


def check_config(config, objective: Objective, model: str = "this model") -> None:
    """Refuse settings that do not apply to ``objective`` (the ranges of each setting are
    declared on the config dataclasses and checked before a model is built)."""
    def bad(message: str) -> GenbenchError:
        return GenbenchError(f"{model}: {message}")

    if not objective.uses_targets:
        on = [name for name in TARGET_TRICKS if getattr(config, name)]
        if on:
            raise bad(f"{', '.join(on)} changes D's real/fake targets, but the {objective.name} "
                      f"loss has no targets; these tricks apply to the cross-entropy and "
                      f"least-squares objectives")
    if config.g_loss != "non_saturating" and not isinstance(objective, CrossEntropy):
        raise bad(f"g_loss={config.g_loss} is a choice for the cross-entropy objective; the "
                  f"{objective.name} loss has its own generator loss")


def make_optimizer(kind: str, params, lr: float, betas: tuple[float, float]):
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas)
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    raise GenbenchError(f"unknown optimizer {kind!r}; choose adam, rmsprop or sgd")


def draw_latent(config, n: int, device, generator: torch.Generator | None = None
                ) -> torch.Tensor:
    """n latent vectors of ``config.latent_dim`` (``config.latent``: uniform in [-1, 1] or
    normal) on ``device``; with a generator drawn on the CPU, so a seed gives the same vectors
    on any device."""
    shape = (n, config.latent_dim)
    where = "cpu" if generator is not None else device
    if config.latent == "uniform":
        z = torch.rand(shape, generator=generator, device=where) * 2 - 1
    else:
        z = torch.randn(shape, generator=generator, device=where)
    return z.to(device)


class AdversarialModel(GenerativeModel):
    """A generator G(z) and a discriminator (critic) D(x) returning one score per example,
    trained on ``objective`` with the tricks in the config.

    ``clip`` > 0 clamps every D parameter to [-clip, clip] after each D update (WGAN);
    ``gp_weight`` > 0 adds that multiple of the gradient penalty to D's loss (WGAN-GP).
    """

    conditional = False

    def __init__(self, config, generator: nn.Module, discriminator: nn.Module,
                 objective: Objective, *, clip: float = 0.0, gp_weight: float = 0.0,
                 name: str = "this model"):
        super().__init__()
        check_config(config, objective, name)
        self.config = config
        self.objective = objective
        self.clip = clip
        self.gp_weight = gp_weight
        self.generator = generator
        self.discriminator = discriminator
        # Steps taken, in the checkpoint: drives the n_critic schedule and the noise annealing.
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.ema_generator: nn.Module | None = None
        if config.ema:
            self.ema_generator = copy.deepcopy(generator).requires_grad_(False)
        betas = (config.beta1, config.beta2)
        self.optimizers = {
            "g": make_optimizer(config.g_optimizer, generator.parameters(), config.lr_g, betas),
            "d": make_optimizer(config.d_optimizer, discriminator.parameters(), config.lr_d,
                                betas),
        }

    # -- sampling -------------------------------------------------------------------------

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n latent vectors on the model's device. With a generator (sampling) they are drawn
        on the CPU, so a seed gives the same samples on any device; without one (training)
        on the model's device, from its global RNG, so nothing is copied."""
        return draw_latent(self.config, n, self.device, generator)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """G(z) (the EMA copy when ``ema`` is on), always in eval mode: BatchNorm uses its
        running statistics, so samples do not depend on the batch or on the model's mode."""
        net = self.ema_generator if self.ema_generator is not None else self.generator
        was_training = net.training
        net.eval()
        try:
            return net(z) if labels is None else net(z, labels)
        finally:
            net.train(was_training)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.generate(self.latent(n, generator))

    # -- training -------------------------------------------------------------------------

    def instance_noise_std(self) -> float:
        """The instance-noise std at the current step: linear from the setting to 0."""
        if not self.config.instance_noise:
            return 0.0
        left = max(0.0, 1.0 - self.step_count / max(1, self.config.steps))
        return self.config.instance_noise * left

    def fake_labels(self, n: int, y: torch.Tensor | None) -> torch.Tensor | None:
        """Labels to generate with (conditional variants); None here."""
        return None

    def extra_d_loss(self, h_real, y_real, h_fake, y_fake):
        """Extra D loss from D's features (e.g. an auxiliary classifier); None here."""
        return None

    def extra_g_loss(self, h_fake, y_fake, z):
        """Extra G loss from D's features of the fakes (e.g. InfoGAN's Q); None here."""
        return None

    def _critic(self, x: torch.Tensor, labels: torch.Tensor | None, noise: float):
        if noise:
            x = x + noise * torch.randn(x.shape, device=x.device)
        h = self.discriminator.features(x, labels)
        return self.discriminator.logits(h), h, x

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        cfg, obj = self.config, self.objective
        n = x.shape[0]
        update_g = (self.step_count + 1) % cfg.n_critic == 0
        y_real = y if self.conditional else None
        y_fake = self.fake_labels(n, y)
        z = self.latent(n)
        with torch.set_grad_enabled(update_g):
            fake = self.generator(z) if y_fake is None else self.generator(z, y_fake)
        sigma = self.instance_noise_std()

        # D update
        d_real, h_real, real_in = self._critic(x, y_real, sigma)
        d_fake, h_fake, fake_in = self._critic(fake.detach(), y_fake, sigma)
        if obj.uses_targets:
            t_real, t_fake = discriminator_targets(n, cfg, device=d_real.device)
            loss_d = obj.d_loss(d_real, d_fake, t_real.to(d_real), t_fake.to(d_fake))
        else:
            loss_d = obj.d_loss(d_real, d_fake)
        logs: dict[str, torch.Tensor] = {}
        if self.gp_weight:
            penalty = gradient_penalty(lambda v: self.discriminator(v, y_real), real_in,
                                       fake_in)
            loss_d = loss_d + self.gp_weight * penalty
            logs["gp"] = penalty.detach()
        extra = self.extra_d_loss(h_real, y_real, h_fake, y_fake)
        if extra is not None:
            loss_d = loss_d + extra
        self.optimizers["d"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["d"].step()
        if self.clip:
            with torch.no_grad():
                for p in self.discriminator.parameters():
                    p.clamp_(-self.clip, self.clip)

        # G update, every n_critic-th step, on this step's fakes
        if update_g:
            d_fake, h_fake, _ = self._critic(fake, y_fake, sigma)
            loss_g = obj.g_loss(d_fake)
            extra = self.extra_g_loss(h_fake, y_fake, z)
            if extra is not None:
                loss_g = loss_g + extra
            self.optimizers["g"].zero_grad(set_to_none=True)
            loss_g.backward()
            self.optimizers["g"].step()
            self._update_ema()
        else:  # logged only: G's loss on this batch before D's update
            loss_g = obj.g_loss(d_fake.detach())
        self.count_step()

        def show(v: torch.Tensor) -> torch.Tensor:
            v = v.detach()
            return (torch.sigmoid(v) if obj.probabilities else v).mean()

        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), "D(x)": show(d_real),
                "D(G(z))": show(d_fake), **logs}

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.ema_generator is None:
            return
        decay = self.config.ema
        for avg, p in zip(self.ema_generator.parameters(), self.generator.parameters(),
                          strict=True):
            avg.lerp_(p, 1.0 - decay)
        for avg, b in zip(self.ema_generator.buffers(), self.generator.buffers(), strict=True):
            avg.copy_(b)

    def load_training_state(self, state: dict) -> None:
        module = state.get("module") if isinstance(state, dict) else None
        if isinstance(module, dict):
            state = {**state, "module": upgrade_module_state(module)}
        super().load_training_state(state)


def upgrade_module_state(module: dict) -> dict:
    """Read checkpoints of the first gan/dcgan: D was one ``net`` Sequential (now ``body`` and a
    last-layer ``head``) and there was no step counter (they resume from step 0)."""
    prefix = "discriminator.net."
    old = [k for k in module if k.startswith(prefix)]
    if not old and "steps_done" in module:
        return module
    last = max((int(k[len(prefix):].split(".")[0]) for k in old), default=-1)
    out = {}
    for key, value in module.items():
        if key.startswith(prefix):
            index, _, rest = key[len(prefix):].partition(".")
            key = (f"discriminator.head.{rest}" if int(index) == last
                   else f"discriminator.body.{index}.{rest}")
        out[key] = value
    out.setdefault("steps_done", torch.zeros((), dtype=torch.long))
    return out
