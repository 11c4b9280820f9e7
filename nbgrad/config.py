"""Global settings: floatX, default backend, rewrite mode, and Theano's flag names.

Each nbgrad setting can be overridden by an environment variable read at import time
(``NBGRAD_FLOATX``, ``NBGRAD_BACKEND``, ``NBGRAD_MODE``, ``NBGRAD_SCAN_COMPILER``) and
changed at run time by attribute assignment::

    >>> import nbgrad
    >>> nbgrad.config.floatX
    'float64'

``scan_compiler`` says how a CPU ``scan`` loop runs: ``'numpy'`` (one NumPy call per inner
op and step), ``'numba'`` (the whole loop compiled by Numba from the first call, where its
inner graph allows it; Numba is an optional dependency) or ``'auto'`` (the default: NumPy,
then Numba once the loop has run for ``nbgrad.scan.op.SCAN_COMPILE_AFTER`` seconds in all, when Numba
is installed; see ``nbgrad.scan.numba_loop``).

Course code written for Theano reads and sets Theano's flags (``config.warn.round``,
``config.optimizer``, ``config.gcc.cxxflags``, ...). nbgrad accepts every flag of
Theano 1.0's tree: reading one that nbgrad does not act on gives Theano's default,
setting it keeps the value and warns once that nbgrad ignores it. ``config.device``
selects the backend (``'cpu'`` or ``'cuda'``). A misspelt name raises an
``AttributeError`` that suggests the flag meant:

    >>> nbgrad.config.warn.sum_div_dimshuffle_bug
    False
    >>> nbgrad.config.flaotX
    Traceback (most recent call last):
    ...
    AttributeError: nbgrad.config has no setting 'flaotX'; did you mean 'floatX'?
"""

import contextlib
import difflib
import os
import warnings

__all__ = ["config", "IgnoredFlagWarning"]

_CHOICES = {
    "floatX": ("float64", "float32", "float16"),
    "backend": ("cpu", "gpu"),
    "mode": ("FAST_RUN", "FAST_COMPILE"),
    "on_rewrite_error": ("warn", "raise"),
    "print_test_value": (False, True),
    "scan_compiler": ("auto", "numpy", "numba"),
}

