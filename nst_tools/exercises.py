"""The course's exercises as one registry: each exercise's library function, the cases its check runs, the
catalogue of common mistakes its check recognises, the notebook it belongs to and the keyword it paints under.

The notebooks reach all of this through ``nst_tools.course`` (``course.check_content_cost``, ``course.keep``,
``course.mine``, ``course.EXERCISES``). What a check does, in order:

1. the library's own function (or a copy of it, or a function that only calls it) is not the learner's:
   NOT IMPLEMENTED, never PASSED;
2. a stub (it raises NotImplementedError, or returns None) is NOT IMPLEMENTED; a function without any
   ``return`` is a FAILED "forgot the return";
3. the function runs on every case; an exception, a NumPy value or Python float where the library returns a
   tensor, a wrong shape or value is a FAILED with its most likely cause (the catalogue) and the failing
   case's inputs;
4. it runs again inside ``tf.function`` on symbolic tensors, as notebook 05 runs it;
5. what notebook 05 will load (the function, its helpers, the modules and constants it uses: ``package``)
   is loaded in a fresh namespace and run again.

Only then PASSED. ``keep`` saves what passed (and removes what did not); ``mine`` loads the saved functions,
runs each one's check again, and says "yours" only of those that pass and are used by the painting.
"""
from __future__ import annotations

import ast
import contextlib
import dis
import html
import inspect
import io
import os
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf

import nst_utils
from nst_tools.further import restore_chroma
from nst_utils import (
    ALPHA,
    BETA,
    LEARNING_RATE,
    STYLE_LAYERS,
    VGG_MEAN,
    compute_content_cost,
    compute_layer_style_cost,
    compute_style_cost,
    gram_matrix,
    pixel_bounds,
    total_cost,
)

# --------------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mistake:
    """One common mistake: ``exercise``, a short name (``mistake``), how it shows in the check (``shows``),
    the one-line likely cause the FAILED line gives (``cause``) and ``example``, a wrong answer that makes it
    (the tests play it). ``kind``: "value" (recognised by running ``example`` on the failing case: its
    output must match the learner's on every case) or the check's stage that recognises it ("numpy",
    "symbolic", "return", "portable", "train_J", "train_G")."""

    exercise: str
    mistake: str
    shows: str
    cause: str
    example: object
    kind: str = "value"


@dataclass
class Exercise:
    """One exercise: the learner writes ``name`` (signature ``signature``) in ``notebook``; the check compares it
    with ``library`` on ``cases()`` ([(label, args)], the first is the one shown under the exercise).
    ``returns``: "tensor" (a TensorFlow value; also run inside tf.function), "uint8" (a NumPy image) or "step".
    ``carried``: saved by ``keep`` for later notebooks; ``run_key``: the keyword ``nst.run_style_transfer``
    paints with it under (None: it does not paint directly); ``inputs``: the names of its arguments."""

    name: str
    library: Callable
    notebook: str
    signature: str
    cases: Callable = None
    returns: str = "tensor"
    carried: bool = True
    run_key: str | None = None
    inputs: tuple = ()
    mistakes: list = field(default_factory=list)
    check: Callable = None

    def check_quietly(self, fn, **kwargs):
        return self.check(fn, show=False, **kwargs)


EXERCISES: dict[str, Exercise] = {}

#: what the check remembers: {exercise name: the function that passed and its saved source}
_PASSED: dict[str, tuple] = {}


def _register(ex, mistakes):
    ex.mistakes = [Mistake(ex.name, *m) for m in mistakes]
    EXERCISES[ex.name] = ex
    return ex


# --------------------------------------------------------------------------------------------------
# Showing a verdict
# --------------------------------------------------------------------------------------------------

_STYLE = {"PASSED": ("#1a7f37", "#e6f4ea"), "FAILED": ("#b42318", "#fdecea"),
          "NOT IMPLEMENTED": ("#555555", "#efefef")}


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def verdict_html(text: str) -> str:
    """The verdict as HTML: a green PASSED, a red FAILED with its cause, a grey NOT IMPLEMENTED."""
    verdict = next((v for v in _STYLE if text.startswith(v + ":")), "NOT IMPLEMENTED")
    colour, background = _STYLE[verdict]
    first, *rest = text.split("\n")
    body = html.escape(first[len(verdict) + 1:])
    more = "".join(f"<div style='margin-top:3px'>{html.escape(line)}</div>" for line in rest)
    return (f"<div style='border-left:6px solid {colour};background:{background};padding:6px 10px;"
            f"font-family:monospace;white-space:pre-wrap'><b style='color:{colour}'>{verdict}</b>:"
            f"{body}{more}</div>")


def _show(text: str, show=True, fn=None):
    """Print the verdict (text/plain), as HTML too in a Jupyter kernel. Under nbgrader a verdict other than
    PASSED for the learner's function (named as the exercise: not a deliberate mistake) raises, so that the
    graded check cell fails."""
    if show:
        if _in_kernel():
            from IPython.display import display

            display({"text/plain": text, "text/html": verdict_html(text)}, raw=True)
        else:
            print(text)
        graded = fn is None or getattr(fn, "__name__", None) in EXERCISES or \
            getattr(fn, "__name__", "").startswith("my_")
        if os.environ.get("NBGRADER_EXECUTION") and graded and not text.startswith("PASSED"):
            raise AssertionError(text)
    return text.startswith("PASSED")


def _describe(value) -> str:
    """A check's value as short text: a number, or an array's shape and first row (a matrix) or values."""
    if value is None:
        return "None"
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return f"{float(arr):.7g}"
    if arr.ndim == 2:
        row, what = arr[0], "first row"
    else:
        row, what = arr.reshape(-1), "first values"
    shown = ", ".join(f"{v:.6g}" for v in row[:5]) + (", ..." if row.size > 5 else "")
    return f"shape {arr.shape}, {what} [{shown}]"


def _inputs_text(ex, k, args) -> str:
    parts = []
    for name, a in zip(ex.inputs, args):
        if isinstance(a, dict):
            first = next(iter(a.items()), ("", np.zeros(0)))
            parts.append(f"{name}: {{{len(a)} layers: {first[0]}: {tuple(first[1].shape)}, ...}}")
        elif isinstance(a, (tf.Tensor, np.ndarray)) and np.ndim(a) > 0:
            parts.append(f"{name}: shape {tuple(np.shape(a))}")
        else:
            parts.append(f"{name} = {a!r}" if not isinstance(a, tf.Tensor) else f"{name} = tf.constant({float(a):g})")
    return (f"inputs: {'; '.join(parts)} (to try them: {', '.join(ex.inputs[:len(args)])} = "
            f"course.case_inputs({ex.name!r}, {k}))")


def case_inputs(name, k=0):
    """The inputs of case ``k`` of the check of exercise ``name`` (0: the first, shown under the exercise)."""
    return EXERCISES[name].cases()[k][1]


def expected_text(name) -> str:
    """What the check of ``name`` compares on its first case: the library's value, as the check prints it."""
    ex = EXERCISES[name]
    return _describe(ex.library(*ex.cases()[0][1]))


