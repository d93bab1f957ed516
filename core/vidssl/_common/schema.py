"""JSON-schema validation of configs and component arguments, with messages a person can act on.

Components either give a JSON schema for their keyword arguments or let vidssl derive one from the
builder's signature and type hints (:func:`schema_from_signature`). A property whose schema holds
``{"x-component": KIND}`` is itself a component config (``{"type": name, ...}``) of that kind and is
validated against that component's own schema, recursively.
"""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import jsonschema

from vidssl._common.errors import ConfigError

#: JSON-schema validator whose "array" also accepts tuples (Python configs write both)
_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "array", lambda _, value: isinstance(value, (list, tuple))
    ),
)

_SCALARS = {
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    str: {"type": "string"},
    type(None): {"type": "null"},
}


def _type_schema(hint: Any) -> dict:
    """JSON schema of one Python type hint (best effort; unknown hints accept anything)."""
    if hint in _SCALARS:
        return dict(_SCALARS[hint])
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        # a type a config cannot hold (e.g. torch's ``float | Tensor`` for lr) drops out, so
        # the value must be one of the types it can hold
        known = [_type_schema(a) for a in args]
        known = [k for k in known if k]
        return {"anyOf": known} if known else {}
    if hint in (list, tuple) or origin in (list, tuple, Sequence, Iterable):
        schema: dict = {"type": "array"}
        item_types = {a for a in args if a is not Ellipsis}
        if len(item_types) == 1:
            schema["items"] = _type_schema(item_types.pop())
        return schema
    if hint is dict or origin in (dict, Mapping):
        return {"type": "object"}
    return {}


def schema_from_signature(builder: Callable, skip: Iterable[str] = ()) -> dict:
    """Derive a strict object schema from ``builder``'s keyword parameters and type hints.

    Parameters without a default are required; ``skip`` names arguments the framework passes at
    build time (e.g. ``backbone``). A builder taking ``**kwargs`` accepts any extra key.
    """
    target = builder.__init__ if inspect.isclass(builder) else builder
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # unresolvable forward references: fall back to no type checks
        hints = {}
    properties, required, open_ended = {}, [], False
    for name, param in inspect.signature(builder).parameters.items():
        if name in skip or name == "self":
            continue
        if param.kind is param.VAR_KEYWORD:
            open_ended = True
            continue
        if param.kind is param.VAR_POSITIONAL:
            continue
        properties[name] = _type_schema(hints.get(name, Any))
        if param.default is param.empty:
            required.append(name)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": open_ended,
    }


def _describe(value: Any) -> str:
    text = repr(value)
    return (text if len(text) <= 60 else text[:57] + "...") + f" ({type(value).__name__})"


def _expected(error: jsonschema.ValidationError) -> str:
    """Plain-words description of what a failing sub-schema wanted."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(_expected_schema(s) for s in schema["anyOf"])
    return _expected_schema(schema)


def _expected_schema(schema: dict) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    return kind or "a valid value"


def format_path(parts: Sequence[str | int]) -> str:
    """``['stages', 0, 'lr']`` → ``stages[0].lr``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def suggest(word: str, options: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the nearest option, or an empty string."""
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def validate(
    instance: Any,
    schema: dict,
    path: Sequence[str | int] = (),
    resolve_component: Callable[[str, Any, list], Any] | None = None,
) -> None:
    """Validate ``instance`` against ``schema``; raise :class:`ConfigError` naming the dotted path
    of the first problem, what was expected, and the nearest valid key for a misspelled one.

    ``resolve_component(kind, value, path)`` is called for every ``x-component`` property.
    """
    validator = _Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: (len(e.path), list(map(str, e.path))))
    if errors:
        raise ConfigError(_message(errors[0], list(path)))
    if resolve_component is not None:
        _walk_components(instance, schema, list(path), resolve_component)


def _message(error: jsonschema.ValidationError, prefix: list) -> str:
    if error.validator == "anyOf":
        # an option of the right type failed inside: report that, not "expected X or Y"
        inner = [e for e in error.context if e.validator != "type" or e.absolute_path != error.absolute_path]
        if inner:
            return _message(max(inner, key=lambda e: len(e.absolute_path)), prefix)
    where = prefix + list(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        key = extra[0]
        return (
            f"{format_path(where + [key])}: unknown key '{key}'{suggest(key, allowed)} "
            f"(valid keys here: {', '.join(allowed) or 'none'})"
        )
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"{format_path(where + [missing])}: required key is missing"
    if error.validator in ("type", "enum", "anyOf"):
        return (
            f"{format_path(where) or '<config>'}: expected {_expected(error)}, "
            f"got {_describe(error.instance)}"
        )
    return f"{format_path(where) or '<config>'}: {error.message}"


def _walk_components(
    instance: Any, schema: dict, path: list, resolve: Callable[[str, Any, list], None]
) -> None:
    if not isinstance(schema, dict):
        return
    if "x-component" in schema and instance is not None:
        resolve(schema["x-component"], instance, path)
        return
    if isinstance(instance, dict):
        for key, sub in schema.get("properties", {}).items():
            if key in instance:
                _walk_components(instance[key], sub, path + [key], resolve)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(instance):
            _walk_components(item, schema["items"], path + [i], resolve)
    for option in schema.get("anyOf", []):
        if _Validator(option).is_valid(instance):
            _walk_components(instance, option, path, resolve)
            break
