from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Array(_message.Message):
    __slots__ = ("data", "shape", "dtype")
    DATA_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: str
    def __init__(self, data: _Optional[bytes] = ..., shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[str] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class LookupRequest(_message.Message):
    __slots__ = ("request_id", "model_id", "shard", "ids", "lengths", "packed_response")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    LENGTHS_FIELD_NUMBER: _ClassVar[int]
    PACKED_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    model_id: str
    shard: int
    ids: Array
    lengths: Array
    packed_response: bool
    def __init__(self, request_id: _Optional[int] = ..., model_id: _Optional[str] = ..., shard: _Optional[int] = ..., ids: _Optional[_Union[Array, _Mapping]] = ..., lengths: _Optional[_Union[Array, _Mapping]] = ..., packed_response: _Optional[bool] = ...) -> None: ...

class LookupResponse(_message.Message):
    __slots__ = ("request_id", "shard", "match_len", "counts", "prob", "backoff", "status", "packed", "extent")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    MATCH_LEN_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    PROB_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    EXTENT_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    shard: int
    match_len: Array
    counts: Array
    prob: Array
    backoff: Array
    status: Status
    packed: bool
    extent: Array
    def __init__(self, request_id: _Optional[int] = ..., shard: _Optional[int] = ..., match_len: _Optional[_Union[Array, _Mapping]] = ..., counts: _Optional[_Union[Array, _Mapping]] = ..., prob: _Optional[_Union[Array, _Mapping]] = ..., backoff: _Optional[_Union[Array, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., packed: _Optional[bool] = ..., extent: _Optional[_Union[Array, _Mapping]] = ...) -> None: ...

class InfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InfoResponse(_message.Message):
    __slots__ = ("model_id", "order", "num_shards", "shard_seed", "value_kind", "shards", "vocab_size", "max_batch", "max_message_bytes", "inflight", "draining", "server_version", "layout", "table_bytes")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    NUM_SHARDS_FIELD_NUMBER: _ClassVar[int]
    SHARD_SEED_FIELD_NUMBER: _ClassVar[int]
    VALUE_KIND_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    VOCAB_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    INFLIGHT_FIELD_NUMBER: _ClassVar[int]
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    TABLE_BYTES_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    order: int
    num_shards: int
    shard_seed: int
    value_kind: str
    shards: _containers.RepeatedScalarFieldContainer[int]
    vocab_size: int
    max_batch: int
    max_message_bytes: int
    inflight: int
    draining: bool
    server_version: str
    layout: str
    table_bytes: int
    def __init__(self, model_id: _Optional[str] = ..., order: _Optional[int] = ..., num_shards: _Optional[int] = ..., shard_seed: _Optional[int] = ..., value_kind: _Optional[str] = ..., shards: _Optional[_Iterable[int]] = ..., vocab_size: _Optional[int] = ..., max_batch: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., inflight: _Optional[int] = ..., draining: _Optional[bool] = ..., server_version: _Optional[str] = ..., layout: _Optional[str] = ..., table_bytes: _Optional[int] = ...) -> None: ...

class AdminLoadModelRequest(_message.Message):
    __slots__ = ("model_dir", "verify")
    MODEL_DIR_FIELD_NUMBER: _ClassVar[int]
    VERIFY_FIELD_NUMBER: _ClassVar[int]
    model_dir: str
    verify: bool
    def __init__(self, model_dir: _Optional[str] = ..., verify: _Optional[bool] = ...) -> None: ...

class AdminModel(_message.Message):
    __slots__ = ("model_id", "path", "shards", "inflight", "retiring")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    INFLIGHT_FIELD_NUMBER: _ClassVar[int]
    RETIRING_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    path: str
    shards: _containers.RepeatedScalarFieldContainer[int]
    inflight: int
    retiring: bool
    def __init__(self, model_id: _Optional[str] = ..., path: _Optional[str] = ..., shards: _Optional[_Iterable[int]] = ..., inflight: _Optional[int] = ..., retiring: _Optional[bool] = ...) -> None: ...

class AdminLoadModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: AdminModel
    def __init__(self, model: _Optional[_Union[AdminModel, _Mapping]] = ...) -> None: ...

class AdminUnloadModelRequest(_message.Message):
    __slots__ = ("model_id", "timeout_s")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    timeout_s: float
    def __init__(self, model_id: _Optional[str] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class AdminUnloadModelResponse(_message.Message):
    __slots__ = ("unloaded",)
    UNLOADED_FIELD_NUMBER: _ClassVar[int]
    unloaded: bool
    def __init__(self, unloaded: _Optional[bool] = ...) -> None: ...

class AdminListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AdminListModelsResponse(_message.Message):
    __slots__ = ("models", "default_model_id")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[AdminModel]
    default_model_id: str
    def __init__(self, models: _Optional[_Iterable[_Union[AdminModel, _Mapping]]] = ..., default_model_id: _Optional[str] = ...) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("request_id", "model_id", "shard", "context_ids", "context_lengths", "k", "prefix", "has_min_score", "min_score", "include_special")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_IDS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_LENGTHS_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    HAS_MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_SPECIAL_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    model_id: str
    shard: int
    context_ids: Array
    context_lengths: Array
    k: int
    prefix: bytes
    has_min_score: bool
    min_score: float
    include_special: bool
    def __init__(self, request_id: _Optional[int] = ..., model_id: _Optional[str] = ..., shard: _Optional[int] = ..., context_ids: _Optional[_Union[Array, _Mapping]] = ..., context_lengths: _Optional[_Union[Array, _Mapping]] = ..., k: _Optional[int] = ..., prefix: _Optional[bytes] = ..., has_min_score: _Optional[bool] = ..., min_score: _Optional[float] = ..., include_special: _Optional[bool] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("request_id", "shard", "words", "scores")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    shard: int
    words: Array
    scores: Array
    def __init__(self, request_id: _Optional[int] = ..., shard: _Optional[int] = ..., words: _Optional[_Union[Array, _Mapping]] = ..., scores: _Optional[_Union[Array, _Mapping]] = ...) -> None: ...

class SpellRequest(_message.Message):
    __slots__ = ("texts", "has_max_alternatives", "max_alternatives")
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    HAS_MAX_ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    MAX_ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    has_max_alternatives: bool
    max_alternatives: int
    def __init__(self, texts: _Optional[_Iterable[str]] = ..., has_max_alternatives: _Optional[bool] = ..., max_alternatives: _Optional[int] = ...) -> None: ...

class SpellAlternative(_message.Message):
    __slots__ = ("text", "confidence")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    text: str
    confidence: float
    def __init__(self, text: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class SpellChange(_message.Message):
    __slots__ = ("start", "end", "original", "replacement", "confidence", "alternatives")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_FIELD_NUMBER: _ClassVar[int]
    REPLACEMENT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    original: str
    replacement: str
    confidence: float
    alternatives: _containers.RepeatedCompositeFieldContainer[SpellAlternative]
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ..., original: _Optional[str] = ..., replacement: _Optional[str] = ..., confidence: _Optional[float] = ..., alternatives: _Optional[_Iterable[_Union[SpellAlternative, _Mapping]]] = ...) -> None: ...

class SpellCorrection(_message.Message):
    __slots__ = ("text", "corrected", "changes")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    text: str
    corrected: str
    changes: _containers.RepeatedCompositeFieldContainer[SpellChange]
    def __init__(self, text: _Optional[str] = ..., corrected: _Optional[str] = ..., changes: _Optional[_Iterable[_Union[SpellChange, _Mapping]]] = ...) -> None: ...

class SpellResponse(_message.Message):
    __slots__ = ("corrections", "model_id")
    CORRECTIONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    corrections: _containers.RepeatedCompositeFieldContainer[SpellCorrection]
    model_id: str
    def __init__(self, corrections: _Optional[_Iterable[_Union[SpellCorrection, _Mapping]]] = ..., model_id: _Optional[str] = ...) -> None: ...