# --------------------------------------------------------------------------------------------------
# Looking at the learner's function: the names it uses, its source, whether it is the library's
# --------------------------------------------------------------------------------------------------


def _global_loads(code):
    """The global names ``code`` (and the functions and comprehensions inside it) loads."""
    names = []
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval not in names:
            names.append(ins.argval)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += [n for n in _global_loads(const) if n not in names]
    return names


def _source(fn):
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None


def _def_node(fn):
    src = _source(fn)
    if src is None:
        return None, None
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return src, None
    node = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    return src, node


def _names_used(fn):
    """The global names ``fn`` needs: those its code loads and those in its defaults and decorators."""
    names = _global_loads(fn.__code__)
    _, node = _def_node(fn)
    if node is not None:
        exprs = node.args.defaults + [d for d in node.args.kw_defaults if d is not None] + node.decorator_list
        for expr in exprs:
            names += [n.id for n in ast.walk(expr) if isinstance(n, ast.Name) and n.id not in names]
    return names


def _has_return_value(fn) -> bool:
    """Whether ``fn``'s own body has a ``return <something>`` (True when its source cannot be read)."""
    _, node = _def_node(fn)
    if node is None:
        return True

    def walk(n):
        for child in ast.iter_child_nodes(n):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if isinstance(child, ast.Return) and child.value is not None:
                return True
            if walk(child):
                return True
        return False

    return walk(node)


def _is_library(ex, fn) -> bool:
    """``fn`` is the library's function itself, a wrapper around it, or a copy of it: its code from the library's
    file, its source text the library's (docstring and all), or the library's source made again (``mine``)."""
    lib = ex.library
    target = getattr(fn, "func", fn)  # functools.partial
    seen = set()
    while target is not None and id(target) not in seen:
        seen.add(id(target))
        if target is lib:
            return True
        target = getattr(target, "__wrapped__", None)
    code = getattr(getattr(fn, "func", fn), "__code__", None)
    if code is None:
        return False
    if code.co_filename in (lib.__code__.co_filename, f"<library {ex.name}>") and code.co_name == lib.__name__:
        return True
    src, lib_src = _source(fn), _source(lib)
    return src is not None and lib_src is not None and src.strip() == lib_src.strip()


@contextlib.contextmanager
def _watch_library(ex):
    """While it is on, a call of the library's own function (``nst.<name>``) is noticed."""
    calls = []
    name = ex.library.__name__
    module = inspect.getmodule(ex.library)
    original = getattr(module, name, None)
    if original is not ex.library:
        yield calls
        return

    def watched(*args, **kwargs):
        calls.append(name)
        return original(*args, **kwargs)

    setattr(module, name, watched)
    try:
        yield calls
    finally:
        setattr(module, name, original)


def _unpassed_dependencies(ex, fn):
    """The exercises ``fn`` calls by name whose function in its namespace has not passed its check."""
    out = []
    namespace = getattr(fn, "__globals__", {})
    for n in _names_used(fn) if hasattr(fn, "__code__") else []:
        if n in EXERCISES and n != ex.name and EXERCISES[n].carried:
            used = namespace.get(n)
            if used is not None and used is not EXERCISES[n].library and not _passed_fn(n, used):
                out.append(n)
    return out


def _passed_fn(name, fn) -> bool:
    return name in _PASSED and _PASSED[name][0] is fn


# --------------------------------------------------------------------------------------------------
# What goes to notebook 05: the function and everything it needs
# --------------------------------------------------------------------------------------------------


class NotPortable(Exception):
    """A name the function uses cannot be saved with it."""


def package(fn, exercise_names=(), name=None) -> str:
    """The source notebook 05 loads for ``fn``: import lines for the modules it uses, its constants, the
    helpers it calls (with theirs), then the function. Names in ``exercise_names`` are left out (``mine``
    supplies them: yours where you passed them, else the library's). Raises NotPortable for a name that
    cannot be saved (a model, a tensor, a lambda: what notebook 05 would not have)."""
    imports, constants, helpers, done = [], [], [], set()

    def visit(f, top=False):
        if f.__name__ == "<lambda>":
            raise NotPortable("it is a lambda: define it with def")
        src, node = _def_node(f)
        if src is None or node is None:
            raise NotPortable(f"the source of {getattr(f, '__name__', f)!r} cannot be read (define it with def "
                              "in a notebook cell)")
        if node.name != f.__name__ and not top:
            raise NotPortable(f"{f.__name__!r} is not defined with def under that name")
        if f.__code__.co_freevars:
            raise NotPortable(f"it uses {', '.join(map(repr, f.__code__.co_freevars))} of the function it is "
                              "defined in: define it at the top level of a cell")
        namespace = f.__globals__
        import builtins

        for n in _names_used(f):
            if n in done or n in exercise_names or n == f.__name__:
                continue
            done.add(n)
            if n not in namespace:
                if hasattr(builtins, n):
                    continue
                raise NotPortable(f"it uses {n!r}, which is not defined")
            v = namespace[n]
            if isinstance(v, types.ModuleType):
                imports.append(f"import {v.__name__}" if v.__name__ == n else f"import {v.__name__} as {n}")
            elif isinstance(v, types.FunctionType) and v.__name__ != "<lambda>" and \
                    v.__module__ == f.__module__ and v.__globals__ is namespace:
                visit(v)
            elif callable(v) and getattr(v, "__module__", None) and getattr(v, "__name__", None) and \
                    not v.__module__.startswith("__") and v.__name__ != "<lambda>":
                imports.append(f"from {v.__module__} import {v.__name__}" +
                               ("" if v.__name__ == n else f" as {n}"))
            else:
                try:
                    literal = ast.literal_eval(repr(v))
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    literal = None
                if literal is None or literal != v or isinstance(v, np.generic):
                    kind = type(v).__name__
                    raise NotPortable(f"it uses {n!r} (a {kind} of this notebook), which cannot go to a later "
                                      "notebook with it: pass it as an argument or compute it inside the function")
                constants.append(f"{n} = {v!r}")
        if not top:
            helpers.append(src.rstrip() + "\n")
        return src

    src = visit(fn, top=True)
    parts = ["# Saved by course.keep: your function and what it uses, for the later notebooks.\n"]
    parts += [line + "\n" for line in imports]
    parts += [line + "\n" for line in constants]
    parts += ["\n\n" + h for h in helpers]
    parts += ["\n\n" + src.rstrip() + "\n"]
    _, node = _def_node(fn)
    if name is not None and node.name != name:  # written under another name, checked as the exercise
        parts.append(f"{name} = {node.name}\n")
    return "".join(parts)


def base_namespace() -> dict:
    """The namespace saved functions run in: the library's module (its tf, np, unroll, STYLE_LAYERS, ...) and
    ``nst``, ``tf``, ``np``, with the library's exercise functions re-made from their source in it, so that
    each calls the others by name (yours once ``mine`` has put them in)."""
    namespace = dict(vars(nst_utils))
    namespace.update({"nst": nst_utils, "tf": tf, "np": np, "__name__": "my_functions"})
    for ex in EXERCISES.values():
        if ex.carried and inspect.getmodule(ex.library) is nst_utils:
            exec(compile(_source(ex.library), f"<library {ex.name}>", "exec"), namespace)
    return namespace


