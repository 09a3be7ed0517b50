"""Every moto 5.2.5 internal the local harness patches, in one place (test support, never shipped).

These are private moto internals: moto is pinned exactly (``moto==5.2.5``) and :func:`check_seams`
verifies, before anything is patched, that each one still exists with the expected signature and
the source lines the patch replaces. If a seam moved it fails with ``moto seam moved: ...``.

Seams (module paths under ``moto.stepfunctions.parser.asl.component`` unless written in full):

==============================================================  ===========================================
``moto.awslambda.models.LambdaFunction._invoke_lambda``          Lambda runs the Python handler in-process
``moto.stepfunctions.parser.backend.execution_worker``           execution start/finish -> busy token
``.ExecutionWorker.start`` (runs ``_execution_logic``)
``program.program.Program.eval``                                 program thread inherits the flow key;
                                                                 TimeoutSeconds on the simulated clock
``state.wait.wait_function.wait_function.WaitFunction``          Wait -> simulated sleep
``._wait_interval``
``common.retry.retrier_decl.time`` (module attribute) and        Retry back-off -> simulated sleep
``common.retry.retrier_decl.RetrierDecl._eval_body``             (passes the env via a thread-local)
``common.retry.jitter_strategy_decl.random`` (module attribute)  seeded RNG for JitterStrategy FULL
``state.exec.state_parallel.branch_worker.BranchWorker.start``   Parallel branch = flow with its own token,
                                                                 started in its turn (key order, see
                                                                 ``SimClock.take_turn``)
``state.exec.state_parallel.branches_decl.BranchWorkerPool``     parent parks while branches run
``.wait``
``state.exec.state_map.iteration.inline_iteration_component``    Map worker = flow with its own token,
                                                                 started in its turn when it has siblings
``.InlineIterationComponent._launch_worker``
``state.exec.state_map.iteration.job.JobPool.await_jobs``        parent parks while items run
``moto.stepfunctions.parser.asl.eval.environment.Environment``   a stopped/failed/timed-out/ended env
``.set_stop`` / ``.set_error`` / ``.set_timed_out`` /            wakes its simulated sleepers
``.set_ended``
``moto.stepfunctions.parser.asl.utils.boto_client``              one cached boto3 client per
``.boto_client_for`` (and every parser module that imported it)  (region, service)
``moto.stepfunctions.parser.asl.utils.json_path.parse``          parsed JSONPath cached per path string
(module attribute, used by ``extract_json``) and                 (jsonpath_ng builds a new PLY parser per
``common.path.result_path.parse`` (used by ``ResultPath``)       call: ~1 ms, ~12 times per Task state)
``moto.stepfunctions.parser.backend.execution_worker``           parsed ASL program cached per definition
``.ExecutionWorker._get_evaluation_entrypoint``                  string (ANTLR parse: ~0.1 s per start)
``moto.stepfunctions.parser.models.AmazonStateLanguageParser``    CreateStateMachine's validating parse is
(module attribute, used by ``_validate_definition``)             that cached one (parse errors still raise)
``moto.dynamodb.models.table.Table.query`` and ``.all_items``     a base-table Query reads its partition,
                                                                 not the whole table sorted (same items)
``state.exec.state_map.iteration.inline_iteration_component``    a Map starts as many workers as it has
``.InlineIterationComponent._eval_body`` (via ``_launch_worker``) items, at most MaxConcurrency (moto
                                                                 starts MaxConcurrency, idle ones exit)
``state.exec.state_task.lambda_eval_utils``                      a Lambda Task calls moto's Lambda
``._invoke_lambda_function``                                     backend directly (no boto3/HTTP round
                                                                 trip); anything unusual goes the
                                                                 boto3 way
``copy`` (module attribute) of the parser modules that            state data (JSON) copied by a plain
deep-copy state data (``JSON_COPY_MODULES``)                     recursive copy, anything else by
                                                                 ``copy.deepcopy``
``moto.core.responses.method_names_from_class``                  a response class's method names read
(module attribute)                                               once per class, not per request
``moto.core.serialize.BaseJSONSerializer``                       a DynamoDB AttributeValue holding one
``._serialize_type_structure``                                   string, number, boolean, null or string /
                                                                 number set is written as it is (the
                                                                 generic walk of its ten members gives the
                                                                 same JSON); binary values, maps and lists
                                                                 go the generic way (~30 % of a GetItem or
                                                                 Query in moto)
``eval_component.EvalComponent.heap_key``                        read once per component of a cached
                                                                 program (lazy uid, see below)
``state.exec.execute_state.Thread`` and ``.threading``           a Task's worker thread = a flow with the
(module attributes, used by                                      Task's key and its own token; the Task's
``ExecutionState._evaluate_with_timeout``)                       TimeoutSeconds on the simulated clock
``botocore.client.BaseClient._make_api_call``                    an AWS call made by a handler takes the
                                                                 latency model's time for its service
``time.sleep`` (module attribute)                                a handler's sleep (its own, or botocore's
                                                                 retry back-off) is simulated time
``moto.stepfunctions.parser.models``                             read only: :func:`execution_history`
``.stepfunctions_parser_backends`` -> ``.get_execution_history``  (history events without boto3's
-> ``Execution.to_history_output`` ->                            response encoding round trip)
``EventManager.get_event_history``
==============================================================  ===========================================

Why sharing the cached objects across threads is safe (read in moto 5.2.5 / jsonpath-ng 1.16):

* A jsonpath_ng expression is immutable after parse: ``find``/``update``/``update_or_create`` of every
  node class (``Root``, ``This``, ``Child``, ``Fields``, ``Index``, ``Slice``, ``Wildcard``,
  ``Descendants``, ``Where``, ext ``Filter``/``Expression``/``Operation``/``Len``/``Sub``...) read their
  own fields and build new ``DatumInContext`` objects; only the *data* is written.
* A parsed ASL ``Program`` is not mutated while it is evaluated: no component method outside
  construction (``__init__``/``from_state_props``) assigns to ``self``, all run-time state lives in the
  ``Environment`` (stack, heap, frames) or in per-evaluation objects (``BranchWorker``, ``JobPool``,
  ``MapRunRecord``...); literals pushed on the stack are scalars or deep-copied by ``ResultPath``. A
  Map's iterations already share one component tree concurrently in stock moto. The one exception is
  ``EvalComponent.heap_key``, a uid created lazily on first read (Retry keys its attempt counter in
  the env heap with it): two executions reading it first at the same time could each see a different
  key, so every component's key is created before the program is shared.

Not patched (stay on real time): ``HeartbeatSeconds``, callbacks (``.waitForTaskToken``) and activities.
Do not rely on them in a replay.
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import io
import itertools
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from .clock import FlowKey, SimClock

if TYPE_CHECKING:
    import random

__all__ = ["MOTO_VERSION", "SeamMovedError", "check_seams", "execution_history", "install"]

MOTO_VERSION = "5.2.5"
_P = "moto.stepfunctions.parser.asl.component."


class SeamMovedError(RuntimeError):
    """A moto internal that the harness patches is gone or changed shape."""


@dataclass(frozen=True)
class _Seam:
    module: str
    attr: str  # "Class.method" or a module attribute
    params: tuple[str, ...] | None = None  # expected parameter names, for callables
    landmarks: tuple[str, ...] = ()  # source fragments the patch relies on / replaces


JSON_COPY_MODULES: tuple[str, ...] = (
    _P + "common.path.result_path",
    _P + "common.string.string_expression",
    _P + "state.exec.execute_state",
    _P + "state.exec.state_map.state_map",
    _P + "state.exec.state_parallel.state_parallel",
    _P + "state.exec.state_task.service.state_task_service",
    "moto.stepfunctions.parser.asl.eval.states",
    "moto.stepfunctions.parser.asl.eval.environment",
)
"""Parser modules whose ``copy.deepcopy`` copies state data (inputs, outputs, parameters, the stack) on every
state: about a thousand ``deepcopy`` calls per state transition, a tenth of a replay's time."""

