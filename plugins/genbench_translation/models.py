"""pix2pix, CycleGAN and DiscoGAN over one base class, :class:`TranslationModel`, which holds the
step counter, the Adam optimizers and their learning-rate schedule, and ``translate``; the two
unpaired models share :class:`TwoWayTranslationModel` (both generators, both discriminators,
the cycle-reconstruction metrics).

Each follows its paper's training step: pix2pix updates D on (A, B) against (A, G(A)), then G
on the cGAN loss plus lambda_L1 * L1; CycleGAN updates both generators (LSGAN, cycle and
identity losses) and then both discriminators on fakes drawn from a history of 50 generated
images; DiscoGAN updates both discriminators on this step's fakes, then both generators (GAN
and reconstruction losses). D losses are halved, as in the pix2pix and CycleGAN papers and the
DiscoGAN authors' code, to slow D relative to G.

``translate`` always runs the generator in eval mode (BatchNorm with its running statistics,
no dropout), so a translation is deterministic and does not depend on the rest of its batch.
The pix2pix paper instead kept dropout and batch statistics at test time; a benchmark wants
one answer per input.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from genbench.errors import GenbenchError
from genbench.model import DataInfo, GenerativeModel
from genbench_translation.nets import (
    EncoderDecoderGenerator,
    ImageDiscriminator,
    PatchDiscriminator,
    ResnetGenerator,
    UNetGenerator,
    init_weights,
)

CHUNK = 64  # images per forward pass in extra_metrics
DIRECTIONS = ("AtoB", "BtoA")


class TranslationModel(GenerativeModel):
    """Shared by the translation models: ``steps_done`` (in the checkpoint), Adam with the
    config's lr and betas, and a learning rate constant until ``decay_from * steps`` and then
    linear to 0 at ``steps`` (set from ``steps_done`` before each step, so a resumed run
    continues the schedule)."""

    name = "translation"
    directions: tuple[str, ...] = ("AtoB",)

    def __init__(self, config, shape_a: tuple[int, ...], shape_b: tuple[int, ...]):
        super().__init__()
        self.config = config
        self.shape_a = tuple(shape_a)
        self.shape_b = tuple(shape_b)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))

    def _adam(self, *modules: nn.Module, weight_decay: float = 0.0) -> torch.optim.Optimizer:
        params = [p for m in modules for p in m.parameters()]
        return torch.optim.Adam(params, lr=self.config.lr,
                                betas=(self.config.beta1, self.config.beta2),
                                weight_decay=weight_decay)

    def lr_factor(self, step: int | None = None) -> float:
        """The learning rate at 0-based ``step`` (default: the next one) over the base rate."""
        step = self.step_count if step is None else step
        total = self.config.steps
        if self.config.decay_from >= 1:
            return 1.0
        start = int(total * self.config.decay_from)
        if step < start:
            return 1.0
        return max(0.0, (total - step) / max(1, total - start))

    def _apply_schedule(self) -> None:
        lr = self.config.lr * self.lr_factor()
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = lr

    def generator_for(self, direction: str) -> nn.Module:
        raise NotImplementedError

    def _check_direction(self, direction: str) -> None:
        if direction not in self.directions:
            raise GenbenchError(f"{self.name} translates {' and '.join(self.directions)}, not "
                                f"{direction!r}")

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        """Domain-A images (N, C_A, S, S) in [-1, 1] to domain B (``"BtoA"``: the reverse),
        in [-1, 1], with the generator in eval mode."""
        self._check_direction(direction)
        expected = self.shape_a if direction == "AtoB" else self.shape_b
        if tuple(x.shape[1:]) != expected:
            raise GenbenchError(f"{self.name}: {direction} takes images of shape {expected}, "
                                f"got {tuple(x.shape[1:])}")
        net = self.generator_for(direction)
        was_training = net.training
        net.eval()
        try:
            return net(x.to(self.device))
        finally:
            net.train(was_training)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} translates images (capability 'translate'); it "
                                  f"does not sample")


@contextmanager
def _frozen(module: nn.Module):
    """``module``'s parameters get no gradients inside (its inputs still do)."""
    module.requires_grad_(False)
    try:
        yield
    finally:
        module.requires_grad_(True)


