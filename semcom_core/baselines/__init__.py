"""Classical digital links (separate source and channel coding) and their capacity bound.

    source (BPG, JPEG, UTF-8, 16-bit PCM, H.264)  ->  bits  ->  channel code (IEEE 802.16e or
    5G NR LDPC, turbo)  ->  QAM  ->  channel  ->  LLRs  ->  decode  ->  source decode

- :mod:`.source`: codecs that fit an item into a bit budget (``SourceCodec``);
- :mod:`.codes`: channel codes behind one interface (``ChannelCode``), with a fast
  layered min-sum decoder for the 802.16e codes;
- :mod:`.modulation`: QAM through Sionna's mapper and demapper;
- :mod:`.link`: ``DigitalLink``, the whole chain in a fixed number of channel uses;
- :mod:`.capacity`: BPG + capacity, the bound of any such link;
- :mod:`.images`: evaluation on images, with the lost-image convention.
"""
