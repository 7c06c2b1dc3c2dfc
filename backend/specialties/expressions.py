"""Safe declarative expressions for calculators and validation rules.

Manifest text is never given to `eval` or `exec`. It is parsed with `ast.parse` and checked
against a whitelist when the plugin loads (anything else is refused with a clear message:
imports, attribute access, calls to unknown functions, lambdas, comprehensions, subscripts,
huge literals); then a small interpreter walks the checked tree. Every value is a number, a
string, a boolean or None. The magnitude of every number met while evaluating is bounded:
inputs, arguments and the result of every operation and function (and a function's arguments
are checked before it is called, as `round(x, -10**9)` would make CPython build 10**(10**9)
first). Powers other than small exact ones are computed in floating point. So an expression
of at most MAX_NODES parts ends in microseconds whatever its inputs.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_LENGTH = 1000
MAX_NODES = 300
MAX_DEPTH = 30
MAX_LITERAL = 10**9
MAX_STRING = 200
MAX_EXACT_POWER = 4
"""A whole number to a constant whole power up to this stays exact (an integer); every other
power is computed in floating point, which costs the same whatever the operands."""
MAX_RESULT = 1e15
"""The largest magnitude of any number an evaluation meets (inputs and intermediates)."""
MAX_ROUND_DIGITS = 15
"""round(x, n) takes a whole n from -15 to 15."""
PURE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
}
"""log(x) is the natural logarithm, log(x, base) the logarithm to a base."""
HISTORY_FUNCTIONS = frozenset({"has_event", "count_events"})
"""Functions answered from the stream's recorded specialty events (see `History`)."""


def _power(base: int | float, exponent: int | float) -> int | float:
    """Exact for a whole number to a whole power up to MAX_EXACT_POWER; otherwise in floating
    point, where an overflow or a complex result (a negative base to a fraction) is an error
    at once, so `9 ** 9 ** 9` costs no more than `2 ** 0.5`."""
    exact = isinstance(base, int) and isinstance(exponent, int)
    if exact and 0 <= exponent <= MAX_EXACT_POWER:
        return base**exponent
    return math.pow(base, exponent)


_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
}
_COMPARISONS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


class UnsafeExpression(ValueError):
    """The expression uses something outside the whitelist (refused at load)."""


class EvaluationError(ValueError):
    """The expression could not be evaluated on these values (e.g. a division by zero);
    `reason` says why in a few words."""

    def __init__(self, reason: str, text: str = "") -> None:
        super().__init__(f"{text!r}: {reason}" if text else reason)
        self.reason = reason


class History:
    """What `has_event` and `count_events` see: the specialty events recorded on the stream."""

    def __init__(self, events: tuple[Mapping[str, Any], ...] = ()) -> None:
        self._events = events

    def count(self, event_type: str, **where: Any) -> int:
        return sum(
            1
            for e in self._events
            if e["type"] == event_type and all(e["data"].get(k) == v for k, v in where.items())
        )


@dataclass(frozen=True)
class Expression:
    text: str
    tree: ast.Expression
    names: frozenset[str]
    """The input names the expression reads (it is skipped while one is unknown)."""

    def evaluate(self, values: Mapping[str, Any], history: History | None = None) -> Any:
        try:
            return _Interpreter(values, history or History()).run(self.tree.body)
        except (ArithmeticError, TypeError, ValueError) as e:
            reason = e.reason if isinstance(e, EvaluationError) else str(e) or type(e).__name__
            raise EvaluationError(reason, self.text) from e


