"""semcom_core: the semantic-communication library (importable without GNU Radio)."""

__version__ = "0.1.0"
