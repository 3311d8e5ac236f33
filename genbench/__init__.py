"""genbench: train or load generative models, score them with validated metrics, compare them.

Plugins import :data:`hookimpl` from here to mark their hook implementations::

    from genbench import hookimpl

    @hookimpl
    def register_models(register):
        register(ModelSpec(...))
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("genbench")

__all__ = ["__version__", "hookimpl"]
