"""Tools of the source checkout (not part of the installed package): ``python -m tools.fixtures``."""
