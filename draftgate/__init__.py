"""The ``draftgate`` command line."""
