"""The window: its layout and modes (``main_window``), menus and shortcuts as tables (``actions``),
files, the recent list and autosave (``files``), the docks' proportions, the examples tour."""