def _load(name, source, namespace):
    """Define the function ``name`` from ``source`` in ``namespace``; returns it."""
    exec(compile(source, str(my_functions_dir() / f"{name}.py"), "exec"), namespace)
    return namespace[name]


# --------------------------------------------------------------------------------------------------
# The check of a function exercise
# --------------------------------------------------------------------------------------------------


def not_implemented_line(name, why="it still returns None") -> str:
    """The verdict for an exercise still left as its stub."""
    return (f"NOT IMPLEMENTED: {name} is not written yet: {why}. Replace each None of the stub by your code (the "
            "comment next to it says what goes there), run its cell, then this check. Until it passes, the "
            "cells below use the library's version.")


def _call(ex, fn, args):
    """(result, error, where): ``where`` is "stub" for a NotImplementedError raised by ``fn`` itself,
    "dependency:<name>" for one raised by another exercise it calls."""
    try:
        return fn(*args), None, None
    except NotImplementedError as exc:
        tb, where = exc.__traceback__, None
        codes = {EXERCISES[n].name: getattr(fn.__globals__.get(n), "__code__", None)
                 for n in EXERCISES if hasattr(fn, "__globals__")}
        while tb.tb_next is not None:
            tb = tb.tb_next
        code = tb.tb_frame.f_code
        if code is getattr(fn, "__code__", None):
            where = "stub"
        else:
            where = next((f"dependency:{n}" for n, c in codes.items() if c is code and n != ex.name), None)
        return None, exc, where
    except Exception as exc:  # noqa: BLE001 - the learner's code: reported, no traceback
        return None, exc, None


def _error_text(exc) -> str:
    import re

    message = re.sub(r"\{\{.*?\}\}\s*", "", (str(exc).strip().splitlines() or [""])[0])[:200]
    return f"{type(exc).__name__}: {message}"


def _matches(got, expected, rtol=1e-5) -> bool:
    if got is None:
        return False
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    exp = np.asarray(expected, dtype=np.float64)
    if exp.ndim == 0 and arr.size == 1:
        arr = arr.reshape(())
    if arr.shape != exp.shape:
        return False
    scale = float(np.max(np.abs(exp))) if exp.size else 0.0
    return bool(np.allclose(arr, exp, rtol=rtol, atol=1e-6 * scale + 1e-12))


def _value_diagnosis(ex, results):
    """The catalogue's value mistake whose example gives what the learner's function gave on every case."""
    for m in ex.mistakes:
        if m.kind != "value":
            continue
        ok = True
        for args, got in results:
            try:
                wrong = m.example(*args)
            except Exception:  # noqa: BLE001 - the mistake cannot happen on this case
                ok = False
                break
            if not _matches(got, wrong, rtol=1e-4):
                ok = False
                break
        if ok:
            return m
    return None


def _raises_alike(example, args, exc) -> bool:
    try:
        example(*args)
    except Exception as other:  # noqa: BLE001
        return type(other) is type(exc)
    return False


def _mistake(ex, kind):
    return next((m for m in ex.mistakes if m.kind == kind), None)


def _kind(value) -> str:
    if isinstance(value, (np.ndarray, np.generic)):
        return f"a NumPy {'array' if np.ndim(value) else 'number'} ({np.asarray(value).dtype})"
    if isinstance(value, (float, int)):
        return f"a Python {type(value).__name__}"
    return f"a {type(value).__name__}"


def _is_tensor_like(value) -> bool:
    return isinstance(value, (tf.Tensor, tf.Variable))


def check_function(ex, fn, show=True, namespace=None):
    """Run the check of exercise ``ex`` on ``fn``; show one verdict; True if it passed (see the module's doc)."""
    name = ex.name
    if fn is None or not callable(fn):
        return _show(f"FAILED: {name}: what was checked is not a function ({type(fn).__name__})", show, fn)
    if _is_library(ex, fn):
        return _show(f"NOT IMPLEMENTED: {name}: this is the library's own function, not yours: the check is about "
                     "the function you write in the cell above.", show, fn)
    cases = ex.cases()
    results, first_ok = [], None
    unpassed = _unpassed_dependencies(ex, fn)
    dependency_note = (f" it calls your {', '.join(unpassed)}, which has not passed its check yet: pass that first"
                       if unpassed else "")
    with _watch_library(ex) as library_calls:
        for k, (label, args) in enumerate(cases):
            got, exc, where = _call(ex, fn, args)
            if library_calls:
                return _show(f"NOT IMPLEMENTED: {name} only calls the library's nst.{ex.library.__name__}: the "
                             "check is about code of your own.", show, fn)
            if exc is not None:
                if where == "stub":
                    return _show(not_implemented_line(name, "it still raises NotImplementedError"), show, fn)
                if where and where.startswith("dependency:"):
                    dep = where.split(":", 1)[1]
                    return _show(f"FAILED: {name} calls your {dep}, which is not written yet: do that exercise "
                                 "first.", show, fn)
                lines = [f"FAILED: {name} {label} raised {_error_text(exc)}"]
                known = next((m for m in ex.mistakes if m.kind == "raises" and _raises_alike(m.example, args, exc)),
                             None)
                if dependency_note:
                    lines = [f"FAILED: {name}:{dependency_note}", f"{label}: it raised {_error_text(exc)}"]
                elif known is not None:
                    lines = [f"FAILED: {name}: {known.cause}", f"{label}: it raised {_error_text(exc)}"]
                lines.append(_inputs_text(ex, k, args))
                return _show("\n".join(lines), show, fn)
            if got is None:
                if k == 0 and not _has_return_value(fn):
                    m = _mistake(ex, "return")
                    return _show(f"FAILED: {name} returns nothing: {m.cause if m else 'it has no return line'}",
                                 show)
                if k == 0:
                    return _show(not_implemented_line(name), show, fn)
            expected = ex.library(*args)
            if ex.returns == "tensor" and _is_tensor_like(expected) and got is not None and not _is_tensor_like(got):
                m = _mistake(ex, "numpy")
                return _show(f"FAILED: {name} returns {_kind(got)}, not a TensorFlow tensor: {m.cause}", show, fn)
            if ex.returns == "uint8" and not (isinstance(got, np.ndarray) and got.dtype == np.uint8):
                m = _mistake(ex, "numpy")
                kind = got.dtype if isinstance(got, np.ndarray) else type(got).__name__
                return _show(f"FAILED: {name} returns {kind}, not a uint8 NumPy image: {m.cause}", show, fn)
            results.append((args, got))
            if not _matches(got, expected) and first_ok is None:
                first_ok = (k, label, args, got, expected)
    if first_ok is not None:
        k, label, args, got, expected = first_ok
        m = _value_diagnosis(ex, results)
        shape_note = ""
        try:
            g_shape, e_shape = np.shape(np.asarray(got)), np.shape(np.asarray(expected))
            if g_shape != e_shape and not (np.size(got) == 1 and len(e_shape) == 0):
                shape_note = f" (shape {g_shape}, expected {e_shape})"
        except (TypeError, ValueError):
            pass
        if dependency_note:
            cause = dependency_note.strip()
        elif m is not None:
            cause = m.cause
        else:
            ratios = []
            for a, g in results:
                e = np.asarray(ex.library(*a), np.float64)
                if e.size == 1 and np.size(g) == 1 and float(e.reshape(())) != 0:
                    ratios.append(float(np.asarray(g, np.float64).reshape(())) / float(e.reshape(())))
            cause = ("not one of the common mistakes the check knows" +
                     (f"; got / expected = {', '.join(f'{r:.4g}' for r in ratios)} over the cases" if ratios else ""))
        lines = [f"FAILED: {name}: {cause}",
                 f"{label}: got {_describe(got)}{shape_note}, expected {_describe(expected)}",
                 _inputs_text(ex, k, args)]
        return _show("\n".join(lines), show, fn)
    if ex.returns == "tensor":  # inside tf.function, as notebook 05 runs it
        label, args = next(((lb, a) for lb, a in cases if any(isinstance(v, (tf.Tensor, dict)) for v in a)), cases[0])
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")  # a new tf.function for each check: no retracing warnings
        try:
            got = tf.function(lambda *a: fn(*a), autograph=False)(*args)
            bad = None if _is_tensor_like(got) and _matches(got, ex.library(*args), rtol=1e-4) else \
                f"returned {_describe(got)}"
        except Exception as exc:  # noqa: BLE001
            bad = f"raised {_error_text(exc)}"
        finally:
            logger.setLevel(level)
        if bad is not None:
            m = _mistake(ex, "symbolic")
            return _show(f"FAILED: {name} does not run inside tf.function (on symbolic tensors, as notebook 05 runs "
                         f"it): {m.cause}\n{label}, inside tf.function: it {bad}", show, fn)
    source = None
    if ex.carried:  # what notebook 05 will load, loaded and run again
        try:
            source = package(fn, tuple(n for n, e in EXERCISES.items() if e.carried and n != name), name)
            space = dict(base_namespace() if namespace is None else namespace)
            loaded = _load(name, source, space)
            for _label, args in cases:
                if not _matches(loaded(*args), ex.library(*args)):
                    raise NotPortable("loaded on its own, it gives another value")
        except NotPortable as exc:
            m = _mistake(ex, "portable")
            return _show(f"FAILED: {name} cannot be saved for the later notebooks: {exc}. {m.cause}", show, fn)
        except Exception as exc:  # noqa: BLE001
            m = _mistake(ex, "portable")
            return _show(f"FAILED: {name} does not run once saved for the later notebooks ({_error_text(exc)}): "
                         f"{m.cause}", show, fn)
    _PASSED[name] = (fn, source)
    label, args = cases[0]
    extra = " and inside tf.function" if ex.returns == "tensor" else ""
    return _show(f"PASSED: {name} = {_describe(results[0][1])} (expected {_describe(ex.library(*args))}), "
                 f"{len(cases)} test cases{extra}", show)


