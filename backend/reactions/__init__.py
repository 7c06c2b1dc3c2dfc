"""Reactions: contexts answering each other's events with commands, never with direct calls."""
