"""The VergeOS query language: fields, filter, sort, limit and offset.

This module knows nothing about tables. It works through a "view" of one
table with two methods:

- ``getter(path)``: a function row -> value for a column path such as
  ``("machine", "status", "status")``, or None when the path names no column;
- ``columns(group)``: the column names behind ``all``, ``most`` or ``summary``;
- ``projector(path)``: the getter a projection uses for that path (the same
  as ``getter`` unless the world serves values differently, e.g. keys as
  strings: filters and sorts always see the stored values).
"""

import re
from dataclasses import dataclass

GROUPS = ("all", "most", "summary")
OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le", "bw", "ew", "cs", "ct", "rx", "pm", "pt", "et")
# Added by VergeOS 26.0; no public source says what they do. Accepted, and (the simulator's assumption) they match no row.
UNSPECIFIED_OPERATORS = ("pm", "pt", "et")
# Operators that only compare a whole value; every other one looks into it (begins with, contains, regex...).
EQUALITY_OPERATORS = ("eq", "ne")
CONJUNCTIONS = ("and", "or")
INVALID = "Invalid argument"


class QueryError(Exception):
    """A query the platform rejects: answered 422 {"err": "Invalid argument"} (the text is for debugging)."""


@dataclass(frozen=True)
class Field:
    """One entry of a projection: a column path and the name it lands under."""

    path: tuple
    name: str


@dataclass(frozen=True)
class Comparison:
    path: tuple
    operator: str
    literal: object


@dataclass(frozen=True)
class Junction:
    conjunction: str
    left: object
    right: object


@dataclass(frozen=True)
class SortKey:
    path: tuple
    descending: bool


@dataclass(frozen=True)
class Query:
    fields: object  # a tuple of field entries, or None when no fields parameter was sent
    condition: object  # Comparison, Junction or None
    sort: tuple
    limit: int
    offset: int


# ---------------------------------------------------------------- parsing


def split_path(text):
    """Return the column path of 'a#b#c' as a tuple."""
    return tuple(part.strip() for part in text.split("#"))


def parse_fields(text):
    """Return the projection as a tuple of Field entries and group names ('all', ...)."""
    entries = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        if item in GROUPS:
            entries.append(item)
            continue
        match = re.fullmatch(r"(.+?)\s+as\s+(\S+)", item)
        if match:
            entries.append(Field(split_path(match.group(1)), match.group(2)))
        else:
            entries.append(Field(split_path(item), item))
    return tuple(entries)


_TOKEN = re.compile(r"\s*(?:(?P<paren>[()])|(?P<quote>')|(?P<word>[^\s()']+))")
_PLAIN = re.compile(r"[^\\'{]+")  # what a string literal holds as it is: anything but a backslash, a quote or a brace


def _read_literal(text, start):
    """Return (string value, index after the closing quote) for a literal opened at text[start - 1].

    A backslash escapes the next character. An unescaped '{' opens a balanced,
    nesting-aware construct that the platform consumes silently; an unbalanced
    one is rejected.
    """
    out = []
    index = start
    while index < len(text):
        plain = _PLAIN.match(text, index)
        if plain:  # a run of ordinary characters, taken at once
            out.append(plain.group())
            index = plain.end()
            continue
        char = text[index]
        if char == "\\":
            if index + 1 >= len(text):
                raise QueryError("dangling escape in string literal")
            out.append(text[index + 1])
            index += 2
        elif char == "'":
            return "".join(out), index + 1
        elif char == "{":
            index = _skip_braces(text, index)
        else:
            out.append(char)
            index += 1
    raise QueryError("unterminated string literal")


def _skip_braces(text, start):
    """Return the index after the '}' that balances the '{' at text[start]."""
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise QueryError("unbalanced '{' in string literal")


