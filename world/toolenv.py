"""What every domain's tool environment shares: the call convention, result text, `calculate`.

A domain supplies a tools object (plain Python methods named like tau2's, on a class named like
tau2's so TypeError texts match) and its tool table (name -> read/write/generic). `ToolEnv.call`
never raises: a tool error is a `ToolResult` whose content is `"Error: <message>"` and
`error=True`, as tau2 records it. Results are serialised as tau2 does: a record (model) becomes
`json.dumps` of its fields in model order with default separators; a plain string stays raw.
"""

from __future__ import annotations

import ast
import json
import operator
from dataclasses import dataclass
from typing import Any

TOOL_VERSIONS = ("v1", "v0")


@dataclass(frozen=True)
class ToolResult:
    """What a tool message carries: the content string and whether it is an error."""
    content: str
    error: bool = False


def serialise(value: Any) -> str:
    """tau2's tool-result text: strings raw, everything else as JSON (default separators)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    return json.dumps(value, default=str)


def check_version(version: str) -> None:
    """Refuse an unknown tool-set version (ValueError)."""
    if version not in TOOL_VERSIONS:
        raise ValueError(f"unknown tool version {version!r} (expected v1 or v0)")


# -- calculate: tau2 evals the expression after a character check; we evaluate the same
# arithmetic on the AST instead of eval, so a hostile expression cannot run code or hang.
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv}


def _arith(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _arith(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        val = _arith(node.operand)
        return val if isinstance(node.op, ast.UAdd) else -val
    if isinstance(node, ast.BinOp):
        left, right = _arith(node.left), _arith(node.right)
        if isinstance(node.op, ast.Pow):
            if abs(right) > 1000 or abs(left) > 1e100:
                raise ValueError("Invalid expression: exponent too large")
            return left ** right
        fn = _BINOPS.get(type(node.op))
        if fn is not None:
            return fn(left, right)
    raise ValueError("Invalid expression")


def calculate(expression: str) -> str:
    """tau2's `calculate` tool (same in every domain)."""
    if not all(char in "0123456789+-*/(). " for char in expression):
        raise ValueError("Invalid characters in expression")
    tree = ast.parse(expression.lstrip(" \t"), filename="<string>", mode="eval")
    return str(round(float(_arith(tree)), 2))


class ToolEnv:
    """A tool environment over its own fork of a domain DB. Subclasses set `tool_kinds`
    (name -> read/write/generic, tau2's definition order) and build `self._tools`."""

    tool_kinds: dict[str, str] = {}
    write_tools: frozenset[str] = frozenset()

    def __init__(self, tools: Any, names: list[str], version: str):
        self.version = version
        self._tools = tools
        self._names = names
        self._name_set = frozenset(names)

    def has_tool(self, name: str) -> bool:
        """Whether this tool set has a tool of that name."""
        return name in self._name_set

    def tool_names(self) -> list[str]:
        """This tool set's names, in stable order."""
        return list(self._names)

    def call(self, name: Any, arguments: Any = None) -> ToolResult:
        """Run one tool call; never raises. Errors come back as tau2's "Error: ..." text."""
        if not isinstance(name, str) or name not in self._name_set:
            return ToolResult(f"Error: Tool '{name}' not found.", True)
        if arguments is None:
            arguments = {}
        if isinstance(arguments, str):
            # Engines may hand over the model's raw JSON text; decode it like a client would.
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                return ToolResult(f"Error: tool arguments are not valid JSON ({exc.msg})", True)
        if not isinstance(arguments, dict):
            return ToolResult("Error: tool arguments must be a JSON object, got "
                              f"{type(arguments).__name__}", True)
        if not all(isinstance(k, str) for k in arguments):
            return ToolResult("Error: tool argument names must be strings", True)
        try:
            value = getattr(self._tools, name)(**arguments)
            return ToolResult(serialise(value), False)
        except RecursionError:
            return ToolResult("Error: expression too deeply nested", True)
        except Exception as exc:  # noqa: BLE001 - a tool error is data, never an escape
            return ToolResult(f"Error: {exc}", True)

    def tool_schemas(self) -> list[dict]:
        """OpenAI function-tool JSON for this tool set, in stable order."""
        raise NotImplementedError
