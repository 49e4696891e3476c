"""Materials and waste streams: Eural codes, afvalstroomnummers, processors."""