#: Theano 1.0's flags that nbgrad accepts without acting on them, with Theano's defaults.
#: A dotted name is a flag inside a section (``config.warn.round``).
_THEANO_DEFAULTS = {
    # general
    "optimizer": "fast_run",
    "optimizer_excluding": "",
    "optimizer_including": "",
    "optimizer_requiring": "",
    "optimizer_verbose": False,
    "linker": "cvm",
    "allow_gc": True,
    "exception_verbosity": "low",
    "compute_test_value": "off",
    "compute_test_value_opt": "off",
    "check_input": True,
    "profile": False,
    "profile_memory": False,
    "profile_optimizer": False,
    "cast_policy": "custom",
    "int_division": "int",
    "warn_float64": "ignore",
    "on_opt_error": "warn",
    "on_shape_error": "warn",
    "on_unused_input": "raise",
    "assert_no_cpu_op": "ignore",
    "openmp": False,
    "openmp_elemwise_minsize": 200000,
    "deterministic": "default",
    "init_gpu_device": "",
    "force_device": False,
    "print_active_device": True,
    "reoptimize_unpickled_function": False,
    "unpickle_function": True,
    "nocleanup": False,
    "traceback.limit": 8,
    "traceback.compile_limit": 0,
    "cxx": "g++",
    "compiledir": "",
    "compiledir_format": "compiledir_%(short_platform)s-%(processor)s-%(python_version)s-%(python_bitwidth)s",
    "base_compiledir": "~/.theano",
    "cmodule.mac_framework_link": False,
    "cmodule.warn_no_version": False,
    "cmodule.remove_gxx_opt": False,
    "cmodule.compilation_warning": False,
    "cmodule.preload_cache": False,
    "cmodule.age_thresh_use": 60 * 60 * 24 * 24,
    "cmodule.debug": False,
    # warnings about bugs fixed in old Theano versions
    "warn.ignore_bug_before": "0.8",
    "warn.argmax_pushdown_bug": False,
    "warn.gpusum_01_011_0111_bug": False,
    "warn.sum_sum_bug": False,
    "warn.sum_div_dimshuffle_bug": False,
    "warn.subtensor_merge_bug": False,
    "warn.gpu_set_subtensor1": False,
    "warn.vm_gc_bug": False,
    "warn.signal_conv2d_interface": False,
    "warn.reduce_join": False,
    "warn.inc_set_subtensor1": False,
    "warn.round": False,
    "warn.inc_subtensor1_opt": True,
    "warn.identify_1pexp_bug": True,
    # C compilation and BLAS
    "blas.ldflags": "",
    "blas.check_openmp": True,
    "gcc.cxxflags": "",
    "lib.amdlibm": False,
    "lib.cnmem": 0.0,
    "tensor.cmp_sloppy": 0,
    "tensor.local_elemwise_fusion": True,
    "tensor.insert_inplace_optimizer_validate_nb": -1,
    "elemwise.sync": False,
    "scan.allow_gc": False,
    "scan.allow_output_prealloc": True,
    "scan.debug": False,
    "numpy.seterr_all": "ignore",
    "numpy.seterr_divide": "None",
    "numpy.seterr_over": "None",
    "numpy.seterr_under": "None",
    "numpy.seterr_invalid": "None",
    "conv.assert_shape": False,
    # GPU back ends
    "cuda.root": "",
    "cuda.include_path": "",
    "nvcc.flags": "",
    "nvcc.compiler_bindir": "",
    "nvcc.fastmath": False,
    "nvcc.cudafe": "heuristic",
    "gpuarray.sync": False,
    "gpuarray.preallocate": 0.0,
    "gpuarray.sched": "default",
    "gpuarray.single_stream": True,
    "gpuarray.cache_path": "",
    "dnn.enabled": "auto",
    "dnn.include_path": "",
    "dnn.library_path": "",
    "dnn.bin_path": "",
    "dnn.conv.algo_fwd": "small",
    "dnn.conv.algo_bwd_data": "none",
    "dnn.conv.algo_bwd_filter": "none",
    "dnn.conv.precision": "as_input_f32",
    "dnn.conv.workmem": "",
    "dnn.conv.workmem_bwd": "",
    "magma.enabled": False,
    "magma.include_path": "",
    "magma.library": "",
    "pycuda.init": False,
    "ctc.root": "",
    # debugging modes
    "DebugMode.check_c": True,
    "DebugMode.check_py": True,
    "DebugMode.check_finite": True,
    "DebugMode.check_strides": 0,
    "DebugMode.check_preallocated_output": "",
    "DebugMode.check_preallocated_output_ndim": 4,
    "DebugMode.warn_input_not_reused": True,
    "DebugMode.patience": 10,
    "NanGuardMode.nan_is_error": True,
    "NanGuardMode.inf_is_error": True,
    "NanGuardMode.big_is_error": True,
    "NanGuardMode.action": "raise",
    "profiling.n_apply": 20,
    "profiling.n_ops": 20,
    "profiling.output_line_width": 512,
    "profiling.min_memory_size": 1024,
    "profiling.min_peak_memory": False,
    "profiling.destination": "stderr",
    "profiling.debugprint": False,
    "profiling.ignore_first_call": False,
    "optdb.position_cutoff": float("inf"),
    "optdb.max_use_ratio": 8.0,
    "metaopt.verbose": 0,
    "metaopt.optimizer_excluding": "",
    "metaopt.optimizer_including": "",
    "experimental.local_alloc_elemwise_assert": True,
    "experimental.unpickle_gpu_on_cpu": False,
}

_DEVICE_TO_BACKEND = {"cpu": "cpu", "cuda": "gpu", "gpu": "gpu", "opencl": None}


class IgnoredFlagWarning(UserWarning):
    """A Theano flag was set that nbgrad accepts but does not act on."""


def _section_names(prefix):
    """Names directly inside the section ``prefix`` ('' for the top level)."""
    names = set()
    for full in _THEANO_DEFAULTS:
        if prefix and not full.startswith(prefix + "."):
            continue
        rest = full[len(prefix) + 1:] if prefix else full
        names.add(rest.split(".", 1)[0])
    return names


class _Section:
    """A group of Theano flags (``config.warn``, ``config.dnn.conv``); reads and sets them."""

    def __init__(self, root, prefix):
        object.__setattr__(self, "_root", root)
        object.__setattr__(self, "_prefix", prefix)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._root._get(f"{self._prefix}.{name}")

    def __setattr__(self, name, value):
        self._root._set(f"{self._prefix}.{name}", value)

    def __dir__(self):
        return sorted(_section_names(self._prefix))

    def __repr__(self):
        items = ", ".join(f"{n}={getattr(self, n)!r}" for n in sorted(_section_names(self._prefix)))
        return f"nbgrad.config.{self._prefix}({items})"


