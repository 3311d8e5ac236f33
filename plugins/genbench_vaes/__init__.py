"""genbench's builtin likelihood-based models: autoencoders and VAEs, VQ-VAE and VQ-VAE-2 with
PixelCNN priors, PixelCNN, PixelRNN and the Gaussian-mixture baseline. Registered through the
``genbench`` entry-point group like any third-party plugin. Only specs and config dataclasses are
imported here (no torch); the networks are imported when a model is built.

Layout: ``ae_specs`` (ae, dae, vae, beta-vae, cvae: configs and specs), ``ar_specs``
(pixelcnn, pixelrnn, vq-vae, vq-vae-2), ``gmm`` (the Gaussian mixture); the torch code lives in the
modules they name.
"""

from __future__ import annotations

from genbench import hookimpl


@hookimpl
def register_models(register):
    from genbench_vaes import ae_specs, ar_specs, gmm_spec

    for spec in (*ae_specs.SPECS, *ar_specs.SPECS, *gmm_spec.SPECS):
        register(spec)
