"""Input checking (marshmallow): configuration, create, get and list queries; the response's time format."""
from __future__ import annotations

import copy
import re
from datetime import timezone

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

SEGMENT_TYPES = ("Title", "SectionHeader", "Text", "ListItem", "Table", "Picture", "Caption",
                 "Formula", "Footnote", "PageHeader", "PageFooter", "Page")
TOKENIZERS = ("Word", "Cl100kBase", "XlmRobertaBase", "BertBaseUncased")
STATUSES = ("Starting", "Processing", "Succeeded", "Failed", "Cancelled")
# The longest duration any setting or `expires_in` may take: a century. Longer would overflow
# the dates computed from it, and means "never" anyway.
MAX_SECONDS = 100 * 366 * 24 * 3600
MAX_FILE_NAME = 1000  # characters of a file name, however it is given (JSON field, multipart part, URL)
MAX_EXPIRES_IN = MAX_SECONDS


def _segment_key_aliases() -> dict[str, str]:
    """Accepted spellings of each segment type key: `ListItem`, `list_item`, `listitem`."""
    aliases = {}
    for name in SEGMENT_TYPES:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        for alias in (name, snake, name.lower()):
            aliases[alias] = name
    return aliases


SEGMENT_KEYS = _segment_key_aliases()


def default_generation(segment_type: str) -> dict:
    """The default segment_processing entry of one segment type (as upstream)."""
    entry = {"format": "Markdown", "strategy": "Auto", "crop_image": "Auto",
             "extended_context": False, "description": False, "embed_sources": ["Markdown"]}
    if segment_type == "Table":
        entry.update(format="Html", strategy="LLM")
    elif segment_type in ("Formula", "Page"):
        entry.update(strategy="LLM")
    elif segment_type == "Picture":
        entry.update(strategy="LLM", crop_image="All")
    return entry


def default_configuration(default_expires_in: int | None) -> dict:
    """Every configuration field with its default (SPEC.md §8)."""
    return {
        "chunk_processing": {"target_length": 4096, "tokenizer": {"Enum": "Cl100kBase"},
                             "ignore_headers_and_footers": True},
        "expires_in": default_expires_in,
        "high_resolution": True,
        "ocr_strategy": "All",
        "segmentation_strategy": "LayoutAnalysis",
        "segment_processing": {name: default_generation(name) for name in SEGMENT_TYPES},
        "error_handling": "Fail",
        "llm_processing": {"model_id": None, "fallback_strategy": "Default",
                           "max_completion_tokens": None, "temperature": 0.0},
        "pipeline": None,
    }


def merge_configuration(stored: dict, given: dict) -> dict:
    """The stored configuration with the given fields laid over it (objects merge by key)."""
    merged = copy.deepcopy(stored)
    for key, value in given.items():
        if key in ("chunk_processing", "llm_processing") and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        elif key == "segment_processing":
            for segment_type, entry in value.items():
                merged[key][segment_type] = {**merged[key].get(segment_type, {}), **entry}
        else:
            merged[key] = value
    return merged


def no_nul(value: str) -> None:
    """Text must not hold NUL characters (PostgreSQL cannot store them)."""
    if "\x00" in value:
        raise ValidationError("Must not contain NUL characters.")


class UtcQueryDateTime(fields.AwareDateTime):
    """An RFC 3339 datetime with an offset, converted to UTC."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = value.upper()  # RFC 3339 allows `t` and `z`; the ISO parser wants `T` and `Z`
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(timezone.utc)
        except OverflowError:
            raise ValidationError("Not a valid datetime (out of range).") from None


class StrictBoolean(fields.Boolean):
    """A JSON boolean, nothing truthy."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean (expected true or false).")
        return value


class StrictInteger(fields.Integer):
    """A JSON integer, not a boolean, float or string."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Not a valid integer.")
        return value


class StrictFloat(fields.Float):
    """A finite JSON number (an integer or a float), not a boolean or a string."""

    def __init__(self, **kwargs):
        super().__init__(allow_nan=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("Not a valid number.")
        return super()._deserialize(value, attr, data, **kwargs)


def _choice(*choices: str, **kwargs) -> fields.String:
    return fields.String(validate=validate.OneOf(choices), **kwargs)


class TokenizerField(fields.Field):
    """`{"Enum": name}`, `{"String": name}` or a bare name; echoed in the `{"Enum": ...}` form."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = {"Enum": value}
        if not isinstance(value, dict) or len(value) != 1:
            raise ValidationError('Expected {"Enum": "Word"|"Cl100kBase"|...} or a tokenizer name.')
        (kind, name), = value.items()
        if kind == "Enum" and name in TOKENIZERS or kind == "String" and isinstance(name, str) and name:
            return {kind: name}
        raise ValidationError(f"Must be one of: {', '.join(TOKENIZERS)}.")


class FallbackStrategyField(fields.Field):
    """`"None"`, `"Default"` or `{"Model": id}`."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value in ("None", "Default"):
            return value
        if isinstance(value, dict) and set(value) == {"Model"} and isinstance(value["Model"], str):
            return value
        raise ValidationError('Expected "None", "Default" or {"Model": "<model id>"}.')


class BaseSchema(Schema):
    """Unknown fields are ignored, as upstream does."""

    class Meta:
        unknown = EXCLUDE


class ChunkProcessingSchema(BaseSchema):
    target_length = StrictInteger(validate=validate.Range(min=1, max=1_000_000))
    tokenizer = TokenizerField()
    ignore_headers_and_footers = StrictBoolean()


class GenerationConfigSchema(BaseSchema):
    format = _choice("Html", "Markdown")
    strategy = _choice("LLM", "Auto", "Ignore")
    crop_image = _choice("All", "Auto")
    extended_context = StrictBoolean()
    description = StrictBoolean()
    embed_sources = fields.List(_choice("Content", "HTML", "Markdown", "LLM"))
    html = _choice("LLM", "Auto", "Ignore", allow_none=True)
    markdown = _choice("LLM", "Auto", "Ignore", allow_none=True)
    llm = fields.String(allow_none=True)


class SegmentProcessingField(fields.Dict):
    """A map segment type → generation config; keys in PascalCase or snake_case."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(), values=fields.Nested(GenerationConfigSchema, allow_none=True),
                         **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError("Not a valid mapping of segment type to settings.")
        known = {SEGMENT_KEYS[key]: entry for key, entry in value.items() if key in SEGMENT_KEYS}
        loaded = super()._deserialize(known, attr, data, **kwargs)
        return {key: entry for key, entry in loaded.items() if entry is not None}


