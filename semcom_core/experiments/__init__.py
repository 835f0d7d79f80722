"""Sweeps, result records (JSON lines), tables and plots."""
