"""What the views and panels show and edit, with signals: the session controller (the one
writer of the session, with undo), the analysis and network models, view sources, jobs."""
