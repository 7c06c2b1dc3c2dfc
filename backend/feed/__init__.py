"""The partners' event feed: a tenant's events in commit order, replayable from the start."""
