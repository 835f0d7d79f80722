"""Methods: a transceiver plus its training recipe, one module per method."""

from .classifier import ClassifierModule
from .deepjscc import DeepJSCC
from .transceiver import Transceiver

METHODS = {"deepjscc": DeepJSCC}

__all__ = ["ClassifierModule", "DeepJSCC", "Transceiver", "METHODS"]
