"""Global settings: floatX, default backend, rewrite mode.

Each setting can be overridden by an environment variable read at import time
(``NBGRAD_FLOATX``, ``NBGRAD_BACKEND``, ``NBGRAD_MODE``) and changed at run time
by attribute assignment::

    >>> import nbgrad
    >>> nbgrad.config.floatX
    'float64'
"""

import os

__all__ = ["config"]

_CHOICES = {
    "floatX": ("float64", "float32", "float16"),
    "backend": ("cpu", "gpu"),
    "mode": ("FAST_RUN", "FAST_COMPILE"),
}


class _Config:
    """Holds nbgrad's settings and checks each assignment against its choices."""

    def __init__(self):
        object.__setattr__(self, "_values", {})
        self._from_env("floatX", "NBGRAD_FLOATX", "float64")
        self._from_env("backend", "NBGRAD_BACKEND", "cpu")
        self._from_env("mode", "NBGRAD_MODE", "FAST_RUN")
        self.print_rewrites = bool(os.environ.get("NBGRAD_PRINT_REWRITES", ""))
        self.compute_test_value = "off"

    def _from_env(self, name, env, default):
        value = os.environ.get(env, default)
        if value not in _CHOICES[name]:
            raise ValueError(
                f"the environment variable {env}={value!r} is not a valid nbgrad.config.{name}; "
                f"expected one of {_CHOICES[name]} (or unset it for {default!r})"
            )
        self._values[name] = value

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"nbgrad.config has no setting {name!r}") from None

    def __setattr__(self, name, value):
        choices = _CHOICES.get(name)
        if choices is not None and value not in choices:
            raise ValueError(
                f"nbgrad.config.{name} must be one of {choices}, got {value!r}"
            )
        self._values[name] = value

    def __repr__(self):
        items = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"nbgrad.config({items})"


config = _Config()
