"""Operations: liveness and readiness, metrics, where projections and reactions stand."""
