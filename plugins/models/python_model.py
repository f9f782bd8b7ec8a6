"""The ``python`` model: a function or object from the user's own Python code.

``callable=package.module:name`` names it; importing the module runs its code (the user's
explicit act, stated in the output). ``name`` may be a function ``f(x) -> output``, a class
(instantiated with no arguments) or an object; of an object, the first of ``predict_proba``,
``predict``, ``forward`` or ``__call__`` it has is called. ``x`` is numpy: float32 one-hot or
``uint8`` codes, as ``layout`` declares. A torch tensor output (or a tuple, list, dict of them)
is accepted.
"""
from __future__ import annotations

import importlib
import inspect
from typing import Any

from motifprobe import hookimpl
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.models import EXTERNAL_PARAMETERS, ExternalModel, Param
from motifprobe.plugins.models.torchscript_model import _to_numpy

METHODS = ("predict_proba", "predict", "forward", "__call__")


def parse_callable(spec: Any) -> tuple[str, str]:
    """``package.module:name`` -> (module, name); one line otherwise."""
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise MotifprobeError(f"model plugin 'python': parameter callable={spec!r} is not allowed; allowed: "
                              "package.module:name (a function, a class or an object in an importable module)")
    module, name = spec.split(":")
    return module.strip(), name.strip()


class PythonModel(ExternalModel):
    """A function, class or object from an importable module; never trained here."""

    name = "python"
    description = "a function or model object from your own Python module (importing it runs its code)"
    loading_note = "runs its code"
    parameters = (Param("callable", str, None, "package.module:name: a function f(x) -> output, a class (built with "
                        "no arguments) or an object with predict_proba / predict / forward / __call__"),
                  *EXTERNAL_PARAMETERS)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.params["callable"] is not None:
            parse_callable(self.params["callable"])

    def _open(self, source: str) -> None:
        module_name, attr = parse_callable(source)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise MotifprobeError(f"cannot import {module_name!r} for callable={source}: no such module on the "
                                      "Python path (run from its directory or install it)") from None
            raise
        if not hasattr(module, attr):
            raise MotifprobeError(f"module {module_name!r} has no {attr!r} (callable={source})")
        obj = getattr(module, attr)
        if inspect.isclass(obj):
            obj = obj()
        if inspect.isfunction(obj) or inspect.isbuiltin(obj) or inspect.ismethod(obj):
            self.fn_ = obj
        else:
            method = next((m for m in METHODS if callable(getattr(obj, m, None))), None)
            if method is None:
                raise MotifprobeError(f"{source} is a {type(obj).__name__} with none of {', '.join(METHODS)}")
            self.fn_ = getattr(obj, method)

    def _forward(self, x: Any) -> Any:
        return _to_numpy(self.fn_(x))


@hookimpl
def register_models(register):
    register("python", PythonModel)
