"""Shared kernel: pure building blocks used by every bounded context (no I/O)."""