# --------------------------------------------------------------------------------------------------
# keep and mine: what passed goes to the later notebooks
# --------------------------------------------------------------------------------------------------


def my_functions_dir() -> Path:
    """Where the exercises you passed are kept for later notebooks: ``$NST_OUTPUT_DIR/my_functions``
    (default ``outputs/my_functions`` next to the notebooks)."""
    return Path(os.environ.get("NST_OUTPUT_DIR", "outputs")) / "my_functions"


def _exercise_of(fn, exercise=None) -> Exercise:
    if isinstance(exercise, str):
        return EXERCISES[exercise]
    if exercise is not None:
        return next(e for e in EXERCISES.values() if e.library is exercise)
    name = getattr(fn, "__name__", None)
    if name not in EXERCISES:
        raise ValueError(f"{name!r} is not one of the course's exercises ({', '.join(EXERCISES)})")
    return EXERCISES[name]


def keep(fn, passed, exercise=None):
    """After an exercise's check: save ``fn`` for the later notebooks if its check passed, and return the
    function the cells below use: ``fn`` once it passed, the library's until then.

    Your own name is never rebound: run the check again and it checks your function again. What is saved
    (in my_functions_dir()) is what the check loaded and ran: your function, its helpers, the modules and
    constants it uses. A function that did not pass has its saved copy removed, so a later notebook does not
    use it either. ``exercise``: the exercise's name (default ``fn.__name__``)."""
    ex = _exercise_of(fn, exercise)
    path = my_functions_dir() / f"{ex.name}.py"
    if passed and _passed_fn(ex.name, fn):
        source = _PASSED[ex.name][1]
        if source is not None and ex.carried:
            path.parent.mkdir(parents=True, exist_ok=True)
            nst_utils.atomic_write(path, lambda tmp: Path(tmp).write_text(source), suffix=".py")
        return fn
    path.unlink(missing_ok=True)
    return ex.library


def _reachable(namespace, roots):
    """The exercise names reachable from ``roots`` through the global names each function calls."""
    seen, todo = set(), list(roots)
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        f = namespace.get(n)
        if isinstance(f, types.FunctionType):
            todo += [m for m in _global_loads(f.__code__) if m in EXERCISES]
    return seen


def mine(*names, show=True) -> dict:
    """The functions to paint with: yours where an earlier notebook saved them and they pass their check again,
    else the library's; one line per exercise saying whose it is (and whether it paints).

    ``names``: exercise names; by default those ``nst.run_style_transfer`` paints with, returned under its
    keywords: ``{"content_cost": ..., "style_cost": ..., "total_cost": ...}`` (so ``**course.mine()`` goes
    straight into the run). Another name is returned under its own name (``course.mine("gram_matrix")``).
    All the functions live in one namespace: your compute_style_cost calls your compute_layer_style_cost,
    which calls your gram_matrix, where you have them, else the library's.
    """
    painting = [n for n, e in EXERCISES.items() if e.run_key]
    wanted = list(names) or painting
    folder = my_functions_dir()
    namespace = base_namespace()
    yours, notes = {}, {}
    for n, ex in EXERCISES.items():
        if not ex.carried:
            continue
        path = folder / f"{n}.py"
        if not path.is_file():
            continue
        source = path.read_text()
        trial = dict(namespace)
        try:
            fn = _load(n, source, trial)
        except Exception as exc:  # noqa: BLE001 - a broken saved copy: say so, use the library's
            notes[n] = f"your saved version does not load ({_error_text(exc)})"
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            ok = ex.check_quietly(fn, namespace=namespace)
        if not ok:
            notes[n] = "your saved version no longer passes its check"
            continue
        yours[n] = _load(n, source, namespace)
        _PASSED[n] = (yours[n], source)
    roots = [n for n in wanted]
    used = _reachable(namespace, painting if not names else roots)
    if show:
        for n, ex in EXERCISES.items():
            if not ex.carried or (names and n not in _reachable(namespace, roots)):
                continue
            if n in yours:
                paints = "" if names else (", and the painting uses it" if n in used else
                                           ", but the painting does not use it (your functions that would call it "
                                           "do not)")
                print(f"{n}: yours, from {folder / n}.py (its check passed again){paints}")
            else:
                why = f"; {notes[n]}" if n in notes else ""
                print(f"{n}: the library's (pass its check in notebook {ex.notebook[:2]} to use yours){why}")
    result = {}
    for n in wanted:
        ex = EXERCISES[n]
        chain = _reachable(namespace, [n])
        fn = namespace[n] if chain & set(yours) else ex.library
        result[ex.run_key if not names and ex.run_key else n] = fn
    return result


