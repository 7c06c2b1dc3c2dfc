"""Read-model projections and their runner, fed by the event store's global reader."""