class Pix2Pix(TranslationModel):
    """G: A -> B and a PatchGAN D(A, B) on the concatenated pair. D minimises
    0.5 * [BCE(D(a, b), 1) + BCE(D(a, G(a)), 0)]; G minimises BCE(D(a, G(a)), 1) +
    lambda_l1 * |G(a) - b|_1 (means over patches and pixels)."""

    name = "pix2pix"

    def __init__(self, config, shape_a, shape_b, generator: nn.Module,
                 discriminator: nn.Module):
        super().__init__(config, shape_a, shape_b)
        self.generator = generator
        self.discriminator = discriminator
        self.optimizers = {"g": self._adam(generator), "d": self._adam(discriminator)}

    def generator_for(self, direction: str) -> nn.Module:
        return self.generator

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if y is None:
            raise GenbenchError("pix2pix trains on paired data: x from domain A, y the aligned "
                                "domain-B images")
        self._apply_schedule()
        a, b = x, y
        fake = self.generator(a)

        d_real = self.discriminator(torch.cat([a, b], dim=1))
        d_fake = self.discriminator(torch.cat([a, fake.detach()], dim=1))
        loss_d = 0.5 * (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                        + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        self.optimizers["d"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["d"].step()

        with _frozen(self.discriminator):
            d_fake_g = self.discriminator(torch.cat([a, fake], dim=1))
        loss_gan = F.binary_cross_entropy_with_logits(d_fake_g, torch.ones_like(d_fake_g))
        loss_l1 = (fake - b).abs().mean()
        loss_g = loss_gan + self.config.lambda_l1 * loss_l1
        self.optimizers["g"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["g"].step()
        self.count_step()
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
                "loss_g_gan": loss_gan.detach(), "loss_l1": loss_l1.detach(),
                "D(x)": torch.sigmoid(d_real.detach()).mean(),
                "D(G(x))": torch.sigmoid(d_fake.detach()).mean()}


class HistoryPool(nn.Module):
    """The last ``size`` generated images (Shrivastava et al. 2017, as CycleGAN uses it).

    ``query(images)`` goes through the batch one image at a time: while the pool is not full,
    the image is stored and returned; once it is, with probability 1/2 a random stored image is
    returned and the new one takes its place, else the new image is returned. The images and
    the fill count are buffers, so the pool is in the checkpoint (``filled`` is the count
    on the host, read without waiting for the device).
    """

    def __init__(self, size: int, shape: tuple[int, ...]):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, *shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))
        self.filled = 0
        self.register_load_state_dict_post_hook(_count_filled)

    @torch.no_grad()
    def query(self, images: torch.Tensor, generator: torch.Generator | None = None
              ) -> torch.Tensor:
        """Draws random numbers on the CPU, from ``generator`` or the global RNG."""
        images = images.detach()
        if self.size == 0:
            return images
        out = []
        for image in images:
            if self.filled < self.size:
                self.images[self.filled] = image
                self.count += 1
                self.filled += 1
                out.append(image)
            elif torch.rand((), generator=generator).item() < 0.5:
                i = int(torch.randint(self.size, (), generator=generator))
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.stack(out)


def _count_filled(pool: HistoryPool, incompatible_keys) -> None:
    pool.filled = int(pool.count)