# --------------------------------------------------------------------------------------------------
# The exercises
# --------------------------------------------------------------------------------------------------


def _normal(rng, shape):
    return tf.constant(rng.normal(1.0, 4.0, shape).astype(np.float32))


def _pair_cases(shapes, seed):
    def cases():
        rng = np.random.default_rng(seed)
        out = [(f"for inputs of shape {s}", (_normal(rng, s), _normal(rng, s))) for s in shapes]
        a = _normal(rng, (1, 2, 3, 4))
        out.append(("for two equal inputs (the cost must be 0)", (a, tf.identity(a))))
        return out
    return cases


def _dims(a):
    _, n_H, n_W, n_C = a.shape
    return n_H, n_W, n_C


def _sq(a, b):
    return tf.reduce_sum(tf.square(a - b))


NUMPY_CAUSE = ("NumPy (np.sum, np.square), float(...) or .numpy() give a value that notebook 05 cannot use: there it runs "
               "inside tf.function on symbolic tensors. Use TensorFlow ops (tf.reduce_sum, tf.square, tf.matmul) and "
               "return the tensor.")
SYMBOLIC_CAUSE = ("inside tf.function a tensor has no value yet, so NumPy calls (np.sum, np.square), .numpy() and "
                  "float(...) fail there: use TensorFlow ops only.")
PORTABLE_CAUSE = ("Notebook 05 runs the saved function with the modules it imports, its constants and the functions "
                  "it calls (defined with def in a notebook cell); everything else must come in through its arguments.")


def _return_cause(var):
    return f"the function has no return line: end it with `return {var}`"


def _style_cases():
    rng = np.random.default_rng(2)
    shapes = {"conv1_1": (1, 8, 8, 3), "conv2_1": (1, 4, 4, 6), "conv3_1": (1, 4, 2, 8),
              "conv4_1": (1, 2, 2, 12), "conv5_1": (1, 1, 2, 16)}

    def acts():
        return {n: _normal(rng, s) for n, s in shapes.items()}

    uneven = [("conv1_1", 0.5), ("conv3_1", 0.3), ("conv5_1", 0.2)]
    a = acts()
    return [("with style_layers=STYLE_LAYERS", (acts(), acts(), STYLE_LAYERS)),
            (f"with style_layers={uneven}", (acts(), acts(), uneven)),
            ("for a_G = a_S (the cost must be 0)", (a, dict(a), STYLE_LAYERS))]


def _gram_cases():
    rng = np.random.default_rng(1)
    return [(f"for A of shape {s}", (_normal(rng, s),)) for s in [(3, 2), (8, 20), (16, 49)]]


def _total_cases():
    return [("for (0.2, 0.8) with the default alpha, beta", (0.2, 0.8)),
            ("for (1.5, 2.5, 1.0, 0.01)", (1.5, 2.5, 1.0, 0.01)),
            ("for (tf.constant(3.0), tf.constant(0.5), 10, 1000)", (tf.constant(3.0), tf.constant(0.5), 10, 1000))]


def _grams(a_S, a_G):
    n_H, n_W, n_C = _dims(a_G)
    A_S = tf.transpose(tf.reshape(a_S, (n_H * n_W, n_C)))
    A_G = tf.transpose(tf.reshape(a_G, (n_H * n_W, n_C)))
    return gram_matrix(A_S), gram_matrix(A_G), n_H * n_W, n_C


def _content_cases():
    return _pair_cases([(1, 4, 4, 3), (1, 3, 5, 8), (1, 7, 6, 16)], seed=1)()


def _layer_cases():
    return _pair_cases([(1, 4, 4, 3), (1, 3, 5, 8), (1, 6, 7, 16)], seed=3)()


def _check(ex_name):
    def check(fn, show=True, namespace=None):
        return check_function(EXERCISES[ex_name], fn, show=show, namespace=namespace)
    return check


_register(Exercise("compute_content_cost", compute_content_cost, "01_content_loss", "compute_content_cost(a_C, a_G)",
                   _content_cases, run_key="content_cost", inputs=("a_C", "a_G"), check=_check("compute_content_cost")), [
    ("no 1/4", "4 times the expected value",
     "the factor 1/4 is missing: divide by 4 * n_H * n_W * n_C (or tf.reduce_mean was used without the 4)",
     lambda a_C, a_G: _sq(a_C, a_G) / float(np.prod(_dims(a_G)))),
    ("no n_C", "n_C times the expected value",
     "n_C is missing from the division: divide by 4 * n_H * n_W * n_C",
     lambda a_C, a_G: _sq(a_C, a_G) / float(4 * _dims(a_G)[0] * _dims(a_G)[1])),
    ("no n_H n_W", "n_H n_W times the expected value",
     "n_H * n_W is missing from the division: divide by 4 * n_H * n_W * n_C",
     lambda a_C, a_G: _sq(a_C, a_G) / float(4 * _dims(a_G)[2])),
    ("mean instead of sum", "n_H n_W n_C times too small",
     "tf.reduce_mean already divides by n_H * n_W * n_C, and then the division does it again: use tf.reduce_sum",
     lambda a_C, a_G: tf.reduce_mean(tf.square(a_C - a_G)) / float(4 * np.prod(_dims(a_G)))),
    ("not squared", "a value that can be negative, far from the expected one",
     "the differences are not squared: tf.square(a_C - a_G) before the sum",
     lambda a_C, a_G: tf.reduce_sum(a_C - a_G) / float(4 * np.prod(_dims(a_G)))),
    ("hard-coded shape", "right for (1, 4, 4, 3) only",
     "the division uses the numbers of the first case: read n_H, n_W, n_C from a_G.shape",
     lambda a_C, a_G: _sq(a_C, a_G) / float(4 * 4 * 4 * 3)),
    ("NumPy", "returns a NumPy number", NUMPY_CAUSE,
     lambda a_C, a_G: np.sum(np.square(np.asarray(a_C) - np.asarray(a_G))) / (4 * np.prod(_dims(a_G))), "numpy"),
    ("float()", "returns a Python float", NUMPY_CAUSE,
     lambda a_C, a_G: float(compute_content_cost(a_C + 0.0, a_G)), "numpy"),
    ("numpy inside", "fails inside tf.function", SYMBOLIC_CAUSE,
     lambda a_C, a_G: tf.constant(np.sum(np.square(a_C - a_G))) / float(4 * np.prod(_dims(a_G))), "symbolic"),
    ("no return", "returns None though the function is written", _return_cause("J_content"), None, "return"),
    ("not portable", "uses a name of its notebook that cannot be saved", PORTABLE_CAUSE, None, "portable"),
])

