"""What the views compute, without Qt: surface heights and isolines (``surface``), paths,
heads and arrows clipped to the domain (``playback``),
and rays from the camera through a pixel onto the surface (``picking``)."""
