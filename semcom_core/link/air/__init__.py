"""The over-the-air burst format: many images behind one preamble and one LDPC-coded header.

- :mod:`.layout`: where everything sits in a burst, and its size;
- :mod:`.header`: the header's fields, the images' quantiser ranges, CRCs and LDPC coding;
- :mod:`.modulate`: a burst's samples;
- :mod:`.acquire`: finding bursts in a sample stream (timing and carrier offset);
- :mod:`.demodulate`: channel estimate, phase tracking and decoding of one burst;
- :mod:`.receive`: the streaming receiver, with every loss counted.
"""

from .header import BURST_FORMAT_VERSION, BurstHeader
from .layout import BurstLayout, BurstShape
from .modulate import modulate_burst
from .receive import BurstReceiver, ReceivedImage

__all__ = ["BURST_FORMAT_VERSION", "BurstHeader", "BurstLayout", "BurstReceiver", "BurstShape", "ReceivedImage",
           "modulate_burst"]