_register(Exercise("gram_matrix", gram_matrix, "02_gram_matrix", "gram_matrix(A)", _gram_cases, inputs=("A",),
                   check=_check("gram_matrix")), [
    ("A^T A", "an (n_H n_W) x (n_H n_W) matrix instead of n_C x n_C",
     "A^T A sums over the channels: the Gram matrix is A A^T, tf.matmul(A, tf.transpose(A))",
     lambda A: tf.matmul(A, A, transpose_a=True)),
    ("divided by n_H n_W", "n_H n_W times too small",
     "the course's Gram matrix is A A^T with no division (the TF tutorial divides by the positions)",
     lambda A: tf.matmul(A, A, transpose_b=True) / float(A.shape[1])),
    ("A A", "an error for a matrix that is not square",
     "tf.matmul(A, A) needs a square A: multiply by the transpose, tf.matmul(A, tf.transpose(A))",
     lambda A: tf.matmul(A, A), "raises"),
    ("NumPy", "returns a NumPy array", NUMPY_CAUSE, lambda A: np.asarray(A) @ np.asarray(A).T, "numpy"),
    ("numpy inside", "fails inside tf.function", SYMBOLIC_CAUSE,
     lambda A: tf.constant(np.asarray(A) @ np.asarray(A).T), "symbolic"),
    ("no return", "returns None though the function is written", _return_cause("G_gram"), None, "return"),
    ("not portable", "uses a name of its notebook that cannot be saved", PORTABLE_CAUSE, None, "portable"),
])


def _layer_norm(a_G):
    n_H, n_W, n_C = _dims(a_G)
    return float(4 * n_C**2 * (n_H * n_W) ** 2)


def _layer_sum(a_S, a_G):
    G_S, G_G, _, _ = _grams(a_S, a_G)
    return tf.reduce_sum(tf.square(G_S - G_G))


def _reshape_only(a_S, a_G):
    n_H, n_W, n_C = _dims(a_G)
    G_S = gram_matrix(tf.reshape(a_S, (n_C, n_H * n_W)))
    G_G = gram_matrix(tf.reshape(a_G, (n_C, n_H * n_W)))
    return tf.reduce_sum(tf.square(G_S - G_G)) / _layer_norm(a_G)


def _no_transpose(a_S, a_G):
    n_H, n_W, n_C = _dims(a_G)
    G_S = gram_matrix(tf.reshape(a_S, (n_H * n_W, n_C)))
    G_G = gram_matrix(tf.reshape(a_G, (n_H * n_W, n_C)))
    return tf.reduce_sum(tf.square(G_S - G_G)) / _layer_norm(a_G)


_register(Exercise("compute_layer_style_cost", compute_layer_style_cost, "03_style_loss",
                   "compute_layer_style_cost(a_S, a_G)", _layer_cases, inputs=("a_S", "a_G"),
                   check=_check("compute_layer_style_cost")), [
    ("no 1/4", "4 times the expected value", "the factor 1/4 is missing: divide by 4 * n_C**2 * (n_H * n_W)**2",
     lambda a_S, a_G: 4 * _layer_sum(a_S, a_G) / _layer_norm(a_G)),
    ("n_C not squared", "n_C times the expected value", "n_C is not squared: divide by 4 * n_C**2 * (n_H * n_W)**2",
     lambda a_S, a_G: _dims(a_G)[2] * _layer_sum(a_S, a_G) / _layer_norm(a_G)),
    ("n_H n_W not squared", "n_H n_W times the expected value",
     "(n_H * n_W) is not squared: divide by 4 * n_C**2 * (n_H * n_W)**2",
     lambda a_S, a_G: _dims(a_G)[0] * _dims(a_G)[1] * _layer_sum(a_S, a_G) / _layer_norm(a_G)),
    ("no n_H n_W", "(n_H n_W)^2 times the expected value",
     "(n_H * n_W)**2 is missing from the division: divide by 4 * n_C**2 * (n_H * n_W)**2",
     lambda a_S, a_G: (_dims(a_G)[0] * _dims(a_G)[1]) ** 2 * _layer_sum(a_S, a_G) / _layer_norm(a_G)),
    ("mean instead of sum", "n_C^2 times too small",
     "tf.reduce_mean already divides by the n_C**2 entries, and then the division does it again: use tf.reduce_sum",
     lambda a_S, a_G: tf.reduce_mean(tf.square(_grams(a_S, a_G)[0] - _grams(a_S, a_G)[1])) / _layer_norm(a_G)),
    ("reshape without the transpose", "the right shapes, the wrong value",
     "a_S and a_G were reshaped straight to (n_C, n_H * n_W), which mixes channels and positions: reshape to "
     "(n_H * n_W, n_C), then tf.transpose", _reshape_only),
    ("unrolled but not transposed", "Gram matrices of (n_H n_W) x (n_H n_W)",
     "the unrolled matrix is (n_H * n_W, n_C): transpose it to (n_C, n_H * n_W) before gram_matrix", _no_transpose),
    ("NumPy", "returns a NumPy number", NUMPY_CAUSE,
     lambda a_S, a_G: np.float32(compute_layer_style_cost(a_S, a_G + 0.0)), "numpy"),
    ("numpy inside", "fails inside tf.function", SYMBOLIC_CAUSE,
     lambda a_S, a_G: tf.constant(np.float32(_layer_sum(a_S, a_G))) / _layer_norm(a_G), "symbolic"),
    ("no return", "returns None though the function is written", _return_cause("J_style_layer"), None, "return"),
    ("not portable", "uses a name of its notebook that cannot be saved", PORTABLE_CAUSE, None, "portable"),
])


def _weighted(a_S, a_G, layers, weight=lambda w: w):
    return tf.add_n([weight(w) * compute_layer_style_cost(a_S[n], a_G[n]) for n, w in layers])


_register(Exercise("compute_style_cost", compute_style_cost, "03_style_loss",
                   "compute_style_cost(a_S, a_G, style_layers=nst.STYLE_LAYERS)", _style_cases, run_key="style_cost",
                   inputs=("a_S", "a_G", "style_layers"), check=_check("compute_style_cost")), [
    ("weights ignored", "the plain sum of the layers' costs",
     "the lambda of each layer is not used: add coeff * compute_layer_style_cost(...) for each (layer_name, coeff)",
     lambda a_S, a_G, layers=STYLE_LAYERS: _weighted(a_S, a_G, layers, lambda w: 1.0)),
    ("STYLE_LAYERS instead of style_layers", "right with STYLE_LAYERS only",
     "the loop goes over nst.STYLE_LAYERS, not over the style_layers it is given",
     lambda a_S, a_G, layers=STYLE_LAYERS: _weighted(a_S, a_G, STYLE_LAYERS)),
    ("= instead of +=", "the last layer's term only",
     "J_style = ... inside the loop keeps only the last layer: add to it, J_style += ...",
     lambda a_S, a_G, layers=STYLE_LAYERS: layers[-1][1] * compute_layer_style_cost(a_S[layers[-1][0]],
                                                                                  a_G[layers[-1][0]])),
    ("mean over the layers", "the weighted sum divided by the number of layers",
     "the weighted sum is divided by the number of layers: the lambdas already weigh them, do not divide",
     lambda a_S, a_G, layers=STYLE_LAYERS: _weighted(a_S, a_G, layers) / len(layers)),
    ("NumPy", "returns a NumPy number", NUMPY_CAUSE,
     lambda a_S, a_G, layers=STYLE_LAYERS: np.float32(_weighted(a_S, a_G, layers)), "numpy"),
    ("numpy inside", "fails inside tf.function", SYMBOLIC_CAUSE,
     lambda a_S, a_G, layers=STYLE_LAYERS: tf.constant(float(_weighted(a_S, a_G, layers))), "symbolic"),
    ("no return", "returns None though the function is written", _return_cause("J_style"), None, "return"),
    ("not portable", "uses a name of its notebook that cannot be saved", PORTABLE_CAUSE, None, "portable"),
])