def tokenize(text):
    """Return the filter's tokens as (kind, value) pairs: paren, string or word."""
    tokens = []
    index = 0
    while True:
        match = _TOKEN.match(text, index)
        if not match:
            if text[index:].strip():
                raise QueryError("unexpected character")
            return tokens
        if match.group("paren"):
            tokens.append(("paren", match.group("paren")))
            index = match.end()
        elif match.group("quote"):
            value, index = _read_literal(text, match.end())
            tokens.append(("string", value))
        else:
            tokens.append(("word", match.group("word")))
            index = match.end()


def _bare_literal(word):
    """Return the value of an unquoted literal: true, false, null or a number."""
    constants = {"true": True, "false": False, "null": None}
    if word in constants:
        return constants[word]
    if re.fullmatch(r"-?\d+", word):
        return int(word)
    if re.fullmatch(r"-?\d+\.\d*|-?\.\d+", word):
        return float(word)
    raise QueryError("bad literal %r" % word)


class _FilterParser:
    """Recursive descent over the tokens; and/or bind strictly left to right."""

    def __init__(self, tokens):
        self.tokens = tokens
        self.position = 0

    def _next(self):
        if self.position >= len(self.tokens):
            raise QueryError("unexpected end of filter")
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def expression(self):
        node = self.term()
        while self._peek() and self._peek()[0] == "word" and self._peek()[1] in CONJUNCTIONS:
            conjunction = self._next()[1]
            node = Junction(conjunction, node, self.term())
        return node

    def term(self):
        kind, value = self._next()
        if kind == "paren" and value == "(":
            node = self.expression()
            if self._next() != ("paren", ")"):
                raise QueryError("expected ')'")
            return node
        if kind != "word":
            raise QueryError("expected a field name")
        operator_kind, operator = self._next()
        if operator_kind != "word" or operator not in OPERATORS:
            raise QueryError("unknown operator %r" % operator)
        literal_kind, literal = self._next()
        if literal_kind == "word":
            literal = _bare_literal(literal)
        elif literal_kind != "string":
            raise QueryError("expected a value")
        if operator == "rx":
            literal = compile_ere(literal if isinstance(literal, str) else str(literal))
        return Comparison(split_path(value), operator, literal)

    def parse(self):
        node = self.expression()
        if self._peek() is not None:
            raise QueryError("unexpected %r" % (self._peek()[1],))
        return node


def parse_filter(text):
    """Return the condition tree of a filter expression, or None for an empty filter."""
    tokens = tokenize(text)
    if not tokens:
        return None
    return _FilterParser(tokens).parse()


def parse_sort(text):
    """Return the sort keys of 'a,-b,+c' ('+' may arrive decoded as a space)."""
    keys = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        descending = item.startswith("-")
        keys.append(SortKey(split_path(item.lstrip("+-").strip()), descending))
    return tuple(keys)


def _parse_count(text):
    if text is None or text == "":
        return 0
    if not re.fullmatch(r"\d+", text.strip()):
        raise QueryError("limit and offset must be whole numbers")
    return int(text)


def parse_query(params):
    """Return a Query from the request's query parameters (a dict of strings)."""
    fields = params.get("fields")
    return Query(
        fields=parse_fields(fields) if fields is not None else None,
        condition=parse_filter(params.get("filter") or ""),
        sort=parse_sort(params.get("sort") or ""),
        limit=_parse_count(params.get("limit")),
        offset=_parse_count(params.get("offset")),
    )


# ---------------------------------------------------------------- POSIX ERE

_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\f\v", "blank": r" \t", "xdigit": "0-9A-Fa-f", "cntrl": r"\x00-\x1f\x7f",
    "print": r"\x20-\x7e", "graph": r"\x21-\x7e", "punct": r"!-/:-@\[-`{-~",
}
_NEVER = re.compile(r"(?!)")