_JSON_SCALARS = (str, int, float, bool, type(None))


def json_copy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """A deep copy of ``value``: dicts and lists rebuilt, JSON scalars shared (immutable), anything else
    (sets, tuples, moto's objects) through ``copy.deepcopy``. For state data it equals ``copy.deepcopy`` except
    that a sub-tree referenced twice is copied twice (JSON has no shared references, so no reader can tell)."""
    kind = type(value)
    if kind is dict:
        return {key: json_copy(item) for key, item in value.items()}
    if kind is list:
        return [json_copy(item) for item in value]
    if kind in _JSON_SCALARS:
        return value
    return copy.deepcopy(value, memo)


class _JsonCopyModule:
    """Stands in for ``copy`` inside :data:`JSON_COPY_MODULES`: ``deepcopy`` is :func:`json_copy`."""

    deepcopy = staticmethod(json_copy)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


SEAMS: tuple[_Seam, ...] = (
    _Seam(
        "moto.awslambda.models",
        "LambdaFunction._invoke_lambda",
        ("self", "event"),
        ("docker_client.containers.run",),
    ),
    _Seam(
        "moto.awslambda.models",
        "LambdaFunction.invoke",
        ("self", "body", "request_headers", "response_headers"),
        ("self._invoke_lambda(event=body)", "x-amz-function-error"),
    ),
    _Seam(
        "moto.stepfunctions.parser.backend.execution_worker",
        "ExecutionWorker.start",
        ("self",),
        ("Thread(target=self._execution_logic, daemon=True)", "TMP_THREADS.append"),
    ),
    _Seam(
        "moto.stepfunctions.parser.backend.execution_worker",
        "ExecutionWorker._execution_logic",
        ("self",),
        (
            "program = self._get_evaluation_entrypoint()",
            "program.eval(self.env)",
            "self._execution_communication.terminated()",
        ),
    ),
    _Seam(
        _P + "program.program",
        "Program.eval",
        ("self", "env"),
        (
            "env.next_state_name = self.start_at.start_at_name",
            "threading.Thread(target=super().eval, args=(env,), daemon=True)",
            "worker_thread.join(timeout=timeout)",
            "env.set_timed_out()",
        ),
    ),
    _Seam(
        _P + "state.wait.wait_function.wait_function",
        "WaitFunction._wait_interval",
        ("self", "env", "wait_seconds"),
        ("env.program_state_event.wait(wait_seconds)",),
    ),
    _Seam(
        _P + "common.retry.retrier_decl",
        "RetrierDecl._eval_body",
        ("self", "env"),
        ("time.sleep(interval_seconds)",),
    ),
    _Seam(_P + "common.retry.retrier_decl", "time"),
    _Seam(_P + "common.retry.jitter_strategy_decl", "random"),
    _Seam(
        _P + "common.retry.jitter_strategy_decl",
        "JitterStrategyDecl._eval_body",
        ("self", "env"),
        ("random.uniform(0, interval_seconds)",),
    ),
    _Seam(
        _P + "state.exec.state_parallel.branch_worker",
        "BranchWorker.start",
        ("self",),
        ("target=self._thread_routine", "TMP_THREADS.append(self._worker_thread)"),
    ),
    _Seam(
        _P + "state.exec.state_parallel.branch_worker",
        "BranchWorker._thread_routine",
        ("self",),
        ("self._branch_worker_comm.on_terminated(env=self.env)",),
    ),
    _Seam(
        _P + "state.exec.state_parallel.branches_decl",
        "BranchWorkerPool.wait",
        ("self",),
        ("self._termination_event.wait()",),
    ),
    _Seam(
        _P + "state.exec.state_parallel.branches_decl",
        "BranchWorkerPool.on_terminated",
        ("self", "env"),
        ("self._termination_event.set()",),
    ),
    _Seam(
        _P + "state.exec.state_map.iteration.inline_iteration_component",
        "InlineIterationComponent._launch_worker",
        ("self", "env", "eval_input", "job_pool"),
        ("self._create_worker(env=env, eval_input=eval_input, job_pool=job_pool)", "target=worker.eval"),
    ),
    _Seam(
        _P + "state.exec.state_map.iteration.job",
        "JobPool.await_jobs",
        ("self",),
        ("if not self._is_terminated():", "self._termination_event.wait()"),
    ),
    *(
        _Seam(
            "moto.stepfunctions.parser.asl.eval.environment",
            f"Environment.{name}",
            params,
            ("self.program_state_event.set()",),
        )
        for name, params in (
            ("set_stop", ("self", "stop_date", "cause", "error")),
            ("set_error", ("self", "error")),
            ("set_timed_out", ("self",)),
            ("set_ended", ("self",)),
        )
    ),
    _Seam(
        "moto.stepfunctions.parser.asl.utils.boto_client",
        "boto_client_for",
        ("region", "service", "state_credentials"),
        ("return boto3.client(",),
    ),
    _Seam("moto.stepfunctions.parser.utils", "TMP_THREADS"),
    # --- DynamoDB: a base-table Query looks at its own partition only ---------------------------------
    _Seam(
        "moto.dynamodb.models.table",
        "Table.query",
        (
            "self",
            "hash_key",
            "range_comparison",
            "range_objs",
            "limit",
            "exclusive_start_key",
            "scan_index_forward",
            "projection_expressions",
            "index_name",
            "consistent_read",
            "filter_expression",
            "hash_key_conditions",
            "range_key_conditions",
            "filter_kwargs",
        ),
        ("for item in self.all_items()", "if isinstance(item, Item) and item.hash_key == hash_key"),
    ),
    _Seam("moto.dynamodb.models.table", "Table.all_items", ("self",), ("for hash_set in self.items.values():",)),
    # --- caches: parsed JSONPath per path string, parsed program per definition string ---------------
    _Seam("moto.stepfunctions.parser.asl.utils.json_path", "parse"),
    _Seam(
        "moto.stepfunctions.parser.asl.utils.json_path",
        "extract_json",
        ("path", "data"),
        ("input_expr = parse(path)",),
    ),
    _Seam(_P + "common.path.result_path", "parse"),
    _Seam(
        _P + "common.path.result_path",
        "ResultPath._eval_body",
        ("self", "env"),
        ("result_expr = parse(self.result_path_src)",),
    ),
    _Seam(
        "moto.stepfunctions.parser.backend.execution_worker",
        "ExecutionWorker._get_evaluation_entrypoint",
        ("self",),
        ("AmazonStateLanguageParser.parse(", "self._evaluation_details.state_machine_details.definition"),
    ),
    _Seam(
        "moto.stepfunctions.parser.asl.parse.asl_parser",
        "AmazonStateLanguageParser.parse",
        ("definition",),
        ("return program, tree",),
    ),
    _Seam(_P + "eval_component", "EvalComponent.heap_key.fget", ("self",), ("self.__heap_key = long_uid()",)),
    _Seam("moto.stepfunctions.parser.models", "AmazonStateLanguageParser"),
    _Seam(
        "moto.stepfunctions.parser.models",
        "StepFunctionsParserBackend._validate_definition",
        ("definition",),
        ("AmazonStateLanguageParser.parse(definition)",),
    ),
    # --- speed: Map workers, the Lambda Task's call, copies of state data, moto's dispatch ---------------
    _Seam(
        _P + "state.exec.state_map.iteration.inline_iteration_component",
        "InlineIterationComponent._eval_body",
        ("self", "env"),
        (
            "for _ in range(number_of_workers):",
            "self._launch_worker(env=env, eval_input=eval_input, job_pool=job_pool)",
        ),
    ),
    _Seam(
        _P + "state.exec.state_map.iteration.job",
        "JobPool.__init__",
        ("self", "job_program", "job_inputs"),
        ("self._jobs_number = len(job_inputs)",),
    ),
    _Seam(
        _P + "state.exec.state_task.lambda_eval_utils",
        "_invoke_lambda_function",
        ("parameters", "region", "state_credentials"),
        ("invocation_response = lambda_client.invoke(**parameters)", "_from_payload(payload)"),
    ),
    _Seam(
        _P + "state.exec.state_task.lambda_eval_utils",
        "execute_lambda_function_integration",
        ("env", "parameters", "region", "state_credentials"),
        ("invocation_response = _invoke_lambda_function(",),
    ),
    _Seam(
        "moto.awslambda.models",
        "LambdaBackend.invoke",
        ("self", "function_name", "qualifier", "body", "headers", "response_headers"),
        ("fn = self.get_function(function_name, qualifier)", "fn.invoke(body, headers, response_headers)"),
    ),
    _Seam(
        "moto.awslambda.responses",
        "LambdaResponse.invoke",
        ("self",),
        ("sys.getsizeof(payload) > 6000000", "Function.ResponseSizeTooLarge"),
    ),
    _Seam("moto.awslambda.models", "lambda_backends"),
    *(_Seam(module, "copy") for module in JSON_COPY_MODULES),
    _Seam("moto.core.responses", "method_names_from_class", ("clazz",)),
    _Seam(
        "moto.core.serialize",
        "BaseJSONSerializer._serialize_type_structure",
        ("self", "serialized", "value", "shape", "key"),
        ("if shape.is_document_type:", "super()._serialize_type_structure(serialized, value, shape, key)"),
    ),
    _Seam(
        "moto.core.responses",
        "BaseResponse.call_action",
        ("self",),
        ("method_names = method_names_from_class(self.__class__)",),
    ),
    # --- a Task's worker thread and its TimeoutSeconds ---------------------------------------------------
    _Seam(_P + "state.exec.execute_state", "Thread"),
    _Seam(_P + "state.exec.execute_state", "threading"),
    _Seam(
        _P + "state.exec.execute_state",
        "ExecutionState._evaluate_with_timeout",
        ("self", "env"),
        (
            "terminated_event = threading.Event()",
            "thread = Thread(target=_exec_and_notify, daemon=True)",
            "terminated_event.set()",
            "finished_on_time: bool = terminated_event.wait(timeout_seconds)",
        ),
    ),
    _Seam(
        "moto.stepfunctions.parser.backend.execution_worker",
        "ExecutionWorker._get_evaluation_environment",
        ("self",),
        ("execution_type=self._evaluation_details.state_machine_details.typ",),
    ),
    # --- botocore and time: latency of the AWS calls a handler makes, and its sleeps ---------------------
    _Seam(
        "botocore.client",
        "BaseClient._make_api_call",
        ("self", "operation_name", "api_params"),
        ("service_name = self._service_model.service_name",),
    ),
    _Seam("time", "sleep"),
    # --- read only: execution history straight from the backend ----------------------------------------
    _Seam("moto.stepfunctions.parser.models", "stepfunctions_parser_backends"),
    _Seam(
        "moto.stepfunctions.parser.models",
        "StepFunctionsParserBackend.get_execution_history",
        ("self", "execution_arn"),
        ("execution.to_history_output()",),
    ),
    _Seam(
        "moto.stepfunctions.parser.backend.execution",
        "Execution.to_history_output",
        ("self",),
        ("env.event_manager.get_event_history()",),
    ),
    _Seam(
        "moto.stepfunctions.parser.asl.eval.event.event_manager",
        "EventManager.get_event_history",
        ("self",),
        ("with self._mutex:", "copy.deepcopy(self._history_event_list)"),
    ),
    _Seam(
        "moto.stepfunctions.parser.asl.eval.event.event_manager",
        "EventManager.add_event",
        ("self", "context", "event_type", "event_details", "timestamp", "update_source_event_id"),
        ("timestamp = iso_8601_datetime_with_milliseconds(timestamp)",),
    ),
)