_register(Exercise("total_cost", total_cost, "04_total_loss", "total_cost(J_content, J_style, alpha=10, beta=40)",
                   _total_cases, run_key="total_cost", inputs=("J_content", "J_style", "alpha", "beta"),
                   check=_check("total_cost")), [
    ("alpha and beta swapped", "beta J_content + alpha J_style",
     "alpha and beta are swapped: alpha weighs J_content, beta weighs J_style",
     lambda J_content, J_style, alpha=10, beta=40: beta * J_content + alpha * J_style),
    ("alpha and beta hard-coded", "right with the default weights only",
     "the weights are written as numbers (10, 40): use the arguments alpha and beta",
     lambda J_content, J_style, alpha=10, beta=40: 10 * J_content + 40 * J_style),
    ("no style term", "alpha J_content only", "the style term is missing: J = alpha * J_content + beta * J_style",
     lambda J_content, J_style, alpha=10, beta=40: alpha * J_content),
    ("no return", "returns None though the function is written", _return_cause("J"), None, "return"),
    ("NumPy", "returns a NumPy number for tensors", NUMPY_CAUSE,
     lambda J_content, J_style, alpha=10, beta=40: np.float32(alpha * J_content + beta * J_style), "numpy"),
    ("numpy inside", "fails inside tf.function", SYMBOLIC_CAUSE,
     lambda J_content, J_style, alpha=10, beta=40: tf.constant(float(alpha * J_content + beta * J_style)),
     "symbolic"),
    ("not portable", "uses a name of its notebook that cannot be saved", PORTABLE_CAUSE, None, "portable"),
])


def _chroma_cases():
    rng = np.random.default_rng(3)

    def pair(h, w, stylised=None):
        stylised = rng.integers(0, 256, (h, w, 3)) if stylised is None else stylised
        return np.asarray(stylised, np.uint8), rng.uniform(0, 255, (h, w, 3)).astype(np.float32)

    cases = [(f"for random images of size {h}x{w}", pair(h, w)) for h, w in [(4, 6), (9, 7)]]
    cases.append(("for a black-and-white stylised image (the result needs clipping)",
                  pair(5, 5, rng.choice([0, 255], (5, 5, 1)).repeat(3, axis=-1))))
    return cases


def _yiq_variant(swap=False, clip=True, rnd=True):
    def f(stylised, content):
        from nst_tools import further

        a, b = (stylised, content) if not swap else (content, stylised)
        yiq = further.rgb_to_yiq(b)
        yiq[..., 0] = further.rgb_to_yiq(a)[..., 0]
        rgb = further.yiq_to_rgb(yiq)
        rgb = np.clip(rgb, 0, 255) if clip else np.mod(rgb, 256)
        return (rgb.round() if rnd else rgb).astype(np.uint8)
    return f


_register(Exercise("restore_chroma", restore_chroma, "07_going_further", "restore_chroma(stylised, content)",
                   _chroma_cases, returns="uint8", carried=False, inputs=("stylised", "content"),
                   check=_check("restore_chroma")), [
    ("Y and chroma swapped", "the stylised image's colours",
     "the Y channel comes from the content and the chroma from the stylised image: it is the other way round",
     _yiq_variant(swap=True)),
    ("no clip", "wrong values where the new luminance leaves [0, 255]",
     "the result is not clipped to [0, 255] before the uint8 conversion (values wrap around)",
     _yiq_variant(clip=False)),
    ("no rounding", "values 1 too small in places", "astype(np.uint8) truncates: round() first", _yiq_variant(rnd=False)),
    ("float image", "returns floats", "return the image as np.uint8 (after clipping and rounding)",
     lambda s, c: _yiq_variant()(s, c).astype(np.float32), "numpy"),
    ("no return", "returns None though the function is written", _return_cause("rgb"), None, "return"),
])


# --------------------------------------------------------------------------------------------------
# The training step (notebook 05): one Adam step, checked against the library's compiled cost
# --------------------------------------------------------------------------------------------------


def adam_state(x) -> dict:
    """Adam's state for a hand-written step (notebook 05): ``{"m": 0, "v": 0, "t": 0}``, m and v shaped like x."""
    return {"m": tf.zeros(np.shape(x), tf.float32), "v": tf.zeros(np.shape(x), tf.float32), "t": 0}


def _adam(x, m, v, g, t, lo, hi, lr, beta1, beta2, eps, bias_correction=True, clip=True, sign=-1.0):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * tf.square(g)
    m_hat, v_hat = (m / (1 - beta1**t), v / (1 - beta2**t)) if bias_correction else (m, v)
    new = x + sign * lr * m_hat / (tf.sqrt(v_hat) + eps)
    return (tf.clip_by_value(new, lo, hi) if clip else new), m, v


