"""GANs that use class labels or learn codes: conditional GAN, AC-GAN, InfoGAN, BiGAN and the
semi-supervised GAN. All build on :class:`genbench_gans.core.AdversarialModel` and the DCGAN-style
networks of :mod:`genbench_gans.nets` (images only, 32x32 or 64x64).

The label-taking variants (cgan, acgan, sgan) need a labelled dataset (``num_classes > 0``, e.g.
``digits`` with 10 classes or ``stacked-digits`` with 1000); their factories refuse others.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genbench.errors import GenbenchError
from genbench.model import DataInfo
from genbench_gans.core import AdversarialModel, discriminator_targets, make_optimizer
from genbench_gans.nets import ConvDiscriminator, ConvGenerator, add_spectral_norm, init_normal
from genbench_gans.objectives import CrossEntropy


def _image_shape(name: str, data: DataInfo) -> tuple[int, int, int]:
    if data.kind != "images" or len(data.shape) != 3:
        raise GenbenchError(f"{name}: takes (C, H, W) images, got {data.kind} of shape "
                            f"{tuple(data.shape)}")
    channels, height, width = data.shape
    if height != width:
        raise GenbenchError(f"{name}: the convolutional nets take square images, got "
                            f"{height}x{width}")
    return channels, height, width


def _need_labels(name: str, data: DataInfo) -> int:
    if data.num_classes <= 0:
        raise GenbenchError(f"{name}: needs class labels, but this dataset has none "
                            f"(num_classes=0); use a labelled image dataset such as digits")
    return data.num_classes


def _generator(config, data: DataInfo, num_classes: int = 0,
               latent_dim: int | None = None) -> ConvGenerator:
    channels, size, _ = data.shape
    g = ConvGenerator(latent_dim or config.latent_dim, config.ngf, channels, size,
                      norm=config.g_norm, num_classes=num_classes)
    init_normal(g)
    return g


def _discriminator(config, data: DataInfo, num_classes: int = 0) -> ConvDiscriminator:
    channels, size, _ = data.shape
    d = ConvDiscriminator(config.ndf, channels, size, norm=config.d_norm,
                          act=config.d_activation, num_classes=num_classes)
    init_normal(d)
    return d


def _feature_size(d: ConvDiscriminator, shape: tuple[int, ...]) -> int:
    """The flattened size of D's features for one input of ``shape``."""
    was = d.training
    d.eval()
    with torch.no_grad():
        size = d.body(torch.zeros(1, *shape)).numel()
    d.train(was)
    return size


def _finish(config, d: nn.Module) -> nn.Module:
    if config.spectral_norm:
        add_spectral_norm(d)
    return d


# -- conditional GAN ------------------------------------------------------------------------

