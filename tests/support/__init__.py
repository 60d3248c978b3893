"""Helpers shared by test modules: hand-made rows, landing zones, case-store nights."""