def compile_expression(text: str, allowed_names: frozenset[str] | None = None) -> Expression:
    """Parse and check `text`; `allowed_names` (when given) are the only names it may read."""
    if len(text) > MAX_LENGTH:
        raise UnsafeExpression(f"longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise UnsafeExpression(f"not an expression: {e.msg}") from None
    except (RecursionError, MemoryError):
        raise UnsafeExpression("nested too deeply") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise UnsafeExpression(f"more than {MAX_NODES} parts")
    _check_depth(tree.body, 0)
    names = frozenset(_check(node) for node in nodes) - {""}
    if allowed_names is not None and not names <= allowed_names:
        unknown = ", ".join(sorted(names - allowed_names))
        raise UnsafeExpression(f"uses {unknown}, which is not one of its inputs")
    return Expression(text, tree, names)


def _check_depth(node: ast.AST, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise UnsafeExpression(f"nested more than {MAX_DEPTH} levels")
    for child in ast.iter_child_nodes(node):
        _check_depth(child, depth + 1)


_STRUCTURAL = (
    ast.Expression,
    ast.BoolOp,
    ast.BinOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.IfExp,
    ast.Compare,
    ast.Load,
    ast.keyword,
    *_ARITHMETIC,
    *_COMPARISONS,
)


def _check(node: ast.AST) -> str:
    """Refuse a node outside the whitelist; return the input name it reads, if any."""
    if isinstance(node, ast.Name):
        if node.id in PURE_FUNCTIONS or node.id in HISTORY_FUNCTIONS:
            return ""
        if node.id.startswith("_"):
            raise UnsafeExpression(f"name {node.id!r} is not allowed")
        return node.id
    if isinstance(node, ast.Constant):
        _check_literal(node.value)
        return ""
    if isinstance(node, ast.Call):
        _check_call(node)
        return ""
    if isinstance(node, _STRUCTURAL):
        return ""
    raise UnsafeExpression(f"{type(node).__name__} is not allowed ({_describe(node)})")


def _describe(node: ast.AST) -> str:
    kinds = {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscripts",
        ast.Lambda: "functions",
        ast.ListComp: "loops",
        ast.GeneratorExp: "loops",
        ast.SetComp: "loops",
        ast.DictComp: "loops",
        ast.NamedExpr: "assignment",
        ast.Starred: "unpacking",
    }
    for kind, what in kinds.items():
        if isinstance(node, kind):
            return f"no {what} in expressions"
    return "only arithmetic, comparisons, conditions and whitelisted functions"


def _check_literal(value: object) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > MAX_LITERAL:
            raise UnsafeExpression(f"number {value!r} is out of range (at most {MAX_LITERAL})")
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise UnsafeExpression(f"string longer than {MAX_STRING} characters")
        return
    raise UnsafeExpression(f"literal {type(value).__name__} is not allowed")


def _check_call(node: ast.Call) -> None:
    func = node.func
    if not isinstance(func, ast.Name):
        raise UnsafeExpression("only whitelisted functions may be called")
    if func.id in HISTORY_FUNCTIONS:
        first = node.args[0] if len(node.args) == 1 else None
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            raise UnsafeExpression(f"{func.id} takes one event type name (a string)")
        return
    if func.id not in PURE_FUNCTIONS:
        allowed = ", ".join(sorted({*PURE_FUNCTIONS, *HISTORY_FUNCTIONS}))
        raise UnsafeExpression(f"call to {func.id!r} is not allowed (only {allowed})")
    if node.keywords:
        raise UnsafeExpression(f"{func.id} takes no keyword arguments")


def _bounded(value: Any) -> Any:
    """`value` itself, unless it is a number beyond MAX_RESULT or not finite."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > MAX_RESULT:
        raise EvaluationError("a number beyond 10^15")
    if isinstance(value, float) and not (math.isfinite(value) and abs(value) <= MAX_RESULT):
        raise EvaluationError(f"{value:.3g} is beyond 10^15")
    return value


class _Interpreter:
    def __init__(self, values: Mapping[str, Any], history: History) -> None:
        self.values = values
        self.history = history

    def run(self, node: ast.expr) -> Any:
        match node:
            case ast.Constant():
                return node.value
            case ast.Name():
                if node.id not in self.values:
                    raise EvaluationError(f"{node.id} is unknown")
                return _bounded(self.values[node.id])
            case ast.BoolOp():
                return self._bool_op(node)
            case ast.UnaryOp():
                operand = self.run(node.operand)
                if isinstance(node.op, ast.Not):
                    return not operand
                number = _number(operand)
                return -number if isinstance(node.op, ast.USub) else number
            case ast.BinOp():
                left, right = self.run(node.left), self.run(node.right)
                return _bounded(_ARITHMETIC[type(node.op)](_number(left), _number(right)))
            case ast.Compare():
                return self._compare(node)
            case ast.IfExp():
                return self.run(node.body) if self.run(node.test) else self.run(node.orelse)
            case ast.Call():
                return self._call(node)
        raise TypeError(f"{type(node).__name__} cannot be evaluated")

    def _bool_op(self, node: ast.BoolOp) -> Any:
        result: Any = isinstance(node.op, ast.And)
        for value in node.values:
            result = self.run(value)
            if isinstance(node.op, ast.And) != bool(result):
                return result
        return result

    def _compare(self, node: ast.Compare) -> bool:
        left = self.run(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.run(right_node)
            if not _COMPARISONS[type(op)](left, right):
                return False
            left = right
        return True

    def _call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)
        args = [self.run(a) for a in node.args]
        if node.func.id in HISTORY_FUNCTIONS:
            where = {k.arg: self.run(k.value) for k in node.keywords if k.arg is not None}
            count = self.history.count(args[0], **where)
            return count > 0 if node.func.id == "has_event" else count
        numbers = [_number(a) for a in args]
        if node.func.id == "round" and len(numbers) == 2:
            digits = numbers[1]
            if not (isinstance(digits, int) and -MAX_ROUND_DIGITS <= digits <= MAX_ROUND_DIGITS):
                limit = MAX_ROUND_DIGITS
                raise EvaluationError(
                    f"round takes a whole number of digits from -{limit} to {limit}"
                )
        return _bounded(PURE_FUNCTIONS[node.func.id](*numbers))


def _number(value: Any) -> int | float:
    """Arithmetic takes numbers (booleans count as 0 and 1), never strings or None."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    raise TypeError(f"{value!r} is not a number")