class ConditionalGAN(AdversarialModel):
    """Mirza & Osindero 2014: G(z, y) and D(x, y), each with a learned label embedding (G
    appends it to z, D sees it as an extra input channel). Fakes are made for labels drawn
    uniformly at random; ``sample`` does the same (from its generator), so the model can be
    scored unconditionally, and ``generate(z, labels)`` gives chosen classes."""

    conditional = True

    def __init__(self, config, generator, discriminator, objective, num_classes: int,
                 name: str = "cgan", **kwargs):
        super().__init__(config, generator, discriminator, objective, name=name, **kwargs)
        self.num_classes = num_classes
        self.name = name

    def random_labels(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n labels uniform over the classes, on the model's device: drawn on the CPU from
        ``generator``, or without one (training) on the model's device."""
        device = "cpu" if generator is not None else self.device
        return torch.randint(0, self.num_classes, (n,), generator=generator,
                             device=device).to(self.device)

    def fake_labels(self, n: int, y: torch.Tensor | None) -> torch.Tensor:
        return self.random_labels(n)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if y is None:
            raise GenbenchError(f"{self.name}: training needs class labels with every batch")
        return super().train_step(x, y.long())

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = self.latent(n, generator)
        return self.generate(z, self.random_labels(n, generator))


def build_cgan(config, data: DataInfo) -> ConditionalGAN:
    k = _need_labels("cgan", data)
    _image_shape("cgan", data)
    g = _generator(config, data, num_classes=k)
    d = _finish(config, _discriminator(config, data, num_classes=k))
    return ConditionalGAN(config, g, d, CrossEntropy(config.g_loss), k, name="cgan")


# -- AC-GAN ---------------------------------------------------------------------------------

class AuxiliaryClassifierGAN(ConditionalGAN):
    """Odena et al. 2017: G(z, c) as in the cGAN, but D does not see the label; instead an
    auxiliary classifier head on D's features predicts the class. D maximises L_S + L_C and G
    maximises L_C - L_S, where L_S is the real/fake log-likelihood (the shared cross-entropy
    objective) and L_C the class log-likelihood of the real examples (D's step) and of the
    fakes (both steps), weighted by ``aux_weight``. D's head is ``discriminator.classifier``.
    The real batch's labels still travel with it (``conditional``) so the class loss can use
    them; D has no label embedding, so its real/fake score does not see them.

    As in the paper, the class head also learns from the fakes, so G and the head can settle on
    a wrong class for a label (classes swap or merge: Gong et al. 2019, Twin Auxiliary
    Classifiers GAN). On a 10-class toy this happened for some seeds and not others."""

    def classify(self, h: torch.Tensor) -> torch.Tensor:
        """(N, K) class logits from D's features."""
        return self.discriminator.classifier(h.flatten(1))

    def extra_d_loss(self, h_real, y_real, h_fake, y_fake):
        loss = (F.cross_entropy(self.classify(h_real), y_real)
                + F.cross_entropy(self.classify(h_fake), y_fake))
        return self.config.aux_weight * loss

    def extra_g_loss(self, h_fake, y_fake, z):
        return self.config.aux_weight * F.cross_entropy(self.classify(h_fake), y_fake)


def build_acgan(config, data: DataInfo) -> AuxiliaryClassifierGAN:
    k = _need_labels("acgan", data)
    shape = _image_shape("acgan", data)
    g = _generator(config, data, num_classes=k)
    d = _discriminator(config, data)  # no label input: the classifier head predicts it
    d.classifier = nn.Linear(_feature_size(d, shape), k)
    _finish(config, d)
    return AuxiliaryClassifierGAN(config, g, d, CrossEntropy(config.g_loss), k, name="acgan")


# -- InfoGAN --------------------------------------------------------------------------------

class InfoGAN(AdversarialModel):
    """Chen et al. 2016: G's input is noise (``latent_dim``) followed by a one-hot categorical
    code (``categorical`` values, uniform) and ``continuous`` codes ~ U(-1, 1). A Q head on D's
    features (``discriminator.q``: one hidden layer) predicts the codes of fakes: logits for the
    categorical code and a mean and log-std per continuous code. The variational lower bound
    on the mutual information, as a loss (cross-entropy plus Gaussian negative
    log-likelihood), weighted by ``info_weight`` (lambda), is added to D's loss (training D's
    body and Q on the detached fakes) and to G's loss. Unsupervised: labels are not used.

    ``latent`` returns the whole input vector (noise, one-hot code, continuous codes), so
    ``generate`` and latent interpolation work on it as on any GAN here."""

    def __init__(self, config, generator, discriminator, objective, name: str = "infogan"):
        super().__init__(config, generator, discriminator, objective, name=name)
        self._last_latent: torch.Tensor | None = None

    @property
    def input_dim(self) -> int:
        cfg = self.config
        return cfg.latent_dim + cfg.categorical + cfg.continuous

    def compose(self, noise: torch.Tensor, codes: torch.Tensor,
                continuous: torch.Tensor) -> torch.Tensor:
        """G's input from noise (N, latent_dim), categorical codes (N,) and continuous codes
        (N, continuous)."""
        one_hot = F.one_hot(codes.long(), self.config.categorical).to(noise)
        return torch.cat([noise, one_hot, continuous.to(noise)], dim=1)

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = super().latent(n, generator)
        device = "cpu" if generator is not None else noise.device  # as the noise is drawn
        codes = torch.randint(0, self.config.categorical, (n,), generator=generator,
                              device=device)
        continuous = torch.rand((n, self.config.continuous), generator=generator,
                                device=device) * 2 - 1
        z = self.compose(noise, codes.to(noise.device), continuous)
        # train_step draws the fakes' latents here; D's step reads them back for Q's loss.
        self._last_latent = z
        return z

    def info_loss(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Minus the mutual-information lower bound (up to constants) for fakes with D
        features ``h`` made from latents ``z``."""
        cfg = self.config
        out = self.discriminator.q(h.flatten(1))
        start = cfg.latent_dim
        codes = z[:, start:start + cfg.categorical].argmax(dim=1)
        loss = F.cross_entropy(out[:, :cfg.categorical], codes)
        if cfg.continuous:
            target = z[:, start + cfg.categorical:]
            mean = out[:, cfg.categorical:cfg.categorical + cfg.continuous]
            log_std = out[:, cfg.categorical + cfg.continuous:].clamp(-5.0, 5.0)
            nll = log_std + 0.5 * ((target - mean) * torch.exp(-log_std)) ** 2
            loss = loss + nll.sum(dim=1).mean()
        return cfg.info_weight * loss

    def extra_d_loss(self, h_real, y_real, h_fake, y_fake):
        return self.info_loss(h_fake, self._last_latent.detach())

    def extra_g_loss(self, h_fake, y_fake, z):
        return self.info_loss(h_fake, z)

    @torch.no_grad()
    def traversal(self, generator: torch.Generator | None = None, steps: int = 10,
                  code: int = 0) -> tuple[torch.Tensor, int]:
        """Images with the noise fixed: one row per categorical value, columns sweeping
        continuous code ``code`` from -1 to 1 (the other continuous codes at 0). Returns
        (images, number of columns)."""
        cfg = self.config
        noise = super().latent(1, generator).expand(cfg.categorical * steps, -1)
        codes = torch.arange(cfg.categorical, device=noise.device).repeat_interleave(steps)
        continuous = torch.zeros(cfg.categorical * steps, cfg.continuous)
        if cfg.continuous:
            continuous[:, code] = torch.linspace(-1, 1, steps).repeat(cfg.categorical)
        return self.generate(self.compose(noise, codes, continuous)), steps


def build_infogan(config, data: DataInfo) -> InfoGAN:
    shape = _image_shape("infogan", data)
    g = _generator(config, data,
                   latent_dim=config.latent_dim + config.categorical + config.continuous)
    d = _discriminator(config, data)
    d.q = nn.Sequential(nn.Linear(_feature_size(d, shape), 128), nn.LeakyReLU(0.2),
                        nn.Linear(128, config.categorical + 2 * config.continuous))
    _finish(config, d)
    return InfoGAN(config, g, d, CrossEntropy(config.g_loss))


# -- BiGAN / ALI ----------------------------------------------------------------------------

class Encoder(nn.Module):
    """E(x) -> z: D's convolutional stack, then a 4x4 conv to ``latent_dim`` values."""

    def __init__(self, config, channels: int, image_size: int):
        super().__init__()
        stack = ConvDiscriminator(config.ndf, channels, image_size, norm=config.g_norm,
                                  act=config.d_activation)
        self.body = stack.body
        width = stack.head.in_channels
        self.head = nn.Conv2d(width, config.latent_dim, 4, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).flatten(1)


class JointDiscriminator(nn.Module):
    """D(x, z): D's convolutional stack on x and a layer on z, joined by a hidden layer into
    one logit. ``features(x, z)`` then ``logits(h)``, like the other discriminators."""

    def __init__(self, config, channels: int, image_size: int, hidden: int = 512):
        super().__init__()
        stack = ConvDiscriminator(config.ndf, channels, image_size, norm=config.d_norm,
                                  act=config.d_activation)
        self.body = stack.body
        x_size = _feature_size(stack, (channels, image_size, image_size))
        self.z_body = nn.Sequential(nn.Linear(config.latent_dim, hidden // 2), nn.LeakyReLU(0.2))
        self.joint = nn.Sequential(nn.Linear(x_size + hidden // 2, hidden), nn.LeakyReLU(0.2))
        self.head = nn.Linear(hidden, 1)

    def features(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.joint(torch.cat([self.body(x).flatten(1), self.z_body(z)], dim=1))

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(h).flatten()

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.logits(self.features(x, z))


class BiGAN(AdversarialModel):
    """Donahue et al. 2017 (BiGAN) / Dumoulin et al. 2017 (ALI): an encoder E(x) -> z next to
    G(z) -> x; D(x, z) tells real pairs (x, E(x)) from generated pairs (G(z), z). G and E are
    trained jointly (one optimizer, ``lr_g``) on D's loss with the roles swapped (the
    non-saturating form; ``g_loss=minimax`` minimises minus D's loss). The deterministic
    encoder is BiGAN's; ALI's is stochastic. Label tricks, instance noise (on x), n_critic and
    EMA (of G) work as for the other GANs."""

    def __init__(self, config, generator, encoder, discriminator, objective,
                 name: str = "bigan"):
        super().__init__(config, generator, discriminator, objective, name=name)
        self.encoder = encoder
        params = list(generator.parameters()) + list(encoder.parameters())
        self.optimizers["g"] = make_optimizer(config.g_optimizer, params, config.lr_g,
                                              (config.beta1, config.beta2))

    @torch.no_grad()
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """E(x), in eval mode (labels are not used)."""
        was = self.encoder.training
        self.encoder.eval()
        try:
            return self.encoder(x.to(self.device))
        finally:
            self.encoder.train(was)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """G(E(x)) (labels are not used)."""
        return self.generate(self.encode(x))

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        cfg, obj = self.config, self.objective
        n = x.shape[0]
        update_g = (self.step_count + 1) % cfg.n_critic == 0
        z = self.latent(n)
        with torch.set_grad_enabled(update_g):
            fake = self.generator(z)
            code = self.encoder(x)
        sigma = self.instance_noise_std()

        def noisy(v: torch.Tensor) -> torch.Tensor:
            return v + sigma * torch.randn(v.shape, device=v.device) if sigma else v

        x_in, fake_in = noisy(x), noisy(fake)
        d = self.discriminator
        d_real, d_fake = d(x_in, code.detach()), d(fake_in.detach(), z)
        t_real, t_fake = discriminator_targets(n, cfg, device=d_real.device)
        loss_d = obj.d_loss(d_real, d_fake, t_real.to(d_real), t_fake.to(d_fake))
        self.optimizers["d"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["d"].step()

        if update_g:
            g_real, g_fake = d(x_in, code), d(fake_in, z)
            if cfg.g_loss == "minimax":
                loss_g = -obj.d_loss(g_real, g_fake)
            else:  # E wants its pairs called fake, G its pairs called real
                loss_g = obj.d_loss(g_fake, g_real)
            self.optimizers["g"].zero_grad(set_to_none=True)
            loss_g.backward()
            self.optimizers["g"].step()
            self._update_ema()
        else:
            loss_g = obj.d_loss(d_fake.detach(), d_real.detach())
        self.count_step()
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
                "D(x)": torch.sigmoid(d_real.detach()).mean(),
                "D(G(z))": torch.sigmoid(d_fake.detach()).mean()}


def build_bigan(config, data: DataInfo) -> BiGAN:
    channels, size, _ = _image_shape("bigan", data)
    g = _generator(config, data)
    e = Encoder(config, channels, size)
    d = JointDiscriminator(config, channels, size)
    init_normal(e)
    init_normal(d)
    _finish(config, d)
    return BiGAN(config, g, e, d, CrossEntropy(config.g_loss))


# -- semi-supervised GAN --------------------------------------------------------------------

class ClassifierDiscriminator(ConvDiscriminator):
    """D as a (K+1)-class classifier: the head gives K class logits l_k and the fake class's
    logit is fixed at 0 (softmax is unchanged by a common shift), so D's real/fake logit is
    logsumexp_k l_k: P(real) = Z / (Z + 1) with Z = sum_k exp(l_k) (Salimans et al.)."""

    def __init__(self, config, channels: int, image_size: int, num_classes: int):
        super().__init__(config.ndf, channels, image_size, norm=config.d_norm,
                         act=config.d_activation)
        self.head = nn.Conv2d(self.head.in_channels, num_classes, 4, 1, 0)

    def class_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(h).flatten(1)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self.class_logits(h), dim=1)


class SemiSupervisedGAN(AdversarialModel):
    """Salimans et al. 2016 / Odena 2016: D classifies into the K real classes plus "fake"
    (:class:`ClassifierDiscriminator`); its unsupervised loss is the usual real/fake
    cross-entropy on logsumexp of the class logits, and ``supervised_weight`` times the
    K-way cross-entropy on the few labelled real examples is added. G uses the shared
    non-saturating loss (Salimans et al. use feature matching instead).

    Which examples count as labelled: the factory never sees the data and ``train_step`` sees
    only batches, so the model keeps a labelled bank: the first ``labelled_per_class``
    distinct examples of each class that training meets (identified by a hash of their pixel
    values) become the labelled set, and from then on only examples in the bank contribute
    their label. The batch order is a seeded shuffle, so the labelled set is a random subset
    fixed by the run's seed, exactly ``labelled_per_class`` per class once every class has
    been seen that often; the bank is a buffer, so it is checkpointed and a resumed run keeps
    the same labelled set. All other labels are ignored (their examples are used unlabelled).

    ``extra_metrics`` reports D's K-way accuracy on the evaluation split."""

    def __init__(self, config, generator, discriminator, objective, num_classes: int,
                 shape: tuple[int, ...], name: str = "sgan"):
        super().__init__(config, generator, discriminator, objective, name=name)
        self.num_classes = num_classes
        self.shape = tuple(shape)
        per_class = config.labelled_per_class
        self.register_buffer("labelled_bank", torch.zeros(num_classes, per_class,
                                                          dtype=torch.long))
        self.register_buffer("labelled_count", torch.zeros(num_classes, dtype=torch.long))
        weights = torch.randint(1, 2 ** 31 - 1, (int(torch.tensor(shape).prod()),),
                                generator=torch.Generator().manual_seed(0))
        self.register_buffer("_hash_weights", weights, persistent=False)
        self._targets: torch.Tensor | None = None
        self._sup: torch.Tensor | float = 0.0
        # Whether every class's bank is full, kept on the host: once it is, a step needs no
        # look at the bank's counts (a device read).
        self._bank_full = False
        self.register_load_state_dict_post_hook(_check_bank)

    def example_hash(self, x: torch.Tensor) -> torch.Tensor:
        """One int64 per example from its pixel values (quantised), the same on any device."""
        q = torch.round(x.flatten(1).double() * 4096).long()
        return (q * self._hash_weights).sum(dim=1)

    @torch.no_grad()
    def labelled_mask(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Which examples of the batch are labelled, adding new ones to the bank while their
        class has room."""
        h = self.example_hash(x)
        bank, count = self.labelled_bank, self.labelled_count
        per_class = bank.shape[1]
        slots = torch.arange(per_class, device=bank.device)
        known = ((bank[y] == h[:, None]) & (slots < count[y][:, None])).any(dim=1)
        if self._bank_full:
            return known
        room = ~known & (count[y] < per_class)
        for i in torch.nonzero(room).flatten().tolist():
            c = int(y[i])
            k = int(count[c])
            if k < per_class and not (bank[c, :k] == h[i]).any():
                bank[c, k] = h[i]
                count[c] += 1
                known[i] = True
            elif (bank[c, :k] == h[i]).any():  # a duplicate within this batch
                known[i] = True
        self._bank_full = bool((count >= per_class).all())
        return known

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        self._targets = None
        if y is not None and self.config.labelled_per_class > 0:
            y = y.long()
            mask = self.labelled_mask(x, y)
            self._targets = torch.where(mask, y, torch.full_like(y, -100))
        out = super().train_step(x, y)
        return {**out, "loss_sup": self._sup}

    def extra_d_loss(self, h_real, y_real, h_fake, y_fake):
        targets = self._targets
        if targets is None:
            self._sup = 0.0
            return None
        loss = F.cross_entropy(self.discriminator.class_logits(h_real), targets,
                               ignore_index=-100)
        # Without a labelled example the mean is 0/0: the loss is 0 then (its gradient is 0
        # either way), chosen on the device rather than by asking it whether there is one.
        loss = torch.where((targets >= 0).any(), loss, torch.zeros_like(loss))
        self._sup = loss.detach()
        return self.config.supervised_weight * loss

    @torch.no_grad()
    def classify(self, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
        """D's K-way predictions for images at the model's size, in eval mode."""
        d = self.discriminator
        was = d.training
        d.eval()
        try:
            parts = [d.class_logits(d.features(x[i:i + batch].to(self.device))).argmax(1)
                     for i in range(0, x.shape[0], batch)]
        finally:
            d.train(was)
        return torch.cat(parts).cpu()

    def extra_metrics(self, reference) -> dict[str, tuple[float, bool]]:
        from genbench.data.base import resize_images

        if reference.y is None:
            return {}
        x = resize_images(reference.x, self.shape[-1])
        accuracy = (self.classify(x) == reference.y.long().cpu()).float().mean().item()
        return {"classifier_accuracy": (accuracy, True)}


def _check_bank(model: SemiSupervisedGAN, incompatible_keys) -> None:
    model._bank_full = bool((model.labelled_count >= model.labelled_bank.shape[1]).all())


def build_sgan(config, data: DataInfo) -> SemiSupervisedGAN:
    k = _need_labels("sgan", data)
    channels, size, _ = shape = _image_shape("sgan", data)
    g = _generator(config, data)
    d = ClassifierDiscriminator(config, channels, size, k)
    init_normal(d)
    _finish(config, d)
    return SemiSupervisedGAN(config, g, d, CrossEntropy(config.g_loss), k, shape)