def check_train_step(fn, make_cost, x0, mean=VGG_MEAN, steps=3, alpha=ALPHA, beta=BETA, lr=LEARNING_RATE, beta1=0.9,
                     beta2=0.999, eps=1e-8, show=True, namespace=None) -> bool:
    """Check ``fn(G, state, alpha, beta)``, one Adam step on the tf.Variable ``G``; shows one verdict.

    ``make_cost(alpha, beta)``: the library's compiled ``cost(x) -> (J, J_content, J_style, dJ/dx)`` of the
    problem ``fn`` solves, for those weights (``nst.make_cost_function``). ``x0``: a preprocessed (1, H, W, 3)
    start, its top row set to black and its bottom row to white here so that clipping matters.
    ``fn`` gets ``state = adam_state(x0)`` and must return J at G before the step and leave G at
    clip(G - lr m_hat / (sqrt(v_hat) + eps)), ``steps`` times with (``alpha``, ``beta``); then once more from
    the start with beta = 0, where J is the content term alone (so that a step without it cannot pass).
    """
    ex = EXERCISES["train_step"]
    lo, hi = pixel_bounds(mean)
    x_start = np.array(x0, np.float32)
    x_start[:, 0], x_start[:, -1] = lo[0, 0], hi[0, 0]
    full = make_cost(alpha, beta)
    for weights, n in [((alpha, beta), steps), ((alpha, 0.0), 1)]:
        a, b = weights
        cost = full if weights == (alpha, beta) else make_cost(a, b)
        G, state = tf.Variable(x_start), adam_state(x_start)
        x = tf.constant(x_start)
        m, v = tf.zeros_like(x), tf.zeros_like(x)
        for t in range(1, n + 1):
            J_ref, _, _, g = cost(x)
            _, Jc, Js, _ = full(x)
            J_ref, Jc, Js = float(J_ref), float(Jc), float(Js)
            candidates = {"swapped": b * Jc + a * Js, "no_content": b * Js, "hard_coded": alpha * Jc + beta * Js}
            before = G.numpy()
            where = f"at step {t}" + ("" if b else " with beta = 0 (the content term alone)")
            try:
                got = fn(G, state, alpha=a, beta=b)
            except NotImplementedError:
                return _show(not_implemented_line("train_step", "it still raises NotImplementedError"), show, fn)
            except Exception as exc:  # noqa: BLE001 - the learner's code: report it, no traceback
                return _show(f"FAILED: train_step {where} raised {_error_text(exc)}", show, fn)
            if got is None:
                if not _has_return_value(fn):
                    return _show(f"FAILED: train_step returns nothing: {_mistake(ex, 'return').cause}", show, fn)
                return _show(not_implemented_line("train_step", "it returns None"), show, fn)
            x_next, m_next, v_next = _adam(x, m, v, g, t, lo, hi, lr, beta1, beta2, eps)
            try:
                J = float(np.asarray(got, np.float64).reshape(()))
            except (TypeError, ValueError):
                return _show(f"FAILED: train_step {where} returned {_describe(got)}, not the cost J", show, fn)
            if not np.isclose(J, J_ref, rtol=1e-4):
                after_J = float(cost(tf.constant(G.numpy()))[0])
                candidates["after"] = after_J
                m_ = next((mm for mm in ex.mistakes if mm.kind == "train_J" and
                           np.isclose(J, candidates[mm.example["J"]], rtol=1e-4)
                           and not np.isclose(candidates[mm.example["J"]], J_ref, rtol=1e-4)), None)
                cause = m_.cause if m_ else "J is not alpha J_content + beta J_style at G before the step"
                return _show(f"FAILED: train_step: {cause}\n{where}: returned J = {J:.7g}, expected {J_ref:.7g} "
                             f"(alpha = {a:g}, beta = {b:g})", show, fn)
            after = G.numpy()
            if np.array_equal(after, before):
                m_ = next(mm for mm in ex.mistakes if mm.example == {"G": "unchanged"})
                return _show(f"FAILED: train_step {where}: G did not change: {m_.cause}", show, fn)
            if _off(after, x_next):
                cause, found = "G is not clip(G - lr * m_hat / (sqrt(v_hat) + eps))", None
                for mm in ex.mistakes:
                    if mm.kind == "train_G" and mm.example.get("G") != "unchanged":
                        variant = _adam(x, m, v, g, t, lo, hi, lr, beta1, beta2, eps, **mm.example["adam"])[0]
                        if not _off(after, variant):
                            found = mm
                            break
                cause = found.cause if found else cause
                diff = np.abs(after - x_next.numpy())
                return _show(f"FAILED: train_step: {cause}\n{where}: G is off by more than 0.01 at "
                             f"{int((diff > 1e-2).sum())} of {diff.size} values (by up to {diff.max():.3g})", show, fn)
            x, m, v = x_next, m_next, v_next
            G.assign(x)  # go on from the exact Adam step
            if weights == (alpha, beta) and t == n:
                last = (J, J_ref)
    return _show(f"PASSED: train_step = {last[0]:.7g} (expected {last[1]:.7g}) at step {steps}, G is Adam's update "
                 f"after each of the {steps} steps, and with beta = 0 J is the content term alone", show, fn)


def _off(after, expected) -> bool:
    diff = np.abs(np.asarray(after) - np.asarray(expected))
    return bool((diff > 1e-2).mean() > 1e-3)


_register(Exercise("train_step", None, "05_style_transfer", "my_train_step(G, state, alpha=ALPHA, beta=BETA, lr=2.0, "
                   "beta1=0.9, beta2=0.999, eps=1e-8)", returns="step", carried=False, check=check_train_step), [
    ("content term dropped", "J wrong with beta = 0 (J is 0 or tiny there)",
     "the content term is missing or compares a_C with itself: J_content = compute_content_cost(a_C, "
     "a_G[nst.CONTENT_LAYER])", {"J": "no_content"}, "train_J"),
    ("alpha and beta swapped", "J wrong at step 1",
     "alpha and beta are swapped: total_cost(J_content, J_style, alpha, beta)", {"J": "swapped"}, "train_J"),
    ("alpha and beta hard-coded", "J right with the notebook's weights only",
     "the step does not use its alpha and beta arguments: total_cost(J_content, J_style, alpha, beta)",
     {"J": "hard_coded"}, "train_J"),
    ("J after the update", "J of the new G",
     "return J computed before the update (the one the gradient was taken at), not after", {"J": "after"},
     "train_J"),
    ("no bias correction", "G off after the step",
     "no bias correction: m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t)",
     {"G": "off", "adam": {"bias_correction": False}}, "train_G"),
    ("no clip", "G off at the black and white rows",
     "G is not clipped to the valid pixels: tf.clip_by_value(..., LO, HI)",
     {"G": "off", "adam": {"clip": False}}, "train_G"),
    ("uphill", "G off in the other direction", "the step goes uphill: G - lr * m_hat / (sqrt(v_hat) + eps), a minus",
     {"G": "off", "adam": {"sign": 1.0}}, "train_G"),
    ("= instead of assign", "G did not change",
     "G = ... only renames a new tensor inside the function: update the variable with G.assign(...)",
     {"G": "unchanged"}, "train_G"),
    ("no return", "returns None though the step is written", _return_cause("J"), {"return": None}, "return"),
])


# the checks under the names the notebooks call them by
def check_content_cost(fn, **kw):
    """Check ``fn(a_C, a_G)`` against compute_content_cost; shows PASSED, FAILED (with its cause) or NOT IMPLEMENTED."""
    return EXERCISES["compute_content_cost"].check(fn, **kw)


def check_gram_matrix(fn, **kw):
    """Check ``fn(A)`` against gram_matrix (A of shape (n_C, n_H n_W))."""
    return EXERCISES["gram_matrix"].check(fn, **kw)


def check_layer_style_cost(fn, **kw):
    """Check ``fn(a_S, a_G)`` against compute_layer_style_cost."""
    return EXERCISES["compute_layer_style_cost"].check(fn, **kw)


def check_style_cost(fn, **kw):
    """Check ``fn(a_S, a_G, style_layers)`` against compute_style_cost."""
    return EXERCISES["compute_style_cost"].check(fn, **kw)


def check_total_cost(fn, **kw):
    """Check ``fn(J_content, J_style[, alpha, beta])`` against total_cost."""
    return EXERCISES["total_cost"].check(fn, **kw)


def check_restore_chroma(fn, **kw):
    """Check ``fn(stylised, content)`` against further.restore_chroma (uint8 and float32 RGB images)."""
    return EXERCISES["restore_chroma"].check(fn, **kw)