def _translate_bracket(pattern, start):
    """Return (python class text, index after ']') for the bracket expression at pattern[start]."""
    index = start + 1
    out = ["["]
    if pattern[index:index + 1] == "^":
        out.append("^")
        index += 1
    if pattern[index:index + 1] == "]":
        out.append(r"\]")
        index += 1
    while index < len(pattern):
        if pattern[index] == "]":
            out.append("]")
            return "".join(out), index + 1
        match = re.match(r"\[:(\w+):\]", pattern[index:])
        if match:
            if match.group(1) not in _POSIX_CLASSES:
                raise QueryError("unknown character class")
            out.append(_POSIX_CLASSES[match.group(1)])
            index += match.end()
            continue
        char = pattern[index]
        # In POSIX brackets a backslash is literal; Python treats these as special.
        out.append("\\" + char if char in "\\[&~|" else char)
        index += 1
    raise QueryError("unterminated bracket expression")


def compile_ere(pattern):
    """Return a compiled regex for a POSIX ERE pattern.

    PCRE-only syntax (\\d, \\w, (?i) ...) does not fail on the platform, it
    silently matches nothing; the returned regex does the same.
    """
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            following = pattern[index + 1:index + 2]
            if not following:
                raise QueryError("trailing backslash in regex")
            if following.isalnum():
                return _NEVER
            out.append("\\" + following)
            index += 2
        elif char == "[":
            text, index = _translate_bracket(pattern, index)
            out.append(text)
        elif pattern.startswith("(?", index):
            return _NEVER
        else:
            out.append(char)
            index += 1
    try:
        return re.compile("".join(out))
    except re.error as error:
        raise QueryError("bad regex: %s" % error) from error


# ---------------------------------------------------------------- evaluation


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric(text):
    """Return text as a number when it spells one, else None."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _comparable(value, literal):
    """Return (value, literal) coerced to one comparable type, or None when they cannot be ordered."""
    if value is None or literal is None:
        return None
    if _is_number(value) and isinstance(literal, str):
        literal = _numeric(literal)
        return None if literal is None else (value, literal)
    if isinstance(value, str) and _is_number(literal):
        return value, str(literal)
    same_kind = (_is_number(value) and _is_number(literal)) or type(value) is type(literal)
    return (value, literal) if same_kind and isinstance(value, (int, float, str)) else None


def _equal(value, literal):
    pair = _comparable(value, literal)
    if pair is None:
        return value is None and literal is None
    return pair[0] == pair[1]


def _text(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _string_match(operator, value, literal):
    text = _text(value)
    if text is None:
        return False
    if operator == "rx":
        return literal.search(text) is not None
    needle = _text(literal) or ""
    if operator == "bw":
        return text.startswith(needle)
    if operator == "ew":
        return text.endswith(needle)
    if operator == "cs":
        return needle in text
    return needle.lower() in text.lower()


_ORDERINGS = {
    "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
}


def compare(operator, value, literal):
    """Return whether a column value satisfies 'value <operator> literal'."""
    if operator == "eq":
        return _equal(value, literal)
    if operator == "ne":
        return not _equal(value, literal)
    if operator in _ORDERINGS:
        pair = _comparable(value, literal)
        return pair is not None and _ORDERINGS[operator](*pair)
    return _string_match(operator, value, literal)


def equal_to_any(literals):
    """Return a function value -> bool: whether `value eq L` holds for one of the literals, exactly as compare() decides.

    A plain string value (a name: what long `or` chains of `eq` look up) is
    answered by one set lookup: it equals a string literal only when the two
    are the same, a number literal only when it is that number's str(), and
    never a boolean or null; any other value is compared literal by literal.
    """
    literals = tuple(literals)
    texts = frozenset(literal if isinstance(literal, str) else str(literal)
                      for literal in literals if isinstance(literal, str) or _is_number(literal))

    def match(value):
        if isinstance(value, str):
            return value in texts
        return any(_equal(value, literal) for literal in literals)
    return match


def operands(node):
    """Return the operands of a chain of one conjunction, left to right, nested chains of the same conjunction flattened.

    `and` and `or` are associative, so (a or b) or c is a or (b or c): the
    flattening changes no answer, only how deep the predicates nest.
    """
    flat, stack = [], [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Junction) and item.conjunction == node.conjunction:
            stack.extend((item.right, item.left))
        else:
            flat.append(item)
    return flat


def _comparison_getter(node, view, traversal):
    """Return the getter a comparison reads its column with; QueryError as compile_condition says."""
    if not traversal and len(node.path) > 1:
        raise QueryError("filters on traversed fields are refused: %r" % "#".join(node.path))
    getter = view.getter(node.path)
    if getter is None:
        raise QueryError("unknown field %r" % "#".join(node.path))
    return getter


def _compile_comparison(node, view, traversal):
    getter = _comparison_getter(node, view, traversal)
    operator, literal = node.operator, node.literal
    if operator in UNSPECIFIED_OPERATORS:
        return lambda row: False  # the simulator's assumption: see UNSPECIFIED_OPERATORS
    return lambda row: compare(operator, getter(row), literal)


def _compile_or(nodes, view, traversal):
    """Return the predicates of an `or` chain's operands; the `eq` terms on one column become one set lookup (equal_to_any)."""
    predicates = []
    pinned = {}  # column path -> the literals of its `eq` terms, in the order they came
    for node in nodes:
        if isinstance(node, Comparison) and node.operator == "eq":
            pinned.setdefault(node.path, []).append(node.literal)
        else:
            predicates.append(compile_condition(node, view, traversal))
    for path, literals in pinned.items():
        predicates.append(_equal_any_predicate(_comparison_getter(Comparison(path, "eq", None), view, traversal), literals))
    return predicates


