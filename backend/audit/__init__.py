"""The auditor's view: tamper evidence, history, export."""
