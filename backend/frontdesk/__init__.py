"""The front desk's views across contexts, read from the read models of each."""