def _equal_any_predicate(getter, literals):
    """Return the predicate of `column eq L1 or column eq L2 ...`: the column read once, then one set lookup (equal_to_any)."""
    if len(literals) == 1:
        literal = literals[0]
        return lambda row: _equal(getter(row), literal)
    match = equal_to_any(literals)
    return lambda row: match(getter(row))


def _joined(predicates, conjunction):
    """Return one predicate for ``predicates`` joined by ``conjunction`` ('and' or 'or'), short-circuiting left to right."""
    if len(predicates) == 1:
        return predicates[0]
    combine = all if conjunction == "and" else any
    return lambda row: combine(predicate(row) for predicate in predicates)


def compile_condition(node, view, traversal=True):
    """Return a predicate row -> bool for a condition tree.

    QueryError for unknown columns, and for traversed fields (a#b) when
    traversal is False: some systems refuse those in filters. Chains of one
    conjunction are evaluated as one any() or all() (see operands()), and
    the `eq` terms of an `or` chain on one column as one set lookup: the
    answers are those of evaluating the tree node by node, as every
    comparison is a pure function of the row.
    """
    if isinstance(node, Junction):
        nodes = operands(node)
        if node.conjunction == "or":
            return _joined(_compile_or(nodes, view, traversal), "or")
        return _joined([compile_condition(item, view, traversal) for item in nodes], "and")
    return _compile_comparison(node, view, traversal)


def equality_keys(condition, column):
    """Return the values a condition pins `column` to ('column eq N' joined by or, and-ed with anything), or None.

    Lets the caller fetch candidate rows by key instead of scanning a table;
    the full condition is still applied to them.
    """
    if isinstance(condition, Comparison):
        literal = condition.literal
        pinned = condition.path == (column,) and condition.operator == "eq" and isinstance(literal, int) and not isinstance(literal, bool)
        return {literal} if pinned else None
    if not isinstance(condition, Junction):
        return None
    left = equality_keys(condition.left, column)
    right = equality_keys(condition.right, column)
    if condition.conjunction == "or":
        return None if left is None or right is None else left | right
    return left if right is None else right if left is None else left & right


def _selective(pin):
    """Whether a pin is worth a look-up: booleans and null split a table in two, names and numbers pick a few rows."""
    return any(literal is not None and not isinstance(literal, bool) for literal in pin[1])


