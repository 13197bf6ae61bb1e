"""What the views compute, without Qt: surface heights and isolines (``surface``),
and rays from the camera through a pixel onto the surface (``picking``)."""
