#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The Python pieces of the OFDM physical layer that GNU Radio's OFDM blocks do not provide.

- :mod:`.framer` (transmitter): payload frames in, [PHY header | payload] data symbols out;
- :mod:`.header_parser` (receiver, header path): header OFDM symbols in, a dictionary for
  ``header_payload_demux`` out (or ``False`` when the header does not decode);
- :mod:`.payload_eq` (receiver, payload path): payload OFDM symbols in, equalised semantic symbols out;
- :mod:`.sample_guard`: non-finite samples zeroed before the synchroniser;
- :mod:`.impairments`: what the air does between transmitter and receiver, as GNU Radio blocks.

``ofdm_tx`` and ``ofdm_rx`` wire them with GNU Radio's OFDM blocks; the layout (subcarriers, sync words,
header size) and the numerics are ``semcom_core.symbols.ofdm.OfdmLayout``.
"""
