"""HTTP edge: FastAPI app, problem+json errors, auth dependencies, idempotency, logging."""