class LlmProcessingSchema(BaseSchema):
    model_id = fields.String(allow_none=True)
    fallback_strategy = FallbackStrategyField()
    max_completion_tokens = StrictInteger(allow_none=True, validate=validate.Range(min=1, max=10_000_000))
    temperature = StrictFloat()


class ConfigurationSchema(BaseSchema):
    """The configuration fields of create and update (SPEC.md §8); absent fields stay absent."""

    chunk_processing = fields.Nested(ChunkProcessingSchema)
    expires_in = StrictInteger(allow_none=True, validate=validate.Range(min=0, max=MAX_EXPIRES_IN))
    high_resolution = StrictBoolean()
    ocr_strategy = _choice("All", "Auto", "Off")
    segmentation_strategy = _choice("LayoutAnalysis", "Page")
    segment_processing = SegmentProcessingField()
    error_handling = _choice("Fail", "Continue")
    llm_processing = fields.Nested(LlmProcessingSchema)
    pipeline = _choice("Chunkr", "Azure", allow_none=True)

    @pre_load
    def drop_nulls(self, data, **kwargs):
        """A null object-valued field means "not given"; `expires_in: null` and `pipeline: null` mean null."""
        if not isinstance(data, dict):
            raise ValidationError("Expected a JSON object.", field_name="_schema")
        keep_null = ("expires_in", "pipeline")
        return {key: value for key, value in data.items() if value is not None or key in keep_null}

    @post_load
    def normalise(self, data, **kwargs):
        if data.get("ocr_strategy") == "Off":
            data["ocr_strategy"] = "Auto"
        return data


MAX_WEBHOOK_URL = 2000  # characters of a webhook URL


class WebhookUrl(fields.String):
    """An http(s) URL that task events are sent to (its address is checked when it is given and
    again at every delivery: webhooks/endpoints.py)."""

    def __init__(self, **kwargs):
        super().__init__(validate=[validate.Length(max=MAX_WEBHOOK_URL), no_nul,
                                   validate.URL(schemes={"http", "https"}, require_tld=False)], **kwargs)


class CreateTaskSchema(ConfigurationSchema):
    """The body of create: a document plus configuration."""

    file = fields.String(required=True, validate=validate.Length(min=1))
    file_name = fields.String(allow_none=True, validate=[validate.Length(max=MAX_FILE_NAME), no_nul])
    # Create only (not part of the configuration): where this task's status changes are sent.
    webhook_url = WebhookUrl(allow_none=True)


class UploadSchema(ConfigurationSchema):
    """The config parts of a multipart create: the configuration and the task's `webhook_url`."""

    webhook_url = WebhookUrl(allow_none=True)


# The list route answers at most this many tasks, and this many when no `limit` is given (SPEC.md
# §2): one request cannot answer every task an owner has, with every chunk and page image.
DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000


class ListQuerySchema(BaseSchema):
    """The query string of the list route."""

    page = fields.Integer(validate=validate.Range(min=1, max=1_000_000_000))
    limit = fields.Integer(validate=validate.Range(min=0, max=MAX_LIST_LIMIT))
    start = UtcQueryDateTime(format="iso")
    end = UtcQueryDateTime(format="iso")
    include_chunks = fields.Boolean(load_default=False)
    base64_urls = fields.Boolean(load_default=False)
    status = fields.String()

    @post_load
    def split_statuses(self, data, **kwargs):
        if "status" in data:
            statuses = [part.strip() for part in data["status"].split(",") if part.strip()]
            bad = [status for status in statuses if status not in STATUSES]
            if bad:
                raise ValidationError(f"Unknown status {bad[0]!r}; expected any of {', '.join(STATUSES)}.",
                                      field_name="status")
            data["status"] = statuses
        if "page" in data and "limit" not in data:
            raise ValidationError("Limit is required when page is provided")
        data.setdefault("limit", DEFAULT_LIST_LIMIT)
        return data


class GetQuerySchema(BaseSchema):
    """The query string of the get route."""

    include_chunks = fields.Boolean(load_default=True)
    base64_urls = fields.Boolean(load_default=False)


def describe_errors(messages, path: str = "") -> list[str]:
    """Flatten marshmallow's error dict into `field.sub: message` lines."""
    if isinstance(messages, dict):
        lines = []
        for key, value in messages.items():
            # "_schema" is the object itself; "value" is marshmallow's level for a Dict entry.
            name = path if key in ("_schema", "value") else f"{path}.{key}" if path else str(key)
            lines.extend(describe_errors(value, name))
        return lines
    if isinstance(messages, list) and all(isinstance(item, str) for item in messages):
        return [f"{path}: {' '.join(messages)}" if path else " ".join(messages)]
    if isinstance(messages, list):
        return [line for item in messages for line in describe_errors(item, path)]
    return [f"{path}: {messages}" if path else str(messages)]


def utc_timestamp(value):
    """A response's time: RFC 3339 in UTC with microseconds and a `Z` (SPEC.md §7), or None."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
