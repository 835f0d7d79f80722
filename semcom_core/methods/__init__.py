"""Methods: a transceiver plus its training recipe, one module per method."""

from .base import FrozenModel, JSCCMethod, Stage
from .classifier import ClassifierModule
from .deepjscc import DeepJSCC
from .deepsc import DeepSC
from .mijscc import AMIJSCC, MIJSCC
from .semcc import SemCC
from .semre import SemRE
from ..link import Transceiver, transceiver_specs

METHODS = {cls.method_name: cls for cls in (DeepJSCC, DeepSC, SemCC, SemRE, MIJSCC, AMIJSCC)}

__all__ = ["AMIJSCC", "ClassifierModule", "DeepJSCC", "DeepSC", "FrozenModel", "JSCCMethod", "METHODS", "MIJSCC", "SemCC", "SemRE",
           "Stage", "Transceiver", "transceiver_specs"]
