"""Builtin datasets. Every loader returns a :class:`genbench.data.base.TensorData`."""
