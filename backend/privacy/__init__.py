"""Personal data that can be erased without rewriting history (crypto-shredding)."""
