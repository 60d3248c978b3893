"""Synthetic landing zone generator: a small operator's world simulated day by day, with
planted discrepancies and the ground truth the engine must find on the last night."""

from .generation import GenerationResult, generate

__all__ = ["GenerationResult", "generate"]
