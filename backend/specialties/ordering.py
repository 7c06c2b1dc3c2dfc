"""The order a plugin's calculators run in (pure): each after the calculators whose results it
takes as inputs. A cycle, or a chain deeper than MAX_CHAIN, is refused when the plugin loads:
each link of a chain is one more round of calculator workers for the command (see
backend/specialties/service.py), and a command has a bounded number of attempts."""

from __future__ import annotations

from collections.abc import Mapping

MAX_CHAIN = 4


class OrderProblem(Exception):
    def __init__(self, calculator: str, message: str) -> None:
        super().__init__(message)
        self.calculator = calculator
        self.message = message


def calculation_order(needs: Mapping[str, frozenset[str]]) -> list[str]:
    """The calculator ids of `needs` (id -> its inputs), each after those among its inputs."""
    order: list[str] = []
    depths: dict[str, int] = {}
    path: list[str] = []

    def visit(calculator: str) -> int:
        if calculator in depths:
            return depths[calculator]
        if calculator in path:
            cycle = " -> ".join([*path[path.index(calculator) :], calculator])
            raise OrderProblem(calculator, f"its inputs go round in a cycle: {cycle}")
        path.append(calculator)
        upstream = sorted(needs[calculator] & needs.keys())
        depth = 1 + max((visit(name) for name in upstream), default=0)
        path.pop()
        if depth > MAX_CHAIN:
            msg = f"takes results of calculators {depth} deep, at most {MAX_CHAIN} are allowed"
            raise OrderProblem(calculator, msg)
        depths[calculator] = depth
        order.append(calculator)
        return depth

    for calculator in needs:
        visit(calculator)
    return order