# While patches are installed, check_seams() inspects the saved originals, not our replacements.
_ORIGINALS: dict[tuple[str, str], Any] = {}


def _resolve(seam: _Seam) -> Any:
    if (seam.module, seam.attr) in _ORIGINALS:
        return _ORIGINALS[(seam.module, seam.attr)]
    obj: Any = importlib.import_module(seam.module)
    for part in seam.attr.split("."):
        obj = getattr(obj, part)
    return obj


def _installed_moto_version() -> str:
    try:
        import moto

        return str(getattr(moto, "__version__", "unknown"))
    except ImportError:  # pragma: no cover
        return "not installed"


def check_seams() -> None:
    """Verify every moto internal the harness patches; raise :class:`SeamMovedError` listing each
    problem (``moto seam moved: ...; pin moto==5.2.5``)."""
    problems: list[str] = []
    for seam in SEAMS:
        where = f"{seam.module}.{seam.attr}"
        try:
            obj = _resolve(seam)
        except (ImportError, AttributeError) as exc:
            problems.append(f"{where} is missing ({type(exc).__name__}: {exc})")
            continue
        if seam.params is not None:
            if not callable(obj):
                problems.append(f"{where} is not callable")
                continue
            try:
                names = tuple(inspect.signature(obj).parameters)
            except (TypeError, ValueError) as exc:
                problems.append(f"{where} has no readable signature ({exc})")
                continue
            if names != seam.params:
                problems.append(f"{where} signature is {names}, expected {seam.params}")
        if seam.landmarks:
            try:
                source = inspect.getsource(obj)
            except (OSError, TypeError) as exc:
                problems.append(f"{where} source unavailable ({exc})")
                continue
            problems.extend(f"{where} no longer contains {mark!r}" for mark in seam.landmarks if mark not in source)
    if problems:
        raise SeamMovedError(
            "moto seam moved: "
            + "; ".join(problems)
            + f"; pin moto=={MOTO_VERSION} (installed: {_installed_moto_version()})"
        )