def lsgan(logits: torch.Tensor, target: float) -> torch.Tensor:
    return ((logits - target) ** 2).mean()


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    """The standard GAN loss: binary cross-entropy of sigmoid(logits) against ``target``."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class TwoWayTranslationModel(TranslationModel):
    """A model of unpaired translation both ways: generators ``g_ab`` (A -> B) and ``g_ba``
    (B -> A), discriminators ``d_a`` (on domain A) and ``d_b`` (on domain B); it reports the
    cycle-reconstruction errors of the test split as ``extra_metrics``."""

    directions = DIRECTIONS

    def __init__(self, config, shape_a, shape_b, g_ab: nn.Module, g_ba: nn.Module,
                 d_a: nn.Module, d_b: nn.Module):
        super().__init__(config, shape_a, shape_b)
        self.g_ab, self.g_ba = g_ab, g_ba
        self.d_a, self.d_b = d_a, d_b

    def generator_for(self, direction: str) -> nn.Module:
        return self.g_ab if direction == "AtoB" else self.g_ba

    def _two_domains(self, y: torch.Tensor | None) -> None:
        if y is None:
            raise GenbenchError(f"{self.name} trains on two domains: x from A, y from B")

    @torch.no_grad()
    def cycle_error(self, x: torch.Tensor, first: str = "AtoB") -> float:
        """Mean |F(G(x)) - x| (``first="BtoA"``: |G(F(x)) - x|) over every pixel, on the
        [-1, 1] scale, resizing x to the model's size, CHUNK images at a time (fewer when
        they are larger than 64x64)."""
        from genbench.data.base import images_per_pass, resize_images

        back = "BtoA" if first == "AtoB" else "AtoB"
        x = resize_images(x, self.shape_a[-1])
        step = images_per_pass(tuple(x.shape[1:]), CHUNK)
        total, count = 0.0, 0
        for i in range(0, x.shape[0], step):
            chunk = x[i:i + step].to(self.device)
            cycled = self.translate(self.translate(chunk, first), back)
            total += (cycled - chunk).abs().sum().item()
            count += chunk.numel()
        return total / max(1, count)

    def extra_metrics(self, reference) -> dict[str, tuple[float, bool]]:
        """Cycle-consistency errors on the reference split: x is domain A, target domain B."""
        out = {"cycle_l1_A": (self.cycle_error(reference.x, "AtoB"), False, len(reference.x))}
        if reference.target is not None:  # on domain B's test images: their count
            out["cycle_l1_B"] = (self.cycle_error(reference.target, "BtoA"), False,
                                 len(reference.target))
        return out


class CycleGAN(TwoWayTranslationModel):
    """G: A -> B, F: B -> A, D_A on domain A, D_B on domain B (LSGAN).

    G and F minimise (D_B(G(a)) - 1)^2 + (D_A(F(b)) - 1)^2 + lambda_cycle * (|F(G(a)) - a|_1 +
    |G(F(b)) - b|_1) + lambda_cycle * lambda_identity * (|G(b) - b|_1 + |F(a) - a|_1); the
    identity term needs C_A == C_B (G must accept b) and is off otherwise. Each D minimises
    0.5 * [(D(real) - 1)^2 + D(fake)^2] with fakes from its history pool. The pairing of x and
    y is never used.
    """

    name = "cyclegan"

    def __init__(self, config, shape_a, shape_b, g_ab: nn.Module, g_ba: nn.Module,
                 d_a: nn.Module, d_b: nn.Module):
        super().__init__(config, shape_a, shape_b, g_ab, g_ba, d_a, d_b)
        self.pool_a = HistoryPool(config.pool_size, self.shape_a)  # F(b), for D_A
        self.pool_b = HistoryPool(config.pool_size, self.shape_b)  # G(a), for D_B
        same = self.shape_a[0] == self.shape_b[0]
        self.identity_weight = config.lambda_cycle * config.lambda_identity if same else 0.0
        self.optimizers = {"g": self._adam(g_ab, g_ba), "d": self._adam(d_a, d_b)}

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        self._two_domains(y)
        self._apply_schedule()
        a, b = x, y
        fake_b = self.g_ab(a)
        fake_a = self.g_ba(b)
        rec_a = self.g_ba(fake_b)
        rec_b = self.g_ab(fake_a)

        with _frozen(self.d_a), _frozen(self.d_b):
            gan_ab = lsgan(self.d_b(fake_b), 1.0)
            gan_ba = lsgan(self.d_a(fake_a), 1.0)
        loss_cycle = (rec_a - a).abs().mean() + (rec_b - b).abs().mean()
        loss_g = gan_ab + gan_ba + self.config.lambda_cycle * loss_cycle
        logs: dict[str, torch.Tensor] = {}
        if self.identity_weight:
            loss_idt = (self.g_ab(b) - b).abs().mean() + (self.g_ba(a) - a).abs().mean()
            loss_g = loss_g + self.identity_weight * loss_idt
            logs["loss_idt"] = loss_idt.detach()
        self.optimizers["g"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["g"].step()

        pooled_b = self.pool_b.query(fake_b)
        pooled_a = self.pool_a.query(fake_a)
        d_real_b, d_real_a = self.d_b(b), self.d_a(a)
        loss_d_b = 0.5 * (lsgan(d_real_b, 1.0) + lsgan(self.d_b(pooled_b), 0.0))
        loss_d_a = 0.5 * (lsgan(d_real_a, 1.0) + lsgan(self.d_a(pooled_a), 0.0))
        self.optimizers["d"].zero_grad(set_to_none=True)
        (loss_d_a + loss_d_b).backward()
        self.optimizers["d"].step()
        self.count_step()
        loss_d_a, loss_d_b = loss_d_a.detach(), loss_d_b.detach()
        return {"loss_d": loss_d_a + loss_d_b, "loss_g": loss_g.detach(),
                "loss_d_a": loss_d_a, "loss_d_b": loss_d_b,
                "loss_gan": (gan_ab + gan_ba).detach(), "loss_cycle": loss_cycle.detach(),
                **logs}


class DiscoGAN(TwoWayTranslationModel):
    """Kim et al. 2017: G_AB: A -> B and G_BA: B -> A (encoder-decoders), D_A on domain A and
    D_B on domain B (one logit per image), the standard GAN loss (BCE with logits).

    Each D minimises 0.5 * [BCE(D(real), 1) + BCE(D(fake), 0)] on this step's translations
    (no history). The generators then minimise the paper's L_G = L_GAN_B + L_GAN_A +
    lambda_recon * (L_CONST_A + L_CONST_B): L_GAN_B = BCE(D_B(G_AB(a)), 1),
    L_CONST_A = MSE(G_BA(G_AB(a)), a), and the same from B. The pairing of x and y is never
    used.

    What the authors' code (github.com/SKTBrain/DiscoGAN) adds and the paper does not describe
    is left out: a feature-matching loss on D's hidden layers mixed 0.9 / 0.1 with the GAN
    loss, a weight between GAN and reconstruction losses of 0.01 for the first 10,000
    iterations and 0.5 after, and one D update every third iteration in place of a G update.
    Here each step updates D once and G once, as pix2pix and CycleGAN do.
    """

    name = "discogan"

    def __init__(self, config, shape_a, shape_b, g_ab: nn.Module, g_ba: nn.Module,
                 d_a: nn.Module, d_b: nn.Module):
        super().__init__(config, shape_a, shape_b, g_ab, g_ba, d_a, d_b)
        decay = config.weight_decay
        self.optimizers = {"g": self._adam(g_ab, g_ba, weight_decay=decay),
                           "d": self._adam(d_a, d_b, weight_decay=decay)}

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        self._two_domains(y)
        self._apply_schedule()
        a, b = x, y
        fake_b = self.g_ab(a)
        fake_a = self.g_ba(b)

        d_real_a, d_fake_a = self.d_a(a), self.d_a(fake_a.detach())
        d_real_b, d_fake_b = self.d_b(b), self.d_b(fake_b.detach())
        loss_d_a = 0.5 * (bce(d_real_a, 1.0) + bce(d_fake_a, 0.0))
        loss_d_b = 0.5 * (bce(d_real_b, 1.0) + bce(d_fake_b, 0.0))
        self.optimizers["d"].zero_grad(set_to_none=True)
        (loss_d_a + loss_d_b).backward()
        self.optimizers["d"].step()

        with _frozen(self.d_a), _frozen(self.d_b):
            gan_b = bce(self.d_b(fake_b), 1.0)  # L_GAN_B: G_AB fools D_B
            gan_a = bce(self.d_a(fake_a), 1.0)  # L_GAN_A
        loss_recon = F.mse_loss(self.g_ba(fake_b), a) + F.mse_loss(self.g_ab(fake_a), b)
        loss_g = gan_a + gan_b + self.config.lambda_recon * loss_recon
        self.optimizers["g"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["g"].step()
        self.count_step()
        loss_d_a, loss_d_b = loss_d_a.detach(), loss_d_b.detach()
        return {"loss_d": loss_d_a + loss_d_b, "loss_g": loss_g.detach(),
                "loss_d_a": loss_d_a, "loss_d_b": loss_d_b,
                "loss_gan": (gan_a + gan_b).detach(), "loss_recon": loss_recon.detach(),
                "D(x)": _mean_probability(d_real_a, d_real_b),
                "D(G(x))": _mean_probability(d_fake_a, d_fake_b)}


def _mean_probability(*logits: torch.Tensor) -> torch.Tensor:
    """The mean of sigmoid(logits) over all the images of all ``logits``."""
    return torch.sigmoid(torch.cat([t.detach() for t in logits])).mean()


# -- factories ---------------------------------------------------------------------------------

def _shapes(name: str, data: DataInfo, accepts: tuple[str, ...]):
    if data.kind not in accepts:
        raise GenbenchError(f"{name} trains on {' or '.join(accepts)} image pairs, not "
                            f"{data.kind!r} data")
    if len(data.shape) != 3 or len(data.target_shape) != 3:
        raise GenbenchError(f"{name}: expected (C, H, W) images in both domains, got "
                            f"{data.shape} and {data.target_shape}")
    (_, h, w), (_, hb, wb) = data.shape, data.target_shape
    if h != w or (h, w) != (hb, wb):
        raise GenbenchError(f"{name}: both domains must be square images of one size, got "
                            f"{h}x{w} and {hb}x{wb}; set image_size")
    return tuple(data.shape), tuple(data.target_shape)


def build_generator(config, in_channels: int, out_channels: int, size: int) -> nn.Module:
    if config.generator == "unet":
        net = UNetGenerator(in_channels, out_channels, size, config.ngf, config.norm,
                            config.dropout)
    elif config.generator == "resnet":
        net = ResnetGenerator(in_channels, out_channels, size, config.ngf, config.norm,
                              config.res_blocks, config.dropout)
    else:
        raise GenbenchError(f"unknown generator {config.generator!r}; choose unet or resnet")
    return init_weights(net)


def build_discriminator(config, in_channels: int, size: int) -> nn.Module:
    return init_weights(PatchDiscriminator(in_channels, size, config.ndf, config.norm,
                                           config.d_layers))


def build_pix2pix(config, data_info: DataInfo) -> Pix2Pix:
    shape_a, shape_b = _shapes("pix2pix", data_info, ("paired",))
    size = shape_a[-1]
    g = build_generator(config, shape_a[0], shape_b[0], size)
    d = build_discriminator(config, shape_a[0] + shape_b[0], size)
    return Pix2Pix(config, shape_a, shape_b, g, d)


def build_cyclegan(config, data_info: DataInfo) -> CycleGAN:
    shape_a, shape_b = _shapes("cyclegan", data_info, ("paired", "unpaired"))
    size = shape_a[-1]
    g_ab = build_generator(config, shape_a[0], shape_b[0], size)
    g_ba = build_generator(config, shape_b[0], shape_a[0], size)
    d_a = build_discriminator(config, shape_a[0], size)
    d_b = build_discriminator(config, shape_b[0], size)
    return CycleGAN(config, shape_a, shape_b, g_ab, g_ba, d_a, d_b)


def build_discogan(config, data_info: DataInfo) -> DiscoGAN:
    shape_a, shape_b = _shapes("discogan", data_info, ("paired", "unpaired"))
    size = shape_a[-1]
    g_ab = init_weights(EncoderDecoderGenerator(shape_a[0], shape_b[0], size, config.ngf))
    g_ba = init_weights(EncoderDecoderGenerator(shape_b[0], shape_a[0], size, config.ngf))
    d_a = init_weights(ImageDiscriminator(shape_a[0], size, config.ndf))
    d_b = init_weights(ImageDiscriminator(shape_b[0], size, config.ndf))
    return DiscoGAN(config, shape_a, shape_b, g_ab, g_ba, d_a, d_b)


class Copy(GenerativeModel):
    """The baseline every translation model must beat: the output is the input, its channels
    repeated (grey to colour) or averaged (colour to grey) to the target domain's."""

    def __init__(self, config, data_info: DataInfo):
        super().__init__()
        self.config = config
        self.out_channels = data_info.target_shape[0]
        # No parameters to learn; one buffer so the model has a device and a state to save.
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))

    @property
    def device(self) -> torch.device:
        return self.steps_done.device

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None
                   ) -> dict[str, torch.Tensor | float]:
        self.count_step()
        out = self.translate(x)
        aligned = y is not None and y.shape == out.shape
        return {"l1_to_target": (out - y).abs().mean() if aligned else 0.0}

    def translate(self, x: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        if x.shape[1] == self.out_channels:
            return x.clone()
        if x.shape[1] == 1:
            return x.expand(-1, self.out_channels, -1, -1).clone()
        return x.mean(1, keepdim=True).expand(-1, self.out_channels, -1, -1).clone()


def build_copy(config, data_info: DataInfo) -> Copy:
    if data_info.kind not in ("paired", "unpaired") or not data_info.target_shape:
        raise GenbenchError("copy: needs translation data (two image domains)")
    return Copy(config, data_info)
