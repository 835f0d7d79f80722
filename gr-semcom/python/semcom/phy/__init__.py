#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The air between the OFDM burst transmitter and receiver, as GNU Radio blocks (:mod:`.impairments`).

The burst format itself (preamble, coded header, side information, payload) and all the receiver's
numerics live in ``semcom_core.link.air``; ``ofdm_tx`` and ``ofdm_rx`` are its GNU Radio blocks.
"""