class _Config:
    """Holds nbgrad's settings and checks each assignment against its choices."""

    def __init__(self):
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "_ignored", {})
        object.__setattr__(self, "_warned", set())
        self._from_env("floatX", "NBGRAD_FLOATX", "float64")
        self._from_env("backend", "NBGRAD_BACKEND", "cpu")
        self._from_env("mode", "NBGRAD_MODE", "FAST_RUN")
        self._from_env("scan_compiler", "NBGRAD_SCAN_COMPILER", "auto")
        self._values["print_rewrites"] = bool(os.environ.get("NBGRAD_PRINT_REWRITES", ""))
        self._values["on_rewrite_error"] = "warn"
        # repr() of a variable shows its tag.test_value after its name
        self._values["print_test_value"] = False

    def _from_env(self, name, env, default):
        value = os.environ.get(env, default)
        if value not in _CHOICES[name]:
            raise ValueError(
                f"the environment variable {env}={value!r} is not a valid nbgrad.config.{name}; "
                f"expected one of {_CHOICES[name]} (or unset it for {default!r})"
            )
        self._values[name] = value

    # --- reading and setting by full (dotted) name ---------------------------------
    def _get(self, name):
        if name in self._values:
            return self._values[name]
        if name == "device":
            return "cpu" if self._values["backend"] == "cpu" else "cuda"
        if name in self._ignored:
            return self._ignored[name]
        if name in _THEANO_DEFAULTS:
            return _THEANO_DEFAULTS[name]
        prefix = name.rpartition(".")[0]
        if _section_names(name):
            return _Section(self, name)
        raise AttributeError(self._unknown(name, prefix))

    def _set(self, name, value):
        if name == "device":
            self._set_device(value)
            return
        if name in self._values:
            choices = _CHOICES.get(name)
            if choices is not None and value not in choices:
                raise ValueError(f"nbgrad.config.{name} must be one of {choices}, got {value!r}")
            self._values[name] = value
            return
        if name not in _THEANO_DEFAULTS:
            if _section_names(name):
                raise AttributeError(
                    f"nbgrad.config.{name} is a group of settings, not a setting; set one of "
                    f"its flags, e.g. nbgrad.config.{name}.{sorted(_section_names(name))[0]}"
                )
            raise AttributeError(self._unknown(name, name.rpartition(".")[0]))
        if name not in self._warned:
            self._warned.add(name)
            warnings.warn(
                f"nbgrad.config.{name} is a Theano flag that nbgrad accepts but ignores "
                f"(nbgrad compiles to NumPy/CuPy code, not C or CUDA modules); the value "
                f"{value!r} is kept but changes nothing",
                IgnoredFlagWarning, stacklevel=3,
            )
        self._ignored[name] = value

    def _set_device(self, value):
        base = str(value).rstrip("0123456789")
        backend = _DEVICE_TO_BACKEND.get(base)
        if backend is None:
            raise ValueError(
                f"nbgrad.config.device must be 'cpu' or 'cuda' (also 'cuda0', 'gpu'), got {value!r}; "
                "nbgrad runs on NumPy (cpu) or CuPy (cuda)"
            )
        self._values["backend"] = backend

    def _unknown(self, name, prefix):
        known = [n if not prefix else f"{prefix}.{n}" for n in _section_names(prefix)]
        if not prefix:
            known += [*self._values, "device"]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else (
            "; see dir(nbgrad.config) for the settings" if not prefix
            else f"; see dir(nbgrad.config.{prefix}) for its flags")
        return f"nbgrad.config has no setting {name!r}{hint}"

    # --- attribute protocol ---------------------------------------------------------
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._get(name)

    def __setattr__(self, name, value):
        self._set(name, value)

    def __dir__(self):
        return sorted({*self._values, "device", *_section_names(""), "change_flags"})

    @contextlib.contextmanager
    def change_flags(self, **flags):
        """Set flags for the duration of a ``with`` block; dotted names via ``**{'warn.round': True}``.

        >>> import nbgrad
        >>> with nbgrad.config.change_flags(floatX="float32"):
        ...     nbgrad.config.floatX
        'float32'
        """
        old = {name: self._get(name) for name in flags}
        try:
            for name, value in flags.items():
                self._set(name, value)
            yield self
        finally:
            for name, value in old.items():
                if name in self._values or name == "device":
                    self._set(name, value)
                else:
                    self._ignored[name] = value

    def __repr__(self):
        items = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"nbgrad.config({items})"


config = _Config()
