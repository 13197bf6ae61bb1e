"""Figures, animations and data from the window and the command line: ``figures`` renders
(off-screen, from a snapshot of the source), ``dialog`` asks for the options."""
