"""The safe expression language of mapping files (see :mod:`hub.expr.language`)."""

from hub.expr.functions import FUNCTIONS, EvalContext, FunctionSpec
from hub.expr.language import ExpressionError, parse

__all__ = ["FUNCTIONS", "EvalContext", "ExpressionError", "FunctionSpec", "parse"]