def pinned_values(condition):
    """Return (column, literals) when every row the condition matches has `column eq L` for one of the literals, else None.

    What pins a column: `column eq L` terms joined by `or`, the chain possibly
    and-ed with anything (of several pinned columns, the first whose literals
    are not all booleans or null). Only plain columns, no traversals. A row
    outside equal_to_any(literals) cannot match, so the caller can look at the
    others only; the full condition is still applied to them.
    """
    if isinstance(condition, Comparison):
        if condition.operator == "eq" and len(condition.path) == 1:
            return condition.path[0], [condition.literal]
        return None
    if not isinstance(condition, Junction):
        return None
    pins = [pinned_values(item) for item in operands(condition)]
    if condition.conjunction == "or":
        if any(pin is None or pin[0] != pins[0][0] for pin in pins):
            return None
        return pins[0][0], [literal for pin in pins for literal in pin[1]]
    pins = [pin for pin in pins if pin is not None]
    return next((pin for pin in pins if _selective(pin)), pins[0] if pins else None)


def comparisons(condition):
    """Yield every Comparison of a condition tree (None yields nothing)."""
    if isinstance(condition, Junction):
        yield from comparisons(condition.left)
        yield from comparisons(condition.right)
    elif condition is not None:
        yield condition


KEY_PATH = ("$key",)


def sorts_on_key(query):
    """Return whether a query's sort names the row key `$key`."""
    return any(key.path == KEY_PATH for key in query.sort)


def without_key_sort(query):
    """Return the query with every `$key` sort key dropped."""
    return Query(query.fields, query.condition, tuple(key for key in query.sort if key.path != KEY_PATH), query.limit, query.offset)


def _sort_value(value):
    """Return a key that orders values of mixed types: null, booleans, numbers, strings, the rest."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if _is_number(value):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4, repr(value))


def sort_rows(rows, keys, view, base_order=None):
    """Return rows ordered by the sort keys; ties keep $key order so pages are stable.

    base_order(rows), when given, returns the order ties keep instead (a shuffle, for a system that ignores a sort).
    """
    if base_order is not None:
        ordered = base_order(rows)
    else:
        ordered = sorted(rows, key=lambda row: row["$key"] if _is_number(row["$key"]) else 0)
    for key in reversed(keys):
        getter = view.getter(key.path)
        if getter is None:
            continue
        # sorted() is stable for reverse=True too, so earlier keys and $key order survive.
        ordered = sorted(ordered, key=lambda row, get=getter: _sort_value(get(row)), reverse=key.descending)
    return ordered


def expand_fields(entries, view):
    """Return (name, getter) pairs for a projection; unknown columns are left out."""
    pairs = []
    for entry in entries:
        if isinstance(entry, str):
            pairs.extend((name, view.projector((name,))) for name in view.columns(entry))
        else:
            getter = view.projector(entry.path)
            if getter is not None:
                pairs.append((entry.name, getter))
    return pairs


def project(row, pairs):
    """Return the projected copy of one row."""
    return {name: getter(row) for name, getter in pairs}


def projection(query, view):
    """Return the (name, getter) pairs a query's fields select (the 'most' group when none were asked)."""
    entries = query.fields if query.fields is not None else ("most",)
    return expand_fields(entries, view)


def select(rows, query, view, traversal=True, base_order=None):
    """Return the rows of a collection GET: filtered, sorted, paged and projected.

    traversal: see compile_condition; base_order: see sort_rows.
    """
    if query.condition is not None:
        predicate = compile_condition(query.condition, view, traversal)
        rows = [row for row in rows if predicate(row)]
    if query.fields == ():
        # A projection naming no column answers only the row count, as the platform does.
        return [{"$count": len(rows)}]
    rows = sort_rows(rows, query.sort, view, base_order)
    rows = rows[query.offset:]
    if query.limit:
        rows = rows[:query.limit]
    pairs = projection(query, view)
    return [project(row, pairs) for row in rows]