# ---------------------------------------------------------------------------------------------- caches
# Process-wide (they outlive one LocalAws): both hold pure functions of a string, see the module docstring.
@functools.cache
def _cached_jsonpath_parse(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` (jsonpath_ng's or its ext's) with its results cached per path string."""
    return functools.lru_cache(maxsize=4096)(parse)


_parse_lock = threading.Lock()


@functools.lru_cache(maxsize=64)
def parsed_program(definition: str) -> Any:
    """The evaluation entry point (``Program``) moto's ``ExecutionWorker`` would parse for
    ``definition``, parsed once per definition string and shared by every execution of it.
    Parse errors are raised, not cached."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    program = AmazonStateLanguageParser.parse(definition)[0]
    _create_heap_keys(program)
    return program


def shared_program(definition: str) -> Any:
    """:func:`parsed_program` for callers that may run at the same time (executions started together, a
    CreateStateMachine meanwhile): the first parses, the others wait for its result instead of parsing too."""
    with _parse_lock:
        return parsed_program(definition)


class _ValidatingParser:
    """Stands in for ``AmazonStateLanguageParser`` where CreateStateMachine validates a definition: the parse is
    :func:`shared_program`'s (kept for the executions), not a second ANTLR parse of the same string."""

    @staticmethod
    def parse(definition: str) -> tuple[Any, None]:
        return shared_program(definition), None


def _create_heap_keys(program: Any) -> None:
    """Read ``heap_key`` of every component reachable from ``program`` so each lazy uid exists before
    two executions can race to create it."""
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    todo: list[Any] = [program]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, dict):
            todo.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            todo.extend(obj)
        elif type(obj).__module__.startswith("moto.stepfunctions.parser.") and hasattr(obj, "__dict__"):
            if isinstance(obj, EvalComponent):
                _ = obj.heap_key
            todo.extend(vars(obj).values())


@functools.cache
def _cached_method_names(method_names_from_class: Callable[[object], list[str]]) -> Callable[[object], list[str]]:
    """moto's ``method_names_from_class`` (``inspect.getmembers`` of a response class, on every request) cached
    per class: response classes are not changed at run time."""
    cached = functools.lru_cache(maxsize=1024)(method_names_from_class)
    return lambda clazz: list(cached(clazz))


_PLAIN_ATTRIBUTE_SCALARS: Mapping[str, type] = {"S": str, "N": str, "BOOL": bool, "NULL": bool}
_PLAIN_ATTRIBUTE_SETS = frozenset({"SS", "NS"})
_ATTRIBUTE_VALUE_SERVICES = frozenset({"dynamodb", "dynamodbstreams"})
"""Whose ``AttributeValue`` shape is DynamoDB's (no response transformer in moto 5.2.5's responses for either)."""


def plain_attribute_value(value: Any) -> dict[str, Any] | None:
    """The JSON moto's generic serializer writes for a DynamoDB ``AttributeValue`` (a union: one member set), when
    it is the value itself: one string, number (a string in moto), boolean or null member, or a string / number
    set (a list of strings, copied). None for anything else (binary members are base64-encoded, maps and lists
    hold AttributeValues of their own, an unexpected shape of value): the generic serializer handles those."""
    if type(value) is not dict or len(value) != 1:
        return None
    ((member, item),) = value.items()
    scalar = _PLAIN_ATTRIBUTE_SCALARS.get(member)
    if scalar is not None:
        return {member: item} if type(item) is scalar else None
    if member in _PLAIN_ATTRIBUTE_SETS and type(item) is list and all(type(s) is str for s in item):
        return {member: list(item)}
    return None


_DIRECT_INVOKE_PARAMETERS = frozenset({"FunctionName", "Payload", "Qualifier", "InvocationType"})
_LAMBDA_RESPONSE_LIMIT_BYTES = 6_000_000
"""moto's own check in ``LambdaResponse.invoke`` (``sys.getsizeof(payload) > 6000000``), kept here."""


def _direct_lambda_invoke(parameters: Mapping[str, Any], region: str) -> dict[str, Any] | None:
    """What moto's Step Functions gets back from ``lambda_client.invoke(**parameters)`` (the response dict with the
    payload parsed), from moto's Lambda backend directly, or None when the call is not the plain synchronous one
    (other parameters, another invocation type, an unknown function): that goes the boto3 way, with its errors."""
    from moto.awslambda.models import lambda_backends
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils import _from_payload

    if not set(parameters) <= _DIRECT_INVOKE_PARAMETERS or parameters.get("InvocationType", "RequestResponse") != (
        "RequestResponse"
    ):
        return None
    name = str(parameters["FunctionName"])
    account = name.split(":")[4] if name.startswith("arn:") and name.count(":") >= 6 else DEFAULT_ACCOUNT_ID
    qualifier = parameters.get("Qualifier")
    try:
        function = lambda_backends[account][region].get_function(name, qualifier)
    except Exception:  # unknown function or account: the boto3 way raises the API's error
        return None
    payload = parameters.get("Payload")
    if not isinstance(payload, bytes | str | None):  # moto normalises it to bytes; anything else: the boto3 way
        return None
    body = payload.decode() if isinstance(payload, bytes) else payload
    response_headers: dict[str, str] = {}
    result = function.invoke(body, {}, response_headers)
    raw = result if isinstance(result, bytes) else str(result).encode()
    if sys.getsizeof(raw) > _LAMBDA_RESPONSE_LIMIT_BYTES:
        response_headers["x-amz-function-error"] = "Unhandled"
        raw = json.dumps(
            {
                "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }
        ).encode()
    response: dict[str, Any] = {"StatusCode": 200, "Payload": _from_payload(io.BytesIO(raw))}  # moto's fields
    if "x-amz-function-error" in response_headers:
        response["FunctionError"] = response_headers["x-amz-function-error"]
    return response


# ---------------------------------------------------------------------------------------------- history
def execution_history(execution_arn: str) -> list[dict[str, Any]]:
    """An execution's history events as boto3's ``get_execution_history`` returns them (``type``,
    ``timestamp`` as an aware UTC datetime, ``id``, ``previousEventId``, the ``*EventDetails``), read
    from moto's Step Functions backend without the boto3 request/response round trip.

    Needs an active ``mock_aws`` with Step Functions execution on. An unknown ARN raises moto's
    ``ExecutionDoesNotExist``; a malformed one ``ValueError``. The events are a deep copy taken under
    the execution's event-manager lock, so reading a running execution is safe."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    parts = execution_arn.split(":")  # arn:aws:states:<region>:<account>:execution|express:<machine>:<name>
    if len(parts) < 8 or parts[:3] != ["arn", "aws", "states"]:
        raise ValueError(f"not a Step Functions execution ARN: {execution_arn!r}")
    backend = stepfunctions_parser_backends[parts[4]][parts[3]]
    return [_boto3_event(event) for event in backend.get_execution_history(execution_arn)["events"]]


def _boto3_event(event: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(event)
    stamp = out.get("timestamp")
    if isinstance(stamp, str):  # moto keeps "2026-01-21T11:00:00.000Z"; boto3 parses it to a datetime
        out["timestamp"] = datetime.fromisoformat(stamp).astimezone(UTC)
    return out


# ---------------------------------------------------------------------------------------------- flows
class _FlowState(threading.local):
    """Per-thread flow identity. ``key`` orders sleepers deterministically; ``children`` numbers the
    branches/workers this flow starts; ``retry_env`` carries the env into the Retry back-off sleep."""

    key: FlowKey = ()
    children: Iterator[int] | None = None
    retry_env: Any = None


_flow = _FlowState()


def current_flow_key() -> FlowKey:
    return _flow.key


def _child_key() -> FlowKey:
    if _flow.children is None:
        _flow.children = itertools.count()
    return (*_flow.key, next(_flow.children))


def _enter_flow(key: FlowKey, children: Iterator[int] | None = None) -> None:
    _flow.key = key
    _flow.children = children if children is not None else itertools.count()
    _flow.retry_env = None


class Runtime(Protocol):
    """What the patches need from the harness."""

    clock: SimClock
    rng: random.Random

    def on_execution_start(self, worker: Any) -> FlowKey: ...
    def on_execution_end(self, worker: Any, error: BaseException | None) -> None: ...
    def on_execution_thread_start(self, worker: Any) -> None: ...
    def invoke_lambda(self, fn: Any, event: Any) -> tuple[str, bool, str]: ...
    def execution_start_delay(self, machine_type: str, machine_arn: str) -> float: ...
    def before_api_call(self, service: str, operation: str) -> None: ...
    def handler_sleep(self, seconds: float) -> bool: ...


# ---------------------------------------------------------------------------------------------- install
def install(rt: Runtime) -> Callable[[], None]:
    """Patch every seam for harness ``rt``; return the function that restores the originals.
    Call :func:`check_seams` first."""
    from moto.awslambda.models import LambdaFunction
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.common.retry import jitter_strategy_decl, retrier_decl
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
    from moto.stepfunctions.parser.asl.component.program.program import Program
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component import (
        InlineIterationComponent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker import BranchWorker
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl import (
        BranchWorkerPool,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: F401
        state_task_service_factory,  # imports every service module, so their boto_client_for is seen
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.parse import asl_parser  # noqa: F401
    from moto.stepfunctions.parser.asl.utils import boto_client, json_path
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.utils import TMP_THREADS

    clock = rt.clock
    undo: list[Callable[[], None]] = []

    def patch(owner: Any, name: str, new: Any, seam_module: str, seam_attr: str) -> None:
        old = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        _ORIGINALS.setdefault((seam_module, seam_attr), old)
        setattr(owner, name, new)

        def restore() -> None:
            setattr(owner, name, old)
            _ORIGINALS.pop((seam_module, seam_attr), None)

        undo.append(restore)

    def flow_thread(
        target: Callable[[], None], key: FlowKey, name: str | None, *, takes_turn: bool = False
    ) -> threading.Thread:
        """A thread for a new flow: token taken now, returned at the thread's very end.

        ``takes_turn``: the flow is one of several its parent starts at once (Parallel branches, Map workers).
        Started together, they would run side by side until each first waits for simulated time, so which worker
        takes which Map item, and which latency draw each gets, would follow thread scheduling: each waits instead
        for the driver to release it, one at a time in key order (or the seeded interleaving), as flows due at the
        same instant are."""
        clock.acquire()

        def run() -> None:
            _enter_flow(key)
            try:
                if takes_turn:
                    clock.take_turn(key=key)
                target()
            finally:
                clock.release()

        thread = threading.Thread(target=run, name=name, daemon=True)
        TMP_THREADS.append(thread)
        return thread

    # --- Lambda: the handler runs in-process -------------------------------------------------------
    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        return rt.invoke_lambda(self, event)

    patch(LambdaFunction, "_invoke_lambda", _invoke_lambda, "moto.awslambda.models", "LambdaFunction._invoke_lambda")

    # --- executions ---------------------------------------------------------------------------------
    def _execution_start(self: Any) -> None:
        key = rt.on_execution_start(self)
        details = self._evaluation_details.state_machine_details
        machine_type = getattr(details.typ, "value", "STANDARD")
        delay_seconds = rt.execution_start_delay(str(machine_type), str(details.arn))
        if delay_seconds > 0:
            # StartExecution -> first state takes time: the thread starts from a timer on the driver thread, so
            # executions started together still begin one at a time, in start order (determinism).
            clock.call_at(clock.now_us() + round(delay_seconds * 1_000_000), lambda: _start_thread(self, key))
            return
        _start_thread(self, key)

    def _start_thread(self: Any, key: FlowKey) -> None:
        rt.on_execution_thread_start(self)
        clock.acquire()

        def run() -> None:
            _enter_flow(key)
            error: BaseException | None = None
            try:
                self._execution_logic()
            except BaseException as exc:
                error = exc
            finally:
                try:
                    rt.on_execution_end(self, error)
                finally:
                    clock.release()

        thread = threading.Thread(target=run, daemon=True, name=f"sfn-execution-{key[0]}")
        TMP_THREADS.append(thread)
        thread.start()

    patch(
        ExecutionWorker,
        "start",
        _execution_start,
        "moto.stepfunctions.parser.backend.execution_worker",
        "ExecutionWorker.start",
    )

    # --- Program: inherit the flow key; TimeoutSeconds on the simulated clock -------------------------
    def _program_eval(self: Any, env: Any) -> None:
        timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
        env.next_state_name = self.start_at.start_at_name
        key, children = _flow.key, _flow.children
        body = super(Program, self).eval

        def run() -> None:
            _enter_flow(key, children)
            body(env)

        timer = None
        if timeout:  # registered BEFORE the worker exists: once it sleeps, this thread must be idle

            def on_timeout() -> None:
                if env.is_running():
                    env.set_timed_out()

            timer = clock.call_at(clock.now_us() + int(timeout) * 1_000_000, on_timeout)
        worker = threading.Thread(target=run, daemon=True)
        TMP_THREADS.append(worker)
        worker.start()
        worker.join()  # this thread works under the same token as the worker: it only joins
        if timer is not None:
            timer.cancel()

    patch(Program, "eval", _program_eval, _P + "program.program", "Program.eval")

    # --- Wait ---------------------------------------------------------------------------------------
    def _wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        clock.sleep(wait_seconds, owner=env, is_live=env.is_running, key=_flow.key)

    patch(
        WaitFunction,
        "_wait_interval",
        _wait_interval,
        _P + "state.wait.wait_function.wait_function",
        "WaitFunction._wait_interval",
    )

    # --- Retry back-off -------------------------------------------------------------------------------
    orig_retrier_eval_body = RetrierDecl.__dict__["_eval_body"]

    @functools.wraps(orig_retrier_eval_body)
    def _retrier_eval_body(self: Any, env: Any) -> None:
        previous, _flow.retry_env = _flow.retry_env, env
        try:
            orig_retrier_eval_body(self, env)
        finally:
            _flow.retry_env = previous

    class _RetryTime:
        """Stands in for the ``time`` module inside ``retrier_decl``: ``sleep`` is simulated."""

        def sleep(self, seconds: float) -> None:
            env = _flow.retry_env
            clock.sleep(
                seconds,
                owner=env,
                is_live=env.is_running if env is not None else None,
                key=_flow.key,
            )

        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

    patch(RetrierDecl, "_eval_body", _retrier_eval_body, _P + "common.retry.retrier_decl", "RetrierDecl._eval_body")
    patch(retrier_decl, "time", _RetryTime(), _P + "common.retry.retrier_decl", "time")
    patch(jitter_strategy_decl, "random", rt.rng, _P + "common.retry.jitter_strategy_decl", "random")

    # --- a Task's worker thread: a flow of its own; TimeoutSeconds on the simulated clock -------------
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state

    class _TaskEvent(threading.Event):
        """The Task's termination event: ``wait(timeout)`` parks the state's thread (its token given up)
        until the worker sets it, or until ``timeout`` simulated seconds have passed."""

        timed_out = False

        def wait(self, timeout: float | None = None) -> bool:
            timer = None
            if timeout is not None and not self.is_set():

                def expire() -> None:
                    if not self.is_set():
                        self.timed_out = True
                        self.set()

                timer = clock.call_at(clock.now_us() + round(timeout * 1_000_000), expire)
            clock.park(self)
            if timer is not None:
                timer.cancel()
            return not self.timed_out

    class _TaskThreading:
        """Stands in for ``threading`` inside ``execute_state``: ``Event`` is :class:`_TaskEvent`."""

        Event = _TaskEvent

        def __getattr__(self, name: str) -> Any:
            return getattr(threading, name)

    def _task_thread(target: Callable[[], None], daemon: bool = True) -> threading.Thread:
        return flow_thread(target, _flow.key, None)

    patch(execute_state, "Thread", _task_thread, _P + "state.exec.execute_state", "Thread")
    patch(execute_state, "threading", _TaskThreading(), _P + "state.exec.execute_state", "threading")

    # --- an AWS call made by a handler takes its service's latency ------------------------------------
    import botocore.client

    orig_make_api_call = botocore.client.BaseClient.__dict__["_make_api_call"]

    @functools.wraps(orig_make_api_call)
    def _make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        rt.before_api_call(self.meta.service_model.service_name, operation_name)
        return orig_make_api_call(self, operation_name, api_params)

    patch(botocore.client.BaseClient, "_make_api_call", _make_api_call, "botocore.client", "BaseClient._make_api_call")

    # --- time.sleep inside a handler (its own, or botocore's retry back-off) is simulated time --------------
    real_sleep = time.sleep

    def _sleep(seconds: float) -> None:
        if not rt.handler_sleep(seconds):
            real_sleep(seconds)

    patch(time, "sleep", _sleep, "time", "sleep")

    # --- Parallel -----------------------------------------------------------------------------------
    def _branch_start(self: Any) -> None:
        if self._worker_thread is not None:
            raise RuntimeError(f"Attempted to rerun BranchWorker for program ${self._program}.")
        self._worker_thread = flow_thread(
            self._thread_routine, _child_key(), f"BranchWorker_${self._program}", takes_turn=True
        )
        self._worker_thread.start()

    def _branch_pool_wait(self: Any) -> None:
        clock.park(self._termination_event)

    patch(
        BranchWorker,
        "start",
        _branch_start,
        _P + "state.exec.state_parallel.branch_worker",
        "BranchWorker.start",
    )
    patch(
        BranchWorkerPool,
        "wait",
        _branch_pool_wait,
        _P + "state.exec.state_parallel.branches_decl",
        "BranchWorkerPool.wait",
    )

    # --- Map ----------------------------------------------------------------------------------------
    def _launch_worker(self: Any, env: Any, eval_input: Any, job_pool: Any) -> Any:
        # moto starts MaxConcurrency workers whatever the number of items (40 threads, flows and frames for a
        # Map of one shard); the ones beyond the items would find no job and end. Start only those with a job.
        launched = job_pool.__dict__.get("_surge_workers", 0)
        if launched >= job_pool._jobs_number:
            return None
        job_pool._surge_workers = launched + 1
        worker = self._create_worker(env=env, eval_input=eval_input, job_pool=job_pool)
        flow_thread(worker.eval, _child_key(), None, takes_turn=job_pool._jobs_number > 1).start()
        return worker

    def _await_jobs(self: Any) -> None:
        if not self._is_terminated():
            clock.park(self._termination_event)

    patch(
        InlineIterationComponent,
        "_launch_worker",
        _launch_worker,
        _P + "state.exec.state_map.iteration.inline_iteration_component",
        "InlineIterationComponent._launch_worker",
    )
    patch(JobPool, "await_jobs", _await_jobs, _P + "state.exec.state_map.iteration.job", "JobPool.await_jobs")

    # --- a Lambda Task: moto's Lambda backend, without the boto3 request/response round trip -------------
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    orig_invoke_lambda_function = lambda_eval_utils._invoke_lambda_function

    @functools.wraps(orig_invoke_lambda_function)
    def _invoke_lambda_function(parameters: dict[str, Any], region: str, state_credentials: Any) -> Any:
        direct = _direct_lambda_invoke(parameters, region)
        if direct is None:
            return orig_invoke_lambda_function(parameters, region, state_credentials)
        return direct

    patch(
        lambda_eval_utils,
        "_invoke_lambda_function",
        _invoke_lambda_function,
        _P + "state.exec.state_task.lambda_eval_utils",
        "_invoke_lambda_function",
    )

    # --- state data copied as JSON; a response class's method names read once ----------------------------
    for module_name in JSON_COPY_MODULES:
        patch(importlib.import_module(module_name), "copy", _JsonCopyModule(), module_name, "copy")
    import moto.core.responses

    patch(
        moto.core.responses,
        "method_names_from_class",
        _cached_method_names(moto.core.responses.method_names_from_class),
        "moto.core.responses",
        "method_names_from_class",
    )

    # --- DynamoDB AttributeValues written as they are --------------------------------------------------
    from moto.core.serialize import BaseJSONSerializer

    orig_structure = BaseJSONSerializer.__dict__["_serialize_type_structure"]

    @functools.wraps(orig_structure)
    def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if (
            key
            and shape.name == "AttributeValue"
            and self.operation_model.service_model.service_name in _ATTRIBUTE_VALUE_SERVICES
        ):
            plain = plain_attribute_value(value)
            if plain is not None:
                serialized[self.get_serialized_name(shape, key)] = plain  # as _default_serialize writes it
                return
        orig_structure(self, serialized, value, shape, key)

    patch(
        BaseJSONSerializer,
        "_serialize_type_structure",
        _serialize_type_structure,
        "moto.core.serialize",
        "BaseJSONSerializer._serialize_type_structure",
    )

    # --- a finished env wakes its sleepers ----------------------------------------------------------
    def wake_sleepers_after(orig: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(orig)
        def patched(self: Any, *args: Any, **kwargs: Any) -> None:
            with clock.lock:  # lock order: clock, then env._state_mutex (never the reverse)
                orig(self, *args, **kwargs)
                if not self.is_running():
                    clock.interrupt(self)

        return patched

    for name in ("set_stop", "set_error", "set_timed_out", "set_ended"):
        orig = Environment.__dict__[name]
        patch(
            Environment,
            name,
            wake_sleepers_after(orig),
            "moto.stepfunctions.parser.asl.eval.environment",
            f"Environment.{name}",
        )

    # --- one boto3 client per (region, service) --------------------------------------------------------
    orig_client_for = boto_client.boto_client_for
    cache: dict[tuple[str, str], Any] = {}
    cache_lock = threading.Lock()

    @functools.wraps(orig_client_for)
    def cached_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # 5.2.5 ignores state_credentials (always fake keys), so (region, service) is the whole key.
        with cache_lock:
            client = cache.get((region, service))
            if client is None:
                client = cache[(region, service)] = orig_client_for(region, service, state_credentials)
            return client

    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if name.startswith("moto.stepfunctions.parser") and module.__dict__.get("boto_client_for") is orig_client_for:
            patch(
                module,
                "boto_client_for",
                cached_client_for,
                "moto.stepfunctions.parser.asl.utils.boto_client",
                "boto_client_for",
            )
    undo.append(cache.clear)

    # --- caches: parsed JSONPath per path string, parsed program per definition string -----------------
    for module, seam_module in (
        (json_path, "moto.stepfunctions.parser.asl.utils.json_path"),
        (result_path, _P + "common.path.result_path"),
    ):
        patch(module, "parse", _cached_jsonpath_parse(module.parse), seam_module, "parse")

    def _get_evaluation_entrypoint(self: Any) -> Any:
        return shared_program(self._evaluation_details.state_machine_details.definition)

    patch(
        ExecutionWorker,
        "_get_evaluation_entrypoint",
        _get_evaluation_entrypoint,
        "moto.stepfunctions.parser.backend.execution_worker",
        "ExecutionWorker._get_evaluation_entrypoint",
    )
    import moto.stepfunctions.parser.models as parser_models

    patch(
        parser_models,
        "AmazonStateLanguageParser",
        _ValidatingParser,
        "moto.stepfunctions.parser.models",
        "AmazonStateLanguageParser",
    )

    # --- DynamoDB: moto 5.2.5's base-table Query sorts every item of the table, then keeps the partition's
    # (500 targets x 200 calendar entries: 100,000 items sorted per Query). The same items, from the partition.
    from moto.dynamodb.models.table import Table

    partition = threading.local()
    orig_query = Table.query
    orig_all_items = Table.all_items

    @functools.wraps(orig_query)
    def _query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        partition.key = hash_key if index_name is None and self.range_key_attr else None
        try:
            return orig_query(self, hash_key, *args, **kwargs)
        finally:
            partition.key = None

    @functools.wraps(orig_all_items)
    def _all_items(self: Any) -> Any:
        key = getattr(partition, "key", None)
        if key is None:
            return orig_all_items(self)
        items = list(self.items.get(key, {}).values())
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    patch(Table, "query", _query, "moto.dynamodb.models.table", "Table.query")
    patch(Table, "all_items", _all_items, "moto.dynamodb.models.table", "Table.all_items")

    def uninstall() -> None:
        for step in reversed(undo):
            step()
        undo.clear()
        # moto never prunes its thread list; drop the finished ones.
        TMP_THREADS[:] = [t for t in TMP_THREADS if t.is_alive()]

    return uninstall
