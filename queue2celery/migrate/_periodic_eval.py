"""Statically visible values of intervals and times: literal arithmetic, module constants
(in this module or imported), settings attributes with literal defaults, ``timedelta(...)``,
``int(os.getenv("X", "60"))``. What cannot be resolved stays None, never a guess."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ._periodic_names import Sym

__all__ = ["Values"]

_UNITS = {
    "weeks": 604800,
    "days": 86400,
    "hours": 3600,
    "minutes": 60,
    "seconds": 1,
    "milliseconds": 0.001,
    "microseconds": 0.000001,
}
_TIMEDELTA_POSITIONAL = (
    "days",
    "seconds",
    "microseconds",
    "milliseconds",
    "minutes",
    "hours",
    "weeks",
)


class Values:
    """Evaluates :data:`Sym` values across modules. ``constants``: qualified name -> value
    (module assignments and class attributes); ``alias``: ``module.local`` -> what an import
    there names; ``objects``: a variable -> the class it is an instance of; ``load(fqn)`` is
    asked once for a name whose module was not analysed (a settings module)."""

    def __init__(
        self,
        constants: dict[str, Sym],
        alias: dict[str, str],
        objects: dict[str, str],
        load: Callable[[str], bool] | None = None,
    ) -> None:
        self.constants = constants
        self.alias = alias
        self.objects = objects
        self._load = load
        self._asked: set[str] = set()

    def canon(self, fqn: str) -> str:
        """Follows imports: ``app.main.INTERVAL`` -> ``app.config.INTERVAL``."""
        for _ in range(10):
            parts = fqn.split(".")
            for cut in range(len(parts), 0, -1):
                head = ".".join(parts[:cut])
                if head in self.alias and self.alias[head] != head:
                    fqn = ".".join([self.alias[head], *parts[cut:]])
                    break
            else:
                return fqn
        return fqn

    def number(
        self, sym: Sym, bind: Mapping[str, Sym] | None = None, notes: list[str] | None = None
    ) -> float | None:
        value = self._value(sym, bind or {}, notes if notes is not None else [], 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    return None
            return None
        return value

    def string(
        self, sym: Sym, bind: Mapping[str, Sym] | None = None, notes: list[str] | None = None
    ) -> str | None:
        value = self._value(sym, bind or {}, notes if notes is not None else [], 0)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(int(value)) if float(value).is_integer() else str(value)
        return value if isinstance(value, str) else None

    # -- evaluation -----------------------------------------------------------------------
    def _value(self, sym: Sym, bind: Mapping[str, Sym], notes: list[str], depth: int) -> object:
        if depth > 12:
            return None
        kind = sym[0]
        if kind in ("num", "str"):
            return sym[1]
        if kind == "neg":
            inner = self._value(sym[1], bind, notes, depth + 1)
            return -inner if isinstance(inner, (int, float)) else None
        if kind == "bin":
            left = self._value(sym[2], bind, notes, depth + 1)
            right = self._value(sym[3], bind, notes, depth + 1)
            return _arith(sym[1], left, right)
        if kind == "param":
            if sym[1] in bind:
                return self._value(bind[sym[1]], {}, notes, depth + 1)
            return None
        if kind == "ref":
            return self._ref(sym[1], bind, notes, depth)
        if kind == "call":
            return self._call(sym, bind, notes, depth)
        return None

    def _ref(self, fqn: str, bind: Mapping[str, Sym], notes: list[str], depth: int) -> object:
        fqn = self.canon(fqn)
        if fqn in bind:  # a constructor-given attribute (self.interval)
            return self._value(bind[fqn], {}, notes, depth + 1)
        found = self._lookup(fqn)
        if found is None and self._load is not None and fqn not in self._asked:
            self._asked.add(fqn)
            if self._load(fqn):
                fqn = self.canon(fqn)
                found = self._lookup(fqn)
        if found is None:
            return None
        name, sym = found
        if name != fqn:
            notes.append(
                f"{fqn.rsplit('.', 2)[-2]}.{fqn.rsplit('.', 1)[-1]} is the default "
                f"of {name}; a value set at run time overrides it"
            )
        return self._value(sym, {}, notes, depth + 1)

    def _lookup(self, fqn: str) -> tuple[str, Sym] | None:
        if fqn in self.constants:
            return fqn, self.constants[fqn]
        owner, _, attr = fqn.rpartition(".")
        cls = self.objects.get(owner)
        if cls is not None:
            cls = self.canon(cls)
            if f"{cls}.{attr}" in self.constants:
                return f"{cls}.{attr}", self.constants[f"{cls}.{attr}"]
        return None

    def _call(self, sym: Sym, bind: Mapping[str, Sym], notes: list[str], depth: int) -> object:
        _, func, args, kwargs = sym
        func = self.canon(func)
        kw = dict(kwargs)
        last = func.rsplit(".", 1)[-1]
        if func in ("builtins.int", "builtins.float", "builtins.round") and args:
            value = self._value(args[0], bind, notes, depth + 1)
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    return None
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return None
            return float(value) if func == "builtins.float" else int(value)
        if func in ("os.getenv", "os.environ.get"):
            default = args[1] if len(args) > 1 else kw.get("default")
            name = self._value(args[0], bind, notes, depth + 1) if args else None
            if default is None:
                return None
            notes.append(f"the environment variable {name!r} overrides it")
            return self._value(default, bind, notes, depth + 1)
        if last == "timedelta":
            total = 0.0
            pairs = list(zip(_TIMEDELTA_POSITIONAL, args, strict=False)) + list(kw.items())
            for unit, value_sym in pairs:
                value = self._value(value_sym, bind, notes, depth + 1)
                if not isinstance(value, (int, float)) or unit not in _UNITS:
                    return None
                total += value * _UNITS[unit]
            return total
        if func == "<expr>.total_seconds" and args:
            return self._value(args[0], bind, notes, depth + 1)
        if last in ("Field", "field"):  # pydantic / dataclasses defaults
            default = kw.get("default", args[0] if args else None)
            return None if default is None else self._value(default, bind, notes, depth + 1)
        return None


def _arith(op: str, left: object, right: object) -> object:
    if isinstance(left, bool) or isinstance(right, bool):
        return None
    if not isinstance(left, (int, float)) or not isinstance(right, (int, float)):
        return None
    try:
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op == "/":
            return left / right
        if op == "//":
            return left // right
    except ZeroDivisionError:
        return None
    return None
