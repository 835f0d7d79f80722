"""Embedded and standard-format data of the MFMSC tasks."""
