"""Labelling mode: pictures or a video's frames labelled with clicks, boxes and a brush,
into a folder that ``livesegment train`` and ``eval`` read as it is."""
